"""Atomic file writes: a crash mid-write leaves the previous file whole.

Write to a temporary file in the same directory, fsync it, then rename over the target
(rename is atomic on POSIX and Windows within one filesystem), then fsync the directory so
the rename itself survives a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """`durable=False` keeps the atomic rename but skips the fsyncs: for caches, which a power
    cut may lose (the previous or the new file stays whole) and which are written on hot paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_dir(path.parent)


def write_text(path: Path, text: str, *, durable: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), durable=durable)


def dumps_stable(data: Any) -> str:
    """JSON that diffs well in git: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    write_text(path, dumps_stable(data), durable=durable)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
