"""Atomic file writes: a crash mid-write leaves the previous file whole.

Write to a temporary file in the same directory, fsync it, then rename over the target
(rename is atomic on POSIX and Windows within one filesystem), then fsync the directory so
the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

from studio.errors import UserError, disk_fault


class NotSaved(UserError, OSError):
    """A file the disk would not take (full, read-only, not writable): one sentence naming it.
    Still an OSError, for the callers that carry on without the file (caches)."""


def append_whole(fd: int, data: bytes, size: int) -> None:
    """Append `data` to the file open at `fd` (O_APPEND), `size` bytes long before it, or leave
    it as it was: a part the disk took before it refused the rest is cut off again, so the
    file's next line does not run into it."""
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked (signals, huge lines)
            view = view[os.write(fd, view):]
    except OSError:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass  # its reader skips the spoilt line
        raise


def where_to_write(path: Path) -> tuple[Path, bool]:
    """(the file to replace, whether to write straight into it instead). A symlink's target is
    replaced, so the link stays a link; a device, pipe or socket (`-o /dev/null`, `-o
    /dev/stdout`) is written straight into: a new file renamed over it replaced it (as root,
    /dev/null itself became a regular file)."""
    path = Path(path)
    mode = _mode(path, os.lstat)  # one call for the usual case, a file or nothing yet
    if mode is not None and stat.S_ISLNK(mode):
        path = path.resolve()
        mode = _mode(path, os.stat)
    return path, mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _mode(path: Path, stat_call) -> int | None:
    """The path's mode, None when nothing is there (yet)."""
    try:
        return stat_call(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise _not_saved(path, e) from None


def write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """`durable=False` keeps the atomic rename but skips the fsyncs: for caches, which a power
    cut may lose (the previous or the new file stays whole) and which are written on hot paths."""
    path, straight = where_to_write(path)
    if straight:
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as e:
            raise _not_saved(path, e) from None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _not_saved(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise _not_saved(path, e) from None
        raise
    if durable:
        fsync_path(path.parent)


def _not_saved(path: Path, e: OSError) -> NotSaved:
    fault = disk_fault(e)
    err = NotSaved(f"could not save {path} ({fault}): free space on that disk, or make the folder "
                   "writable, and try again; the file as it was before is unchanged.")
    err.path, err.fault = path, fault  # for callers that word it their own way
    return err


def write_text(path: Path, text: str, *, durable: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), durable=durable)


def dumps_stable(data: Any) -> str:
    """JSON that diffs well in git: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    write_text(path, dumps_stable(data), durable=durable)


def fsync_path(path: Path) -> None:
    """Push a file (or a folder's entries: a rename in it) to the disk; a no-op off POSIX, where
    a folder cannot be opened so."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_locked(path: Path) -> Iterator[None]:
    """An exclusive `flock` on `path` (a lock file beside the file it guards, made if missing),
    shared by every process on the data dir: a read-modify-write of that file under it is one
    step, so two processes saving at once do not lose each other's change. A no-op off POSIX."""
    if os.name != "posix":
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # (closing frees the lock)
