"""The NiceGUI face of the studio. Pages receive the one Studio object; they never call providers."""
