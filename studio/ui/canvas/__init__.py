"""The pipeline canvas: the Vue Flow element (element.py), the editing session behind it
(session.py), typed ports and connection checks (ports.py), auto-layout (layout.py), the
editor page body (editor.py) and the run panel (run_panel.py)."""
