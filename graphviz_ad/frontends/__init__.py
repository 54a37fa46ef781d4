"""frontends layer of graphviz_ad."""
