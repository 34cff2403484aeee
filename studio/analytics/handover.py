"""The web app takes the analytics database from a command that holds it.

DuckDB lets one process hold `analytics.duckdb`. A long command started before the web app (a
batch, an experiment) used to hold it to its end, and the web app could show no analytics
until then: its reads, and `iom analytics` through it, were refused. So a web app that finds
the database held leaves a request: a file in the spool folder that it keeps locked while it
waits. The holder's writer sees it at its next round, writes what it has queued, lets the
database go and spools from then on, as any process beside the web app does; the web app's
writer takes the database at its next try and withdraws the request. A request whose process
is gone is none: its lock went with it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from studio.analytics.spool import spool_dir, writer_gone

FILE = "handover-request"  # not a segment: segments end in .jsonl


def requested(home: Path) -> bool:
    """Whether a live process asks for the database. What a holder pays each round: one stat."""
    path = spool_dir(home) / FILE
    return path.exists() and not writer_gone(path)


class Request:
    """This process's request, held from `make` until `withdraw`."""

    def __init__(self, home: Path):
        self.path = spool_dir(home) / FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def make(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process asks already: the holder lets go for it
            os.close(fd)
            return
        self._fd = fd

    def withdraw(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while locked: no other process's request is removed
        finally:
            os.close(self._fd)
            self._fd = None
