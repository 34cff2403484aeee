"""The durable hand-off of records between processes.

DuckDB lets one process hold `analytics.duckdb` at a time, but the web app, the CLI beside it,
the gateway and batch workers all make calls. So every process appends each record, as one
redacted JSON line, to a segment file of its own under `IOM_HOME/spool/` before it reports the
call or run as done: a write to the file survives the process being killed the next instant.
Whoever holds the database (the owner: the web app, or a CLI command when no web app runs)
moves new lines into DuckDB and records, in the same transaction, how far it has read each
segment (`spool_progress`), so every line is stored exactly once, even across crashes.

A segment's writer holds an exclusive `flock` on it while it lives; a segment that nobody holds
and that has been read to its end is deleted by the owner.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from studio.atomic import NotSaved, append_whole
from studio.errors import disk_fault

SPOOL_DIR = "spool"
SUFFIX = ".jsonl"
READ_CHUNK = 8 << 20  # bytes of one segment read per flush, so one huge backlog cannot stall a flush


class NotRecorded(NotSaved):
    """A record that could not be written to the spool (a full disk, a folder not writable):
    what it records is not reported as done, and the segment keeps no part of it."""


def spool_dir(home: Path) -> Path:
    return Path(home) / SPOOL_DIR


class SpoolSegment:
    """This process's segment: append-only, opened on first write, locked while we live."""

    def __init__(self, home: Path):
        self.dir = spool_dir(home)
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        self.path = self.dir / self.name
        self.size = 0
        self._fd: int | None = None

    @property
    def opened(self) -> bool:
        return self._fd is not None

    def append(self, line: bytes, what: str = "record") -> int:
        """Write one line (ending in a newline) and return the segment's size after it.
        The caller serialises appends (the store's lock). A line the disk does not take whole is
        cut off again (append_whole)."""
        try:
            if self._fd is None:
                self._open()
            append_whole(self._fd, line, self.size)
        except OSError as e:
            raise NotRecorded(f"could not keep the {what}'s record in {self.dir} ({disk_fault(e)}): free space on that "
                              "disk, or make the folder writable, and try again.") from None
        self.size += len(line)
        return self.size

    def sync(self) -> None:
        """Push written lines to the disk (a crash of the OS, not only of the process)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self, *, delete: bool = False) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            if delete:  # only when every line is known to be in the database
                self.path.unlink(missing_ok=True)
            os.close(fd)  # closing releases the lock

    def _open(self) -> None:
        """Open the segment locked. A new one is made and locked under a name no reader lists,
        then renamed: created under its own name, it was for a moment an empty file with no
        lock, which the web app's writer took for one whose writer had gone, and deleted; this
        process then wrote every record of its command into the deleted file."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # ours, opened again
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            making = self.path.with_name(f".{self.path.name}.new")  # not a segment's name (segments())
            fd = os.open(making, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh name: nobody else holds it
                os.rename(making, self.path)
            except BaseException:
                os.close(fd)
                making.unlink(missing_ok=True)
                raise
        self._fd = fd


@dataclass
class Backlog:
    """New complete lines of one segment, the offset just past them, and whether the read
    reached what the segment held then (False: the read's chunk cut it short, more is waiting)."""

    name: str
    lines: list[bytes]
    end: int
    at_end: bool = True


def segments(home: Path) -> list[Path]:
    try:
        return sorted(p for p in spool_dir(home).iterdir() if p.name.endswith(SUFFIX))
    except FileNotFoundError:
        return []


def read_from(path: Path, offset: int, until: int | None = None, chunk: int = READ_CHUNK) -> Backlog:
    """The complete lines after `offset` (and before `until`); a line still being written is
    left for next time, and so is whatever lies past `chunk` bytes, unless the first line alone
    is longer (a call with an image in it): that one is read whole, or it would stop the segment
    there for good."""
    end = None if until is None else until - offset
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            chunks, read, at_end = [], 0, True
            while not chunks or (chunks[-1] and b"\n" not in chunks[-1] and (end is None or read < end)):
                wanted = chunk if end is None else min(chunk, end - read)
                chunks.append(f.read(wanted))
                read += len(chunks[-1])
                at_end = len(chunks[-1]) < wanted or (end is not None and read >= end)
    except FileNotFoundError:
        return Backlog(path.name, [], offset)
    data = b"".join(chunks) if len(chunks) > 1 else chunks[0]
    cut = data.rfind(b"\n") + 1
    lines = data[:cut].splitlines()
    return Backlog(path.name, [line for line in lines if line.strip()], offset + cut, at_end)


def runs_left_running(path: Path) -> set[str]:
    """The runs a segment recorded as started and never as ended: its writer was killed, crashed,
    or could not write the end. Read once, when the segment is collected (its writer gone)."""
    from studio.analytics.lines import RUN_PREFIX, run_state

    running: set[str] = set()
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(RUN_PREFIX) and line.endswith(b"\n"):
                    try:
                        run_id, status = run_state(line)
                    except Exception:  # an unreadable line: the writer skipped it too
                        continue
                    if status == "running":
                        running.add(run_id)
                    else:
                        running.discard(run_id)
    except FileNotFoundError:
        pass
    return running


def writer_gone(path: Path) -> bool:
    """True when no process holds the segment open for writing any more."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also drops our shared lock
    return True
