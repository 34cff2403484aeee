"""The node outputs a run leaves for a later "run from node" (the canvas, `iom run --from`).

The file is a cache, read by this process and others, so it is written atomically. Writing
it (read the previous outputs, merge, write a temporary file, rename) costs about half a
millisecond of a wide run, after its last node and before it returns. So a finished run
only queues its outputs; they are written a moment later (`DELAY_S`), on the event loop
while it waits for the network or the user, several runs of a pipeline in one write. A
reader in this process writes what is queued first; at exit, whatever is still queued is
written (atexit), so a CLI run's outputs are kept. A process killed within `DELAY_S` of a
run loses that run's outputs from this cache, and nothing else.

A worker thread was tried instead: it took the interpreter lock from the event loop while
the next run started, and back-to-back runs got slower, not faster.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
from pathlib import Path

from studio.atomic import write_bytes
from studio.paths import file_in_the_way

log = logging.getLogger(__name__)

DELAY_S = 0.2
_SAID: set[str] = set()  # the warnings already logged


class KeptOutputs:
    def __init__(self, home: Path) -> None:
        # Written only while the data dir exists: one removed meanwhile (a bench's or a test's
        # temporary one) was made again by the write at exit, and left behind in /tmp.
        self._home = Path(home)
        self._queued: dict[Path, list[str]] = {}  # file -> encoded outputs, oldest first
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._at_exit = False

    def merge(self, path: Path, outputs_json: str) -> None:
        """Queue: the file at `path` gets these node entries (each node's stamp and output, see
        Run._stamps) over the ones it holds. They come encoded, so the run may go on changing its
        own objects."""
        self._queued.setdefault(path, []).append(outputs_json)
        if not self._at_exit:
            atexit.register(self.write_all)
            self._at_exit = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): write now
            self.write_all()
            return
        if self._timer is None or self._timer_loop is not loop:  # (a timer of a closed loop never fires)
            self._timer, self._timer_loop = loop.call_later(DELAY_S, self.write_all), loop

    def settle(self, path: Path) -> None:
        """Write what is queued for `path`, so a read of it sees this process's last runs."""
        queued = self._queued.pop(path, None)
        if queued and self._home.is_dir():
            _merge(path, queued)

    def write_all(self) -> None:
        self._timer = None
        queued, self._queued = self._queued, {}
        if self._home.is_dir():
            for path, outputs in queued.items():
                _merge(path, outputs)


FORMAT = 2  # {"version": 2, "nodes": {node id: {"stamp", "output"} or {"stamp", "notKept"}}}


def read_nodes(path: Path) -> dict[str, dict]:
    """The kept entries by node id; {} for no file, a damaged one, or one of the format before
    stamps (its outputs cannot be told current, so they are made again once)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):  # (IOM_HOME/cache a file: nothing kept)
        return {}
    nodes = doc.get("nodes") if isinstance(doc, dict) and doc.get("version") == FORMAT else None
    return nodes if isinstance(nodes, dict) else {}


def _merge(path: Path, queued: list[str]) -> None:
    try:
        merged = read_nodes(path)
        for entries_json in queued:
            merged.update(json.loads(entries_json))
        # a cache: atomic (the previous or the new file stays whole), not fsynced
        write_bytes(path, json.dumps({"version": FORMAT, "nodes": merged}, ensure_ascii=False).encode("utf-8"),
                    durable=False)
    except OSError as e:  # a full disk loses the cache for "run from node", not the run
        if (blocker := file_in_the_way(path)) is None:
            log.warning("could not keep the node outputs in %s: %s", path, e)
        elif (said := _not_a_folder(blocker)) not in _SAID:  # once a process: every run would say it again
            _SAID.add(said)
            log.warning("%s", said)


def _not_a_folder(blocker: Path) -> str:
    return (f"could not keep the node outputs for a later 'run from node': {blocker} is a file, not a folder; "
            "move it away or delete it (until then such a run calls the nodes before it again).")
