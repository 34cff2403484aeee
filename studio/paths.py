"""Where the studio keeps its data: IOM_HOME, else the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_home() -> Path:
    """The data dir, created on first use. Read each time so tests can point it elsewhere."""
    env = os.environ.get("IOM_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("iom-studio", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home
