"""A run whose process ended before the run did (killed, crashed, its end refused by the disk)
is stored as failed, saying so, once nothing can record its end: never "running" for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from studio.analytics import AnalyticsStore, spool
from studio.analytics import queries as q
from studio.analytics.lines import run_line, run_state
from studio.analytics.store import INTERRUPTED
from studio.spec.records import NodeRun, RunRecord

ROOT = Path(__file__).resolve().parents[2]

# A process that records two runs as started and ends one, says so, then waits to be killed.
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from studio.analytics import AnalyticsStore
    from studio.spec.records import RunRecord
    store = AnalyticsStore(Path(sys.argv[1]))
    ended = RunRecord(id="ended", pipeline_id="p")
    store.record_run(ended)
    store.record_run(RunRecord(id="killed", pipeline_id="p"))
    ended.status = "succeeded"
    store.record_run(ended)
    print("recorded", flush=True)
    time.sleep(60)
""")


def _status(store: AnalyticsStore, run_id: str) -> tuple[str, str | None]:
    run = store.read(q.get_run, run_id)
    return run["status"], run["error"]


def test_a_killed_process_s_unended_run_is_stored_as_interrupted_and_the_others_as_they_ended(iom_home):
    owner = AnalyticsStore(iom_home)  # holds the database: the child can only spool
    owner.flush()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(iom_home)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "recorded", child.stderr.read()
        owner.flush()
        assert _status(owner, "killed") == ("running", None)  # its process lives: it may still end
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        owner.flush()
        assert _status(owner, "killed") == ("failed", INTERRUPTED)
        assert _status(owner, "ended") == ("succeeded", None)
        assert [p.name for p in spool.segments(iom_home)] == []  # the killed one's segment is collected
    finally:
        child.kill()
        child.wait()
        owner.close()


def test_a_run_still_running_when_its_own_process_closes_the_store_is_interrupted(iom_home):
    store = AnalyticsStore(iom_home)
    store.record_run(RunRecord(id="left", pipeline_id="p"))
    ended = RunRecord(id="ended", pipeline_id="p")
    store.record_run(ended)
    ended.status = "failed"
    ended.error = "node 'a' failed: boom"
    store.record_run(ended)
    store.flush()
    assert _status(store, "left") == ("running", None)
    store.close()
    store = AnalyticsStore(iom_home)
    try:
        assert _status(store, "left") == ("failed", INTERRUPTED)
        assert _status(store, "ended") == ("failed", "node 'a' failed: boom")  # its own error kept
    finally:
        store.close()


def test_run_state_reads_id_and_status_without_being_fooled_by_the_run_s_text():
    tricky = RunRecord(id="r1", pipeline_id='p","status":"succeeded', pipeline_name=',"status":"failed"',
                       inputs={"status": "succeeded"}, nodes={"a": NodeRun(node_id="a", status="succeeded")})
    assert run_state(run_line(tricky)) == ("r1", "running")
    tricky.status = "cancelled"
    assert run_state(run_line(tricky)) == ("r1", "cancelled")
    escaped = RunRecord(id='odd"id', pipeline_id="p", status="succeeded")
    assert run_state(run_line(escaped)) == ('odd"id', "succeeded")


# A process that owns the database, its spool segment rotated small: a run still going when
# the segment is replaced, 400 calls, then it waits to be killed.
ROTATING = textwrap.dedent("""
    import sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    import studio.analytics.store as store_module
    from studio.analytics import AnalyticsStore
    from studio.spec.records import CallRecord, RunRecord
    store_module.ROTATE_BYTES = 20_000
    store = AnalyticsStore(Path(sys.argv[1]), interval_s=0.05)
    assert store.start()
    store.record_run(RunRecord(id="going", pipeline_id="p"))
    for i in range(400):
        store.record_call(CallRecord(id=f"c{i}", time=datetime.now(timezone.utc), model_id="m/a", provider="openai",
                                     latency_ms=1.0), {"prompt": "x" * 200}, {"text": "y" * 200})
        if i % 50 == 49:
            store.flush()
    print("recorded", flush=True)
    time.sleep(60)
""")


def test_a_long_lived_writers_segment_is_rotated_and_a_run_going_across_it_still_ends_on_record(iom_home):
    """The web app's own segment grew for as long as it ran (~12 MB per 1,000 pipeline calls)
    and a kill left all of it for the next start to read again."""
    child = subprocess.Popen([sys.executable, "-c", ROTATING, str(iom_home)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "recorded", child.stderr.read()
        sizes = [p.stat().st_size for p in spool.segments(iom_home)]
        assert len(sizes) == 1 and sizes[0] < 40_000, sizes  # 400 calls of ~1 KB: rotated, never all kept
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        store = AnalyticsStore(iom_home)
        try:
            assert store.read(lambda cur: cur.execute("SELECT count(DISTINCT id), count(*) FROM calls").fetchone()) == (400, 400)
            assert _status(store, "going") == ("failed", INTERRUPTED)  # its start was carried into the new segment
        finally:
            store.close()
    finally:
        child.kill()
        child.wait()
