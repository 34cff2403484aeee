"""Evaluate: datasets, batch runs over them and scorers for their outputs (no NiceGUI here)."""
