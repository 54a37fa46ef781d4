"""render layer of graphviz_ad."""
