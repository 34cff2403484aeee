"""Where the studio keeps its data: IOM_HOME, else the platform's user data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import platformdirs

T = TypeVar("T")


def home_dir() -> Path:
    """The data dir's path (IOM_HOME, else the platform's), read each time so tests can point it elsewhere."""
    env = os.environ.get("IOM_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("iom-studio", appauthor=False))


_private: set[Path] = set()


def data_home() -> Path:
    """The data dir, created on first use, readable by this user only: it holds the audit trail
    (every call's input and output) and the cached outputs, which DuckDB and SQLite create
    readable by all. A dir of ours that others can read (made before this rule) is closed once
    per process."""
    home = home_dir()
    if home in _private:
        return home
    try:
        home.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        info = home.stat()
        if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o077 and info.st_uid == getattr(os, "getuid", lambda: -1)():
            home.chmod(0o700)
    _private.add(home)
    return home


def left_out(root: Path, pattern: str, listed: Iterable[str], name: Callable[[Path], str]) -> list[str]:
    """The names (`name(path)`) of the files under `root` matching `pattern` that a listing made
    with `read_each` left out because they could not be read; `listed` is what it did read."""
    seen = set(listed)
    return [name(p) for p in sorted(root.glob(pattern)) if name(p) not in seen] if root.is_dir() else []


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


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where a folder on `path` goes (IOM_HOME/cache, say), if one does: the
    OS then says "Not a directory" of `path` itself, which names the wrong thing."""
    return next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
