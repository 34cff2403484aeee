"""The writer's two ways into `calls`: Arrow's parse of the spool lines (call_batch) and the
row-by-row path it falls back to must store the same rows and audit blobs; a line the fast
path cannot take sends its batch down the slow path, which skips only that line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from studio.analytics import AnalyticsStore, call_batch
from studio.analytics.rows import address, canonical
from studio.secrets import redactor
from studio.spec.calls import Usage
from studio.spec.records import CallRecord

SECRET = "vk-batch-secret-value-4711"


def _records() -> list[tuple[CallRecord, object, object]]:
    utc = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    return [
        (CallRecord(id="plain", time=utc, model_id="m/a", provider="openai", latency_ms=12.5,
                    usage=Usage(input_tokens=3, output_tokens=4, source="provider"), cost_usd=0.25), None, None),
        (CallRecord(id="audit", time=utc, model_id="m/ü", provider="local", pipeline_id="p", run_id="r",
                    node_id="n", ttft_ms=2.0, usage=Usage(output_tokens=9, reasoning_tokens=2, source="estimate"),
                    cache_hit=True, saved_usd=0.01, fell_back_from="m/a", routing_reason="fallback"),
         {"prompt": "grüße — 漢字", "n": [1, 2.5, None]}, {"text": "answer"}),
        (CallRecord(id="same content", time=utc + timedelta(seconds=1), model_id="m/a", provider="openai"),
         {"prompt": "grüße — 漢字", "n": [1, 2.5, None]}, {"text": "answer"}),
        (CallRecord(id="offset time", time=datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
                    model_id="m/b", provider="anthropic", status="error", error_class="auth",
                    error_message=f"rejected key {SECRET}"), {"authorization": "Bearer abcdefghijkl"}, None),
        (CallRecord(id="naive time", time=datetime(2026, 5, 1, 9, 0), model_id="m/b", provider="anthropic",
                    input_hash="given-in", output_hash="given-out", request_id="req-1"), None, "only output"),
    ]


def _stored(store) -> tuple[list, list]:
    def read(cur):
        calls = cur.execute("SELECT * FROM calls ORDER BY id").fetchall()
        blobs = cur.execute("SELECT sha256, body, size FROM audit_blobs ORDER BY sha256").fetchall()
        return calls, blobs
    return store.read(read)


def _load(home, records) -> tuple[list, list]:
    home.mkdir()
    store = AnalyticsStore(home)
    store.read(lambda cur: None)  # own the database: records are queued in memory too
    for record, inp, out in records:
        store.record_call(record, inp, out)
    try:
        return _stored(store)
    finally:
        store.close()


@pytest.fixture
def remembered_secret():
    redactor.remember(SECRET)
    yield
    redactor._values.discard(SECRET)


def test_arrow_and_row_paths_store_the_same(tmp_path, monkeypatch, remembered_secret):
    from studio.analytics.lines import call_line
    from studio.analytics.rows import content_text

    lines = [call_line(r, content_text(i), content_text(o)) for r, i, o in _records()]
    assert call_batch.parse_calls(lines).num_rows == len(lines)  # these records take the fast path
    fast = _load(tmp_path / "fast", _records())
    monkeypatch.setattr(call_batch, "parse_calls", lambda lines: None)
    slow = _load(tmp_path / "slow", _records())
    assert fast == slow
    calls = {row[0]: row for row in fast[0]}
    assert calls["offset time"][1] == datetime(2026, 5, 1, 12, 0)  # naive UTC
    assert calls["naive time"][1] == datetime(2026, 5, 1, 9, 0)
    assert SECRET not in repr(fast)
    assert calls["audit"][23] == calls["same content"][23] and len(fast[1]) == 4  # one blob per content


def test_parse_calls_refuses_what_it_cannot_check():
    from studio.analytics.lines import call_line

    good = call_line(_records()[0][0], None, None)
    assert call_batch.parse_calls([good]).num_rows == 1
    assert call_batch.parse_calls([good, b"not json"]) is None
    assert call_batch.parse_calls([good, good.replace(b'"status":"ok"', b'"status":"maybe"')]) is None
    assert call_batch.parse_calls([good, good.replace(b'"model_id":"m/a",', b"")]) is None


def test_a_bad_line_costs_only_itself(tmp_path):
    store = AnalyticsStore(tmp_path)
    for record, inp, out in _records()[:2]:
        store.record_call(record, inp, out)  # spooled only: nobody owns the database yet
    store._segment.append(b'{"kind":"call","record":{"id":"broken"},"input":null,"output":null}\n')
    try:
        calls, _ = _stored(store)  # taking the database reads the spool back
    finally:
        store.close()
    assert [row[0] for row in calls] == ["audit", "plain"]


def test_error_message_is_redacted_again_with_what_the_owner_knows(tmp_path):
    store = AnalyticsStore(tmp_path)
    store.record_call(_records()[3][0])  # spooled before the secret is known
    redactor.remember(SECRET)
    try:
        calls, _ = _stored(store)
    finally:
        redactor._values.discard(SECRET)
        store.close()
    assert calls[0][9] == "rejected key ••••"


def test_a_failing_arrow_insert_falls_back_to_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(call_batch, "INSERT_CALLS", "INSERT INTO no_such_table SELECT * FROM {table}")
    home = tmp_path / "h"
    home.mkdir()
    store = AnalyticsStore(home)
    try:
        for record, inp, out in _records()[:2]:
            store.record_call(record, inp, out)
        calls, blobs = _stored(store)
        assert [row[0] for row in calls] == ["audit", "plain"] and len(blobs) == 2
        assert store.write_errors == 1
    finally:
        store.close()


def test_the_row_path_stores_content_already_stored_only_once(tmp_path, monkeypatch):
    """Each batch's hashes are checked against the table, not only against each other."""
    monkeypatch.setattr(call_batch, "parse_calls", lambda lines: None)
    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)
    try:
        for i in range(2):  # two batches, the same content
            record = CallRecord(id=f"c{i}", model_id="m/x", provider="openai", latency_ms=1.0,
                                usage=Usage(source="provider"))
            store.record_call(record, {"prompt": "same"}, {"text": "same answer"})
            store.flush(timeout=None)
        assert store.read(lambda cur: cur.execute("SELECT count(*) FROM audit_blobs").fetchone()[0]) == 2
        assert store.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0]) == 2
    finally:
        store.close()


