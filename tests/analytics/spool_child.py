"""Child process for the spool tests: records calls (and one run, started and ended) through
an AnalyticsStore and says on stdout how many it has recorded, so the parent can kill it at
any point.

    python -m tests.analytics.spool_child HOME COUNT [TAG] [--own] [--hang] [--pace S] [--then N]

--own     take the database first (the child is the owner; its writer runs slowly)
--hang    after COUNT calls, print "recorded COUNT" and wait to be killed
--pace S  sleep S seconds after each call
--then N  after COUNT calls and the run, wait for the file HOME/go, then record N calls more
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from studio.analytics import AnalyticsStore
from studio.spec.records import CallRecord, NodeRun, RunRecord


def main() -> None:
    home, count = Path(sys.argv[1]), int(sys.argv[2])
    store = AnalyticsStore(home, interval_s=1.0)
    if "--own" in sys.argv:
        assert store.start(), "the child could not take the database"
    tag = f"{sys.argv[3] if len(sys.argv) > 3 and not sys.argv[3].startswith('--') else 'c'}"
    pace = float(sys.argv[sys.argv.index("--pace") + 1]) if "--pace" in sys.argv else 0.0
    for i in range(count):
        store.record_call(CallRecord(id=f"{tag}{i}", model_id="m/a", provider="p"), {"i": i}, {"o": i})
        if pace:
            time.sleep(pace)
        if i % 50 == 49:
            print(f"recorded {i + 1}", flush=True)
    run = RunRecord(id=f"run-{tag}", pipeline_id="p1", nodes={"n": NodeRun(node_id="n")})
    store.record_run(run)  # as the engine records a run: when it starts, and when it ends
    run.status, run.nodes["n"].status, run.nodes["n"].output = "succeeded", "succeeded", {"y": tag}
    store.record_run(run)
    print(f"recorded {count} and the run", flush=True)
    if "--hang" in sys.argv:
        time.sleep(120)
    if "--then" in sys.argv:
        more = int(sys.argv[sys.argv.index("--then") + 1])
        deadline = time.monotonic() + 60
        while not (home / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(more):
            store.record_call(CallRecord(id=f"{tag}-then-{i}", model_id="m/a", provider="p"), {"i": i}, {"o": i})
        print(f"recorded {more} more", flush=True)
    store.close()


if __name__ == "__main__":
    main()
