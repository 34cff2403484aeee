"""The batches as their files say, for `iom batch list` and for a page that follows them.

A batch writes its rows to `batches/<id>/rows.jsonl` as they finish, from whichever process
runs it: `iom batch run`, an experiment, the web app. The web app's page looks again every few
seconds; each batch's rows file is read on from where the last look stopped, so following a
100,000-row batch costs its new lines, not all of them each time.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.eval.batch import PLAN_ERRORS, BatchLock, BatchPlan, Tally, batches_root, read_plan_file

RUNNING, FINISHED, STOPPED = "running", "finished", "stopped"


@dataclass
class _Followed:
    plan: BatchPlan
    plan_stamp: tuple[int, int]  # batch.json's (mtime_ns, size): a new run rewrites it
    rows_inode: int | None = None
    offset: int = 0  # how far rows.jsonl has been read: always just after a newline
    tally: Tally = field(default_factory=Tally)
    seen: set[int] = field(default_factory=set)  # row indexes counted already
    figures: dict[str, Any] | None = None  # the tally's result until a row comes (its percentiles sort)

    def restart(self, rows_inode: int) -> None:
        """Count a rows file from its start: a new one (the batch deleted and run again)."""
        self.rows_inode, self.offset, self.tally, self.seen, self.figures = rows_inode, 0, Tally(), set(), None

    def take(self, line: bytes) -> None:
        try:
            row = json.loads(line)
        except ValueError:
            return
        if not isinstance(row, dict) or not isinstance(row.get("status"), str):
            return
        index = row.get("index")
        if isinstance(index, int) and 0 <= index < self.plan.rows and index not in self.seen:
            self.seen.add(index)
            self.tally.add(row)
            self.figures = None


_shared: dict[Path, "BatchWatch"] = {}


def shared_watch(home: Path) -> "BatchWatch":
    """One watch per studio home for the web app's pages: a batch's rows are read once, whichever
    tab looks (a first look at a home of large batches reads every line of them)."""
    home = Path(home)
    if home not in _shared:
        _shared[home] = BatchWatch(home)
    return _shared[home]


def list_batches(home: Path) -> list[dict[str, Any]]:
    """Every batch's plan, aggregates and state (running, finished, stopped), oldest first."""
    return BatchWatch(home).summaries()


class BatchWatch:
    """Each batch's plan, aggregates and state (running, finished, or stopped part way: running
    it again resumes it), kept up to date by reading only what was appended since the last look."""

    def __init__(self, home: Path):
        self.home = home
        self._followed: dict[str, _Followed] = {}
        self._lock = threading.Lock()  # pages look from worker threads, each tab every few seconds

    def summaries(self) -> list[dict[str, Any]]:
        """Every batch that reads, oldest first; a folder whose plan does not read is left out."""
        with self._lock:
            return self._summaries()

    def _summaries(self) -> list[dict[str, Any]]:
        root = batches_root(self.home)
        out, present = [], set()
        for meta in sorted(root.glob("*/batch.json")) if root.is_dir() else []:
            followed = self._follow(meta)
            if followed is None:
                continue
            present.add(meta.parent.name)
            plan, tally = followed.plan, followed.tally
            if followed.figures is None:
                followed.figures = tally.result(plan)
            out.append({**plan.to_json(), **followed.figures, "state": batch_state(meta.parent, plan, tally.done)})
        for gone in set(self._followed) - present:
            del self._followed[gone]
        return sorted(out, key=lambda b: b["created"])

    def _follow(self, meta: Path) -> _Followed | None:
        name = meta.parent.name
        try:
            st = meta.stat()
            followed = self._followed.get(name)
            if followed is None or followed.plan_stamp != (st.st_mtime_ns, st.st_size):
                followed = self._followed[name] = _Followed(read_plan_file(meta), (st.st_mtime_ns, st.st_size))
            self._read_new_rows(followed, meta.parent / "rows.jsonl")
        except PLAN_ERRORS:  # not a plan the studio wrote
            self._followed.pop(name, None)
            return None
        return followed

    @staticmethod
    def _read_new_rows(followed: _Followed, path: Path) -> None:
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return
        with f:
            st = os.fstat(f.fileno())
            if st.st_ino != followed.rows_inode or st.st_size < followed.offset:
                followed.restart(st.st_ino)
            f.seek(followed.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time, whole
        for line in data[:end].splitlines():
            followed.take(line)
        followed.offset += end


def batch_state(folder: Path, plan: BatchPlan, done: int) -> str:
    """running (a process holds its lock), finished (every row done) or stopped part way."""
    if BatchLock(folder, plan.id).is_held():
        return RUNNING
    return FINISHED if done >= plan.rows else STOPPED