def test_the_row_path_keeps_hashes_and_sizes_without_text_when_asked(tmp_path, monkeypatch):
    """audit_hashes_only on the row-by-row path, as on the Arrow one (test_writer)."""
    monkeypatch.setattr(call_batch, "parse_calls", lambda lines: None)
    store = AnalyticsStore(tmp_path)
    store.update_settings(audit_hashes_only=True)
    try:
        record = CallRecord(id="c", model_id="m/x", provider="openai", latency_ms=1.0, usage=Usage(source="provider"))
        store.record_call(record, {"prompt": "private é"}, None)
        store.flush(timeout=None)
        rows = store.read(lambda cur: cur.execute("SELECT sha256, body, size FROM audit_blobs").fetchall())
        text = canonical({"prompt": "private é"})
        assert rows == [(address(text), None, len(text.encode("utf-8")))]
    finally:
        store.close()


def test_a_record_line_says_what_pydantic_would():
    """`call_line` writes the record with orjson from its fields; read back, each one is the
    document pydantic's JSON of the (redacted) record is, whatever its times and numbers."""
    import json

    from studio.analytics import lines

    records = [r for r, _, _ in _records()]
    assigned = CallRecord(id="assigned later", model_id="m/a", provider="openai",
                          time=datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc))
    assigned.latency_ms, assigned.cost_usd = 5, 1  # records are filled in without validation
    for record in [*records, assigned]:
        redacted = record.model_copy(update={"error_message": lines.redact(record.error_message or "") or None})
        assert json.loads(lines._record_json(record)) == json.loads(redacted.model_dump_json()), record.id


def test_a_fault_while_reading_the_lines_for_arrow_falls_back_to_rows(tmp_path, monkeypatch):
    """Before, only a failed insert fell back: a fault inside the reader went to the search for
    refused records, which found none, and the batch waited for a next round that failed the same way."""
    def broken(lines):
        raise RuntimeError("the reader broke")
    monkeypatch.setattr(call_batch, "parse_calls", broken)
    store = AnalyticsStore(tmp_path)
    try:
        for record, inp, out in _records()[:2]:
            store.record_call(record, inp, out)
        calls, _ = _stored(store)
        assert [row[0] for row in calls] == ["audit", "plain"]
        assert (store.write_errors, store.refused_records) == (1, 0)
    finally:
        store.close()


@pytest.mark.parametrize("path", ["arrow", "rows"])
def test_content_is_stored_once_and_found_by_its_key(tmp_path, monkeypatch, path):
    """Stored texts are found by their integer key, the first 124 bits of their hash: a text
    stored before is not stored again; one whose hash differs only in its 124th bit is stored."""
    if path == "rows":
        monkeypatch.setattr(call_batch, "parse_calls", lambda lines: None)
    store = AnalyticsStore(tmp_path)
    store.read(lambda cur: None)
    answer = address(canonical({"text": "the answer"}))
    last = int(answer[30], 16) ^ 1  # the key's last bit flipped
    twin = answer[:30] + format(last, "x") + answer[31:]
    try:
        store.submit(lambda cur: cur.execute(
            "INSERT INTO audit_blobs (sha256, body, size, first_seen, key) VALUES (?, 'a twin', 6, now(), ?)",
            [twin, int(twin[:31], 16)]))
        for i in range(2):  # two batches, the same content
            store.record_call(CallRecord(id=f"c{i}", model_id="m/x", provider="openai", latency_ms=1.0,
                                         usage=Usage(source="provider")), {"prompt": "same"}, {"text": "the answer"})
            store.flush(timeout=None)
        blobs = store.read(lambda cur: cur.execute("SELECT sha256, body, key FROM audit_blobs ORDER BY body").fetchall())
    finally:
        store.close()
    prompt = address(canonical({"prompt": "same"}))
    assert sorted(blobs) == sorted([(twin, "a twin", int(twin[:31], 16)),
                                    (answer, canonical({"text": "the answer"}), int(answer[:31], 16)),
                                    (prompt, canonical({"prompt": "same"}), int(prompt[:31], 16))])
