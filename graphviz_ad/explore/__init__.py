"""The interactive explorer: one offline page that lays out only the modules that are open."""
