"""The analytics writer under DuckDB's memory limit (memoryLimitMb in analytics.json): a round
of records that does not fit is written in smaller parts, and a record that fits in no part is
kept in the spool, with one sentence on what to change. Before, the writer took a memory error
for a record the database refuses: such a record was left out for good, and a round of long
texts logged an error before it went in row by row."""

from __future__ import annotations

import json
import logging
import time

import duckdb
import pytest

from studio.analytics import AnalyticsStore, spool
from studio.spec.records import CallRecord


@pytest.fixture
def errors():
    """What the writer logs at ERROR, however logging is set up (the server's set-up does not
    propagate the studio's records to the root logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append
    logger = logging.getLogger("studio.analytics.store")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _store(home, memory_limit_mb: int) -> AnalyticsStore:
    (home / "analytics.json").write_text(json.dumps({"memoryLimitMb": memory_limit_mb}))
    store = AnalyticsStore(home)
    store.read(lambda cur: None)  # own the database: records are queued in memory too
    return store


def _call(id: str, text_length: int, store) -> None:
    store.record_call(CallRecord(id=id, model_id="m/a", provider="openai"),
                      {"prompt": f"{id} " + "q" * text_length}, {"text": f"{id} " + "a" * text_length})


def _bodies(store) -> dict[str, tuple[int, int]]:
    """Each stored call's input and output lengths, as the audit trail has them."""
    return dict((id, (i, o)) for id, i, o in store.read(lambda cur: cur.execute(
        "SELECT c.id, length(i.body), length(o.body) FROM calls c JOIN audit_blobs i ON i.sha256 = c.input_hash"
        " JOIN audit_blobs o ON o.sha256 = c.output_hash").fetchall()))


def _record_one_big_round(store) -> None:
    """24 MB of text in one round, more than DuckDB writes in 32 MB; back once all is committed."""
    for i in range(3000):
        _call(f"c{i:04}", 4000, store)
    deadline = time.monotonic() + 60
    while store.committed_calls < 3000 and time.monotonic() < deadline:
        store.flush()


def test_a_round_too_big_for_the_memory_limit_goes_in_smaller_parts(tmp_path, errors):
    store = _store(tmp_path, 32)
    try:
        _record_one_big_round(store)
        stored = _bodies(store)
    finally:
        store.close()
    assert store.write_errors >= 1  # it did not fit at first
    assert len(stored) == 3000 and set(stored.values()) == {(len('{"prompt":"c0000 "}') + 4000, len('{"text":"c0000 "}') + 4000)}
    assert store.refused_records == 0 and errors == []  # nothing left out, nothing to tell


def test_a_record_that_fits_in_no_part_is_kept_and_the_person_told_once(tmp_path, errors):
    store = _store(tmp_path, 16)
    try:
        _call("before", 10, store)
        store.flush()
        _call("huge", 20_000_000, store)  # two 20 MB texts, where DuckDB may use 16 MB
        _call("after", 10, store)
        for _ in range(12):  # round after round: the part halves down to its least, then the sentence
            store.flush()
        assert set(_bodies(store)) == {"before"}
    finally:
        store.close()
    assert store.refused_records == 0
    assert len(errors) == 1, [r.getMessage() for r in errors]
    sentence = errors[0].getMessage()
    assert "memoryLimitMb = 16" in sentence and str(tmp_path / "analytics.json") in sentence
    assert "raise it" in sentence and errors[0].exc_info is None

    store = _store(tmp_path, 256)  # raised: what waited in the spool goes in, in its order
    try:
        store.flush()
        stored = _bodies(store)
    finally:
        store.close()
    assert set(stored) == {"before", "huge", "after"} and stored["huge"][0] == 20_000_000 + len('{"prompt":"huge "}')


def _limit(cur) -> str:
    return cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]


# One value of 8 million integers: DuckDB cannot spill it, and it needs more than 32 MB.
_BIG_READ = "SELECT len(list(i)) FROM range(8000000) t(i)"


