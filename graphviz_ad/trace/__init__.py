"""trace layer of graphviz_ad."""
