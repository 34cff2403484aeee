"""Text with a lone surrogate ("\\ud800", which UTF-8 cannot spell) reaching the audit trail —
from the Python API, a plugin, or a line spooled by an older studio — is stored with U+FFFD in
its place, and costs nothing else: before, the database refused the whole batch holding it,
every later batch re-read the line and failed again, and nothing more was ever recorded, not
even after a restart. (Provider answers are read without them: tests/providers/test_lone_surrogates.py.)"""

from __future__ import annotations

import json
from studio.analytics import AnalyticsStore
from studio.analytics.lines import decode
from studio.spec.records import CallRecord, NodeRun, RunRecord


def _stored(store) -> tuple[dict, dict]:
    def read(cur):
        calls = cur.execute("SELECT c.id, c.error_message, i.body, o.body FROM calls c"
                            " LEFT JOIN audit_blobs i ON i.sha256 = c.input_hash"
                            " LEFT JOIN audit_blobs o ON o.sha256 = c.output_hash").fetchall()
        runs = cur.execute("SELECT r.id, r.error, n.output, n.error FROM runs r JOIN run_nodes n ON n.run_id = r.id").fetchall()
        return {c[0]: c[1:] for c in calls}, {r[0]: r[1:] for r in runs}
    return store.read(read)


def test_calls_and_runs_with_lone_surrogates_are_stored_and_block_nothing(tmp_path):
    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)  # own the database: records are queued in memory too
    try:
        store.record_call(CallRecord(id="before", model_id="m/a", provider="openai"))
        store.record_call(CallRecord(id="odd", model_id="m/a", provider="openai", status="error", error_class="server",
                                     error_message="bad \ud800 reply"), {"prompt": "q \udc00"}, {"text": "a \ud83d"})
        store.record_run(RunRecord(id="run-odd", pipeline_id="p", status="failed", error="node failed: \udfff",
                                   nodes={"n": NodeRun(node_id="n", output={"text": "o \ud800"}, error="e \udc80")}))
        store.flush()
        store.record_call(CallRecord(id="after", model_id="m/a", provider="openai"))
        calls, runs = _stored(store)
    finally:
        store.close()
    assert store.write_errors == 0
    assert calls == {"before": (None, None, None), "after": (None, None, None),
                     "odd": ("bad \ufffd reply", '{"prompt":"q \ufffd"}', '{"text":"a \ufffd"}')}
    assert runs == {"run-odd": ("node failed: \ufffd", '{"text":"o \ufffd"}', "e \ufffd")}


def test_a_line_spooled_with_a_lone_surrogate_is_read_as_ufffd(tmp_path):
    """What an older studio spooled (the surrogate as UTF-8 cannot spell it) is stored, beside
    the lines around it, when the database is next taken."""
    store = AnalyticsStore(tmp_path)
    store.record_call(CallRecord(id="before", model_id="m/a", provider="openai"))
    old_line = ('{"kind":"call","record":' + CallRecord(id="old", model_id="m/a", provider="openai").model_dump_json()
                + ',"input":null,"output":"{\\"text\\":\\"x \ud800 y\\"}"}\n').encode("utf-8", "surrogatepass")
    assert decode(old_line)[1][2] == '{"text":"x \ufffd y"}'
    store._segment.append(old_line)
    store.record_call(CallRecord(id="after", model_id="m/a", provider="openai"))
    try:
        calls, _ = _stored(store)  # taking the database reads the spool back
    finally:
        store.close()
    assert store.write_errors == 0
    assert calls == {"after": (None, None, None), "before": (None, None, None), "old": (None, None, '{"text":"x \ufffd y"}')}


def test_a_record_the_database_refuses_is_left_out_and_the_rest_stored(tmp_path):
    """A token count past 64 bits (a provider's reply is read as json reads it) fits no BIGINT.
    That one call is left out, counted and logged; before, its batch failed, and so did every
    later one, which read it back each time: nothing more was recorded."""
    from studio.spec.calls import Usage

    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)
    try:
        store.record_call(CallRecord(id="before", model_id="m/a", provider="openai"))
        store.record_call(CallRecord(id="absurd", model_id="m/a", provider="openai",
                                     usage=Usage(input_tokens=10**20, source="provider")), {"prompt": "q"}, None)
        store.record_run(RunRecord(id="run-1", pipeline_id="p", status="succeeded", nodes={"n": NodeRun(node_id="n")}))
        store.flush()
        store.record_call(CallRecord(id="after", model_id="m/a", provider="openai"))
        calls, runs = _stored(store)
    finally:
        store.close()
    assert sorted(calls) == ["after", "before"] and list(runs) == ["run-1"] and store.refused_records == 1
    # not lost for good with a log line: kept as given, and said where the figures are read
    from studio.analytics.store import refused_file, refused_sentence

    kept = [json.loads(line) for line in refused_file(tmp_path).read_text().splitlines()]
    assert [k["record"]["id"] for k in kept] == ["absurd"] and kept[0]["input"]
    assert refused_sentence(tmp_path).startswith("1 record the analytics database refused")
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "studio", "analytics"], capture_output=True, text=True,
                       env=dict(os.environ, IOM_HOME=str(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"))
    assert r.returncode == 0 and f"warning: 1 record the analytics database refused" in r.stderr, r.stderr


def test_a_batch_refused_for_another_reason_is_kept_for_the_next_round(tmp_path, monkeypatch):
    """When every record goes in on its own, the fault is not theirs (the disk, say): nothing is
    left out, and the next round stores the batch."""
    from studio.analytics import rollup

    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)
    real_add, failures = rollup.add, []

    def add_failing_twice(cur, source):  # the batch's Arrow path, then its row path
        if len(failures) < 2:
            failures.append(source)
            raise OSError("no space left on device")
        return real_add(cur, source)
    monkeypatch.setattr(rollup, "add", add_failing_twice)
    try:
        store.record_call(CallRecord(id="one", model_id="m/a", provider="openai"))
        store.record_call(CallRecord(id="two", model_id="m/a", provider="openai"))
        store.flush()
        calls, _ = _stored(store)
    finally:
        store.close()
    assert len(failures) == 2 and sorted(calls) == ["one", "two"] and store.refused_records == 0


def test_refused_records_are_found_among_many(tmp_path, monkeypatch):
    """By halving the batch: exactly the two refused calls of 300 are left out, and it takes
    tens of tries, not one per record."""
    from studio.analytics import call_batch
    from studio.spec.calls import Usage

    monkeypatch.setattr(call_batch, "parse_calls", lambda lines: None)  # one batch, straight to the row path
    store = AnalyticsStore(tmp_path, batch_size=10_000)
    store.read(lambda cur: None)
    tries = []
    real_insert = store._insert_calls
    monkeypatch.setattr(store, "_insert_calls", lambda cur, calls, h: (tries.append(len(calls)), real_insert(cur, calls, h)))
    try:
        for i in range(300):
            usage = Usage(input_tokens=10**20 if i in (37, 211) else 3, source="provider")
            store.record_call(CallRecord(id=f"c{i:03}", model_id="m/a", provider="openai", usage=usage))
        calls, _ = _stored(store)
    finally:
        store.close()
    assert sorted(calls) == [f"c{i:03}" for i in range(300) if i not in (37, 211)]
    assert store.refused_records == 2 and len(tries) < 40
