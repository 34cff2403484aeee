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
