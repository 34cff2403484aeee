"""Child process for the durability test: records calls through the writer (no explicit
flush), reports once the interval writer has committed a first lot, then keeps recording
until it is killed. Usage: python -m tests.analytics.writer_child HOME FIRST_LOT"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from studio.analytics import AnalyticsStore
from studio.spec.records import CallRecord


def main() -> None:
    home, first = Path(sys.argv[1]), int(sys.argv[2])
    store = AnalyticsStore(home, interval_s=0.2)
    for i in range(first):
        store.record_call(CallRecord(id=f"c{i}", model_id="m/a", provider="p"), {"i": i}, {"o": i})
    deadline = time.monotonic() + 60
    while store.committed_calls < first:  # the interval writer commits without being asked
        if time.monotonic() > deadline:
            sys.exit("writer never committed")
        time.sleep(0.01)
    print(f"committed {store.committed_calls}", flush=True)
    i = first
    while True:  # keep the writer busy so the kill lands mid-way
        store.record_call(CallRecord(id=f"c{i}", model_id="m/a", provider="p"), {"i": i}, {"o": i})
        i += 1
        if i % 500 == 0:
            time.sleep(0.001)


if __name__ == "__main__":
    main()
