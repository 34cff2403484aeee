"""The garbage collector and the objects that live as long as the process.

A full collection walks every object the collector tracks. Imported modules, classes,
pydantic's schemas, the registry and the price table (~100,000 objects once a batch has run)
never become garbage, yet each full pass walked them all: 20-100 ms with the event loop held,
five times in a 2,000-row batch over a model 200 ms away (bench/bench_batch.py), each pass
holding up the 64 rows in flight. A process freezes them once it has made them and is about
to do its long work: the server as it starts, `iom batch run` and `iom eval run` before
their rows.
"""

from __future__ import annotations

import gc
import os


def freeze_long_lived() -> None:
    """Move what exists now out of the collector's view (gc.freeze), and make sure the
    collector is on. Not under pytest, whose tests run many studios in one process: a freeze
    there would keep every earlier test's uncollected garbage for good."""
    if "PYTEST_CURRENT_TEST" not in os.environ:
        gc.freeze()
    gc.enable()
