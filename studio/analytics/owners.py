"""One writer per analytics database in a process, as across processes.

DuckDB locks a database file against other processes, but a second `duckdb.connect` to the same
file in the same process shares the first one's database instead of failing. Two stores on one
data dir in one process (a Studio built by a caller before the server built its own) then both
took the file, both read every spool segment, and wrote the same records twice: duplicate calls,
and runs whose replacement collided ("Conflict on tuple deletion"). A store claims its file
here before it connects; a second store is told the database is busy, spools like another
process would, and takes the file once the first lets it go."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_lock = threading.Lock()
_owners: dict[str, object] = {}  # real path of the database file -> the store that holds it


def _key(path: Path) -> str:
    return os.path.realpath(path)


def claim(path: Path, store: object) -> bool:
    """Take `path` for `store`; False when another store of this process holds it."""
    with _lock:
        holder = _owners.setdefault(_key(path), store)
        return holder is store


def release(path: Path, store: object) -> None:
    """Let `path` go, if `store` holds it."""
    key = _key(path)
    with _lock:
        if _owners.get(key) is store:
            del _owners[key]
