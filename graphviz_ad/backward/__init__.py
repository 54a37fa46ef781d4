"""backward layer of graphviz_ad."""
