"""Where the studio keeps its data: IOM_HOME, else the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import platformdirs

T = TypeVar("T")


def home_dir() -> Path:
    """The data dir's path (IOM_HOME, else the platform's), read each time so tests can point it elsewhere."""
    env = os.environ.get("IOM_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("iom-studio", appauthor=False))


def data_home() -> Path:
    """The data dir, created on first use."""
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return home


def read_each(root: Path, pattern: str, read: Callable[[Path], T], errors: tuple[type[Exception], ...]) -> list[T]:
    """What `read` makes of each file under `root` that matches `pattern`, in name order; a file
    it fails on with one of `errors` (edited by hand, half written) is left out, and a `root`
    not made yet has none."""
    found = []
    for path in sorted(root.glob(pattern)) if root.is_dir() else []:
        try:
            found.append(read(path))
        except errors:
            continue
    return found
