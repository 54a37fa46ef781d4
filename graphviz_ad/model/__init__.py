"""graph layer of graphviz_ad."""
