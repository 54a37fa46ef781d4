"""Checks of autograd's numbers by other means: central finite differences, forward-mode tangents."""
