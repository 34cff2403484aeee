"""The batching writer: nothing lost on a clean close, committed data survives SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics.rows import address, canonical
from studio.analytics.schema import LATEST
from studio.core import Studio
from studio.recording import Recorder
from studio.spec.records import CallRecord, NodeRun, RunRecord

ROOT = Path(__file__).resolve().parents[2]


def _count(path: Path, table: str = "calls") -> int:
    con = duckdb.connect(str(path))
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_store_is_a_recorder_and_studio_uses_it(iom_home):
    studio = Studio(iom_home, seed_samples=False)
    assert isinstance(studio.recorder, AnalyticsStore)
    recorder: Recorder = studio.recorder  # the protocol the hub and engine call
    assert callable(recorder.record_call) and callable(recorder.record_run)
    assert not (iom_home / "analytics.duckdb").exists()  # nothing opened until first use
    studio.recorder.record_call(CallRecord(id="x", model_id="m/a", provider="p"))
    studio.close()
    assert _count(iom_home / "analytics.duckdb") == 1


def test_clean_close_loses_nothing_from_many_threads(iom_home):
    store = AnalyticsStore(iom_home, interval_s=1.0, batch_size=700)

    def produce(t: int) -> None:
        for i in range(2500):
            store.record_call(CallRecord(id=f"t{t}-{i}", model_id="m/a", provider="p"), {"t": t, "i": i})

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert store.write_errors == 0
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM calls").fetchone() == (10000, 10000)
    assert con.execute("SELECT count(*) FROM audit_blobs").fetchone()[0] == 10000
    con.close()


def test_sigkill_mid_write_keeps_what_was_committed_and_reopens_cleanly(iom_home):
    first = 3000
    child = subprocess.Popen([sys.executable, "-m", "tests.analytics.writer_child", str(iom_home), str(first)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.startswith("committed"), child.stderr.read()
        committed = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    store = AnalyticsStore(iom_home)  # reopens (WAL replay) and migrates without complaint
    try:
        store.flush()  # takes in what the killed child had spooled but not committed
        rows = store.read(lambda cur: cur.execute("SELECT count(*), count(DISTINCT id) FROM calls").fetchone())
        assert rows[0] >= committed >= first
        assert rows[0] == rows[1]
        # whole batches only: every stored call has its audit blobs
        orphans = store.read(lambda cur: cur.execute(
            "SELECT count(*) FROM calls WHERE input_hash NOT IN (SELECT sha256 FROM audit_blobs)").fetchone()[0])
        assert orphans == 0
        store.record_call(CallRecord(id="after", model_id="m/a", provider="p"))
        store.flush()
        assert store.read(q.summary)["calls"] == rows[0] + 1
        assert store.read(lambda cur: cur.execute("SELECT max(version) FROM schema_version").fetchone()[0]) == LATEST
    finally:
        store.close()


def test_audit_is_content_addressed_and_redacted(iom_home):
    store = AnalyticsStore(iom_home)
    secret = "sk-" + "A1b2C3d4E5f6G7h8J9k0"
    store.record_call(CallRecord(id="a", model_id="m/a", provider="p"), {"prompt": "hi", "key": secret}, {"text": "yo"})
    store.record_call(CallRecord(id="b", model_id="m/a", provider="p"), {"key": secret, "prompt": "hi"}, {"text": "yo"})
    store.close()
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    hashes = con.execute("SELECT input_hash, output_hash FROM calls ORDER BY id").fetchall()
    assert hashes[0] == hashes[1]  # same content, same address, whatever the key order
    assert hashes[0][1] == address(canonical({"text": "yo"}))
    bodies = [r[0] for r in con.execute("SELECT body FROM audit_blobs").fetchall()]
    assert len(bodies) == 2 and all(secret not in b for b in bodies)
    assert any('"prompt":"hi"' in b for b in bodies)
    con.close()


def test_secret_named_fields_and_bearer_tokens_never_reach_the_audit(iom_home):
    store = AnalyticsStore(iom_home)
    store.record_call(CallRecord(id="a", model_id="m/a", provider="p"), {"api_key": "plainvalue123", "q": 1},
                      {"echo": "Authorization: Bearer tok_abcdefghijkl"})
    store.close()
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    text = " ".join(r[0] for r in con.execute("SELECT body FROM audit_blobs").fetchall())
    con.close()
    assert "plainvalue123" not in text and "tok_abcdefghijkl" not in text and '"q":1' in text


def test_same_content_in_later_batches_is_stored_once(iom_home):
    store = AnalyticsStore(iom_home)
    for i in range(3):
        store.record_call(CallRecord(id=f"c{i}", model_id="m/a", provider="p"), {"prompt": "same"}, {"text": f"out {i}"})
        store.flush()
    assert store.read(lambda cur: cur.execute(
        "SELECT count(*), count(DISTINCT sha256) FROM audit_blobs").fetchone()) == (4, 4)
    store.close()


def test_hashes_only_setting_keeps_no_content(iom_home):
    store = AnalyticsStore(iom_home)
    store.update_settings(audit_hashes_only=True)
    store.record_call(CallRecord(id="a", model_id="m/a", provider="p"), {"prompt": "private"}, {"text": "answer"})
    store.record_run(RunRecord(id="r", pipeline_id="p1", status="succeeded", inputs={"prompt": "private"},
                               nodes={"n": NodeRun(node_id="n", inputs={"prompt": "private"}, output={"t": 1})}))
    store.flush()
    blobs = store.read(lambda cur: cur.execute("SELECT sha256, body FROM audit_blobs ORDER BY sha256").fetchall())
    assert sorted(h for h, _ in blobs) == sorted([address(canonical({"prompt": "private"})), address(canonical({"text": "answer"}))])
    assert all(body is None for _, body in blobs)
    run = store.read(q.get_run, "r")
    assert run["inputs"] is None and run["inputs_hash"] == address(canonical({"prompt": "private"}))
    assert run["nodes"][0]["inputs"] is None and run["nodes"][0]["inputs_hash"]
    store.close()
    assert json.loads((iom_home / "analytics.json").read_text())["auditHashesOnly"] is True


def test_a_setting_changed_by_another_process_holds_in_a_running_writer(iom_home):
    """The app read analytics.json once: `iom analytics --set-hashes-only on` beside it left the
    running app storing every input in full, and its page then saved the old settings back."""
    from studio.analytics.settings import load_settings, save_settings

    store = AnalyticsStore(iom_home)
    store.update_settings(retention_days=60)
    store.record_call(CallRecord(id="a", model_id="m/a", provider="p"), {"prompt": "before"}, {"text": "x"})
    store.flush()
    other = load_settings(iom_home).model_copy(update={"audit_hashes_only": True})
    save_settings(iom_home, other)  # as the command line does, in its own process
    store.record_call(CallRecord(id="b", model_id="m/a", provider="p"), {"prompt": "private"}, {"text": "y"})
    store.flush()
    bodies = dict(store.read(lambda cur: cur.execute("SELECT sha256, body FROM audit_blobs").fetchall()))
    assert bodies[address(canonical({"prompt": "before"}))] is not None
    assert bodies[address(canonical({"prompt": "private"}))] is None
    store.update_settings(retention_days=30)  # over the file as it is now: hashes only stays on
    assert load_settings(iom_home).audit_hashes_only is True and load_settings(iom_home).retention_days == 30
    store.close()


def test_a_runs_drill_down_finds_its_nodes_and_calls_within_its_time(iom_home):
    """Nodes and calls are looked for within the run's start and end, an hour either side
    (another machine's clock, a call recorded as its run is cancelled); a node that never
    started has no time and is always shown. A call stamped further off is another day's."""
    started = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    store = AnalyticsStore(iom_home)
    store.record_run(RunRecord(id="r", pipeline_id="p", status="succeeded", started=started,
                               ended=started + timedelta(seconds=5), nodes={
                                   "a": NodeRun(node_id="a", status="succeeded", started=started + timedelta(seconds=1)),
                                   "b": NodeRun(node_id="b", status="skipped")}))
    for call_id, offset in (("in-run", timedelta(seconds=2)), ("skewed", timedelta(minutes=-40)),
                            ("late", timedelta(minutes=50)), ("other-day", timedelta(hours=-3))):
        store.record_call(CallRecord(id=call_id, time=started + offset, model_id="m/a", provider="p", run_id="r"))
    store.flush()
    got = store.read(q.get_run, "r")
    assert [(n["node_id"], n["status"]) for n in got["nodes"]] == [("a", "succeeded"), ("b", "skipped")]
    assert [c["id"] for c in got["calls"]] == ["skewed", "in-run", "late"]
    store.close()


def test_run_recorded_twice_keeps_the_latest_state(iom_home):
    store = AnalyticsStore(iom_home)
    run = RunRecord(id="r", pipeline_id="p1", inputs={"x": 1}, nodes={"a": NodeRun(node_id="a", status="running")})
    store.record_run(run)
    store.flush()
    run.status = "succeeded"
    run.nodes["a"].status = "succeeded"
    run.nodes["a"].model_id = "m/a"
    run.nodes["a"].output = {"y": 2}
    run.nodes["b"] = NodeRun(node_id="b", status="skipped")
    store.record_run(run)
    store.close()
    store = AnalyticsStore(iom_home)
    got = store.read(q.get_run, "r")
    assert got["status"] == "succeeded" and got["inputs"] == {"x": 1}
    assert [(n["node_id"], n["status"], n["model_id"], n["output"]) for n in got["nodes"]] == [
        ("a", "succeeded", "m/a", {"y": 2}), ("b", "skipped", None, None)]
    assert [r["id"] for r in store.read(q.list_runs)] == ["r"]
    assert store.read(q.get_run, "missing") is None
    store.close()


def test_a_running_run_keeps_its_runs_row_only_and_a_finished_one_recorded_again_is_replaced(iom_home):
    """The record of a run that starts holds only pending nodes: it is stored without them, so the
    writer replaces it through the runs' key instead of scanning run_nodes at every write."""
    store = AnalyticsStore(iom_home)
    run = RunRecord(id="r", pipeline_id="p1", nodes={"a": NodeRun(node_id="a"), "b": NodeRun(node_id="b")})
    store.record_run(run)
    store.flush()
    started = store.read(q.get_run, "r")
    assert (started["status"], started["node_count"], started["nodes"]) == ("running", 2, [])
    run.status, run.nodes["a"].status, run.nodes["b"].status = "succeeded", "succeeded", "skipped"
    store.record_run(run)
    store.flush()
    run.nodes["a"].output = {"y": 3}  # recorded once more after it ended: its nodes are replaced, not added
    store.record_run(run)
    got = store.read(q.get_run, "r")
    store.close()
    assert got["status"] == "succeeded"
    assert [(n["node_id"], n["status"], n["output"]) for n in got["nodes"]] == [("a", "succeeded", {"y": 3}),
                                                                               ("b", "skipped", None)]


def test_closing_while_a_read_is_running_waits_for_it(tmp_path):
    """The web app's shutdown closed the database while a page's read still ran on it (a busy
    machine): DuckDB refused ("connection is busy with another call") and the close raised."""
    from studio.analytics import AnalyticsStore

    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)  # opened
    results: list = []
    reading = threading.Thread(target=lambda: results.append(store.read(
        lambda cur: cur.execute("SELECT sum(i) FROM range(400000000) t(i)").fetchone()[0])))
    reading.start()
    time.sleep(0.2)  # the read is running
    store.close()
    reading.join()
    assert results == [sum(range(400000000))]