def test_duckdb_starts_lean_and_a_read_that_needs_more_gets_the_setting(tmp_path):
    store = _store(tmp_path, 256)
    try:
        assert store.read(_limit) == "30.5 MiB"  # LEAN_LIMIT_MB: what a process that only records needs
        assert store.read(lambda cur: cur.execute(_BIG_READ).fetchone()) == (8_000_000,)
        assert store.read(_limit) == "244.1 MiB"  # the setting, for the rest of the process
    finally:
        store.close()

    store = _store(tmp_path, 16)  # a setting below the lean limit is the limit from the start, and stays it
    try:
        assert store.read(_limit) == "15.2 MiB"
        with pytest.raises(duckdb.OutOfMemoryException):
            store.read(lambda cur: cur.execute(_BIG_READ).fetchone())
        assert store.read(_limit) == "15.2 MiB"
    finally:
        store.close()


def test_a_big_round_gets_the_setting_before_it_is_written(tmp_path, errors):
    """A backlog or a burst (more than LEAN_ROUND_BYTES) would run out of the lean limit once and
    be written again: the audit ingest bench lost ~15 % to that."""
    store = _store(tmp_path, 256)
    try:
        _record_one_big_round(store)
        assert len(_bodies(store)) == 3000
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()
    assert store.write_errors == 0 and errors == []


def test_a_round_that_runs_out_of_the_lean_limit_goes_in_whole_once_the_setting_allows_it(tmp_path, errors, monkeypatch):
    from studio.analytics import store as store_module

    monkeypatch.setattr(store_module, "LEAN_ROUND_BYTES", 1 << 40)  # not raised before: the round runs out
    store = _store(tmp_path, 256)
    try:
        _record_one_big_round(store)
        assert len(_bodies(store)) == 3000
        assert store.read(_limit) == "244.1 MiB"
        assert store._chunk == spool.READ_CHUNK  # not halved: the setting had room for it
    finally:
        store.close()
    assert store.write_errors == 1 and errors == []


def test_the_web_app_keeps_the_setting_from_the_start(tmp_path):
    """Its dashboard reads the same blocks again and again: at 300k calls it took 45–54 ms with
    the lean limit's cache against 33–38 ms with the setting's."""
    (tmp_path / "analytics.json").write_text(json.dumps({"memoryLimitMb": 256}))
    store = AnalyticsStore(tmp_path)
    try:
        assert store.start(take_over=True, serving_pages=True)
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()
    store = _store(tmp_path, 256)  # opened lean by a read, then serving pages
    try:
        assert store.read(_limit) == "30.5 MiB"
        store.start(serving_pages=True)
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()


def test_commands_migrations_and_retention_get_the_setting_when_they_need_it(tmp_path, monkeypatch):
    """Migrations and retention run as the database opens; over a big database, at the lean limit,
    running out of memory there was the database not opening at all."""
    from studio.analytics import retention
    from studio.analytics import store as store_module

    store = _store(tmp_path, 256)
    try:
        assert store.submit(lambda cur: cur.execute(_BIG_READ).fetchone()) == (8_000_000,)
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()

    def heavy_retention(cur, days):  # as much memory as a big database's retention can take
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(_BIG_READ).fetchone()
            cur.execute("COMMIT")
        except Exception:
            cur.execute("ROLLBACK")
            raise
        return retention.RetentionReport(cutoff=None)  # what it rolled up: nothing

    monkeypatch.setattr(retention, "apply_retention", heavy_retention)
    store = _store(tmp_path, 256)
    try:
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()

    monkeypatch.undo()  # and a migration step as heavy (an upgrade over a big database)
    monkeypatch.setattr(store_module, "migrate", lambda cur: heavy_retention(cur, None))
    store = _store(tmp_path, 256)
    try:
        assert store.read(_limit) == "244.1 MiB"
    finally:
        store.close()
