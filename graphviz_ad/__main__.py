"""``python -m graphviz_ad``: the command line."""

from .frontends.cli import main

if __name__ == "__main__":
    main()
