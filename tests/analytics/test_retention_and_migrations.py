"""Retention rolls old call detail into daily aggregates; older schemas migrate forward."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics.retention import apply_retention
from studio.analytics.schema import LATEST, migrate
from studio.errors import UserError
from studio.spec.records import CallRecord, NodeRun, RunRecord
from tests.analytics.data import at, call, load_known


def _table(store, dim):
    return [(r["key"], r["calls"], None if r["cost_usd"] is None else round(r["cost_usd"], 6), r["unpriced_calls"])
            for r in store.read(q.cost_by, dim)]


def test_retention_keeps_daily_totals_and_drops_detail(iom_home):
    store = AnalyticsStore(iom_home)
    load_known(store)
    store.record_run(RunRecord(id="old", pipeline_id="p1", started=at(10, 10), inputs={"x": 1},
                               nodes={"n": NodeRun(node_id="n", output={"y": 1})}))
    before = {dim: _table(store, dim) for dim in ("model", "pipeline", "provider", "day")}
    summary_before = store.read(q.summary)
    store.flush()

    # now = Jan 12 noon, keep 1 day → cutoff Jan 11 00:00: c1..c6 are rolled up, c7 stays
    report = store.submit(lambda cur: apply_retention(cur, 1, now=at(12, 12)))
    assert report.cutoff == datetime(2026, 1, 11) and report.calls_rolled_up == 6 and report.runs_trimmed == 1
    assert report.blobs_deleted == 12  # the inputs and outputs of c1..c6
    assert store.read(lambda cur: cur.execute("SELECT id FROM calls").fetchall()) == [("c7",)]

    after = store.read(q.summary)
    for key in ("calls", "errors", "unpriced_calls", "cache_hits", "fallbacks", "input_tokens", "output_tokens"):
        assert after[key] == summary_before[key], key
    assert after["cost_usd"] == pytest.approx(0.30) and after["saved_usd"] == pytest.approx(0.05)
    assert after["latency_calls"] == 1  # the p95 is of c7 alone, and says so (the card said "of 7 calls")
    assert {dim: _table(store, dim) for dim in before} == before
    assert [(r["bucket"].day, r["calls"], r["errors"]) for r in store.read(q.calls_over_time, q.Filters(), "day")] == [
        (10, 6, 1), (11, 1, 1)]
    assert store.read(q.summary, q.Filters(model="m/a"))["calls"] == 3  # filters apply to the roll-ups too
    assert [r["model_id"] for r in store.read(q.latency_by_model)] == ["m/b"]  # percentiles need detail
    run = store.read(q.get_run, "old")
    assert run["inputs"] is None and run["nodes"] == []

    # Retention runs at every open: again the same day it finds nothing; the next day only c7,
    # whose texts go with it, and the run trimmed already is left alone.
    again = store.submit(lambda cur: apply_retention(cur, 1, now=at(12, 12)))
    assert (again.calls_rolled_up, again.runs_trimmed, again.blobs_deleted) == (0, 0, 0)
    later = store.submit(lambda cur: apply_retention(cur, 1, now=at(13, 12)))
    assert (later.calls_rolled_up, later.runs_trimmed) == (1, 0)
    assert store.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0]) == 0
    assert store.read(lambda cur: cur.execute("SELECT count(*) FROM audit_blobs").fetchone()[0]) == 0
    store.close()


def test_a_range_counts_the_rolled_up_days_it_holds_whole_and_no_call_before_it(iom_home):
    """A day kept only as its totals was counted from its midnight: a range starting at 18:00
    took in the calls of that morning too, and "the last 7 days" overcounted after retention."""
    store = AnalyticsStore(iom_home)
    for i, (day, hour) in enumerate([(8, 9), (9, 6), (9, 20), (10, 8), (10, 22), (12, 10)]):
        store.record_call(call(f"c{i}", at(day, hour), "m/a", "openai", "p1", cost=0.01 * (i + 1)))
    store.flush()
    store.submit(lambda cur: apply_retention(cur, 1, now=at(12, 12)))  # days 8 to 10 become totals
    counted = {since: store.read(q.summary, q.Filters(since=since))["calls"]
               for since in (at(9, 0), at(9, 18), at(10, 12), datetime(2026, 1, 11, tzinfo=timezone.utc))}
    # from the 9th's midnight: all of the 9th and 10th and the 12th; from 18:00 on the 9th or noon on
    # the 10th, the part-days cannot be cut, so they are left out (never a call from before the range)
    assert counted == {at(9, 0): 5, at(9, 18): 3, at(10, 12): 1, datetime(2026, 1, 11, tzinfo=timezone.utc): 1}
    until = store.read(q.summary, q.Filters(since=at(9, 0), until=at(10, 12)))
    assert until["calls"] == 2 and until["cost_usd"] == pytest.approx(0.05)  # the 9th whole; the 10th not
    store.close()


def test_retention_setting_applies_on_demand_and_at_start(iom_home):
    now = datetime.now(timezone.utc)
    store = AnalyticsStore(iom_home)
    store.record_call(call("old", now - timedelta(days=40), "m/a", "p", None, cost=1.0))
    store.record_call(call("new", now, "m/a", "p", None, cost=2.0))
    store.flush()
    assert store.apply_retention().calls_rolled_up == 0  # no setting: keep everything
    store.update_settings(retention_days=30)
    assert store.apply_retention().calls_rolled_up == 1
    store.record_call(call("old2", now - timedelta(days=35), "m/a", "p", None, cost=4.0))
    store.close()

    store = AnalyticsStore(iom_home)  # opening applies the setting
    assert store.read(lambda cur: cur.execute("SELECT id FROM calls").fetchall()) == [("new",)]
    assert store.read(q.summary)["cost_usd"] == pytest.approx(7.0)
    store.close()


def test_duckdb_memory_is_bounded_by_the_setting(iom_home):
    def limit(cur):
        return cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    store = AnalyticsStore(iom_home)
    assert store.read(limit) == "30.5 MiB"  # lean until a query needs more (test_memory_limit.py); MiB
    store.update_settings(memory_limit_mb=24)
    store.close()
    store = AnalyticsStore(iom_home)
    assert store.read(limit) == "22.8 MiB"  # a setting below the lean limit is the limit
    store.close()


def test_settings_reject_nonsense(iom_home):
    store = AnalyticsStore(iom_home)
    with pytest.raises(ValueError):
        store.update_settings(retention_days=0)
    (iom_home / "analytics.json").write_text("{not json")
    with pytest.raises(UserError):
        AnalyticsStore(iom_home).settings


def test_migrates_a_version_1_database(iom_home):
    path = iom_home / "analytics.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == 1
    con.execute("""INSERT INTO calls (id, time, model_id, provider, status, latency_ms, overhead_ms, input_tokens,
                   output_tokens, cached_tokens, usage_source, cache_hit)
                   VALUES ('v1', TIMESTAMP '2026-01-10 10:00:00', 'm/a', 'p', 'ok', 12, 0, 3, 4, 0, 'estimate', false)""")
    con.close()

    store = AnalyticsStore(iom_home)
    version = store.read(lambda cur: cur.execute("SELECT max(version), count(*) FROM schema_version").fetchone())
    assert version == (LATEST, 1)
    assert store.read(lambda cur: cur.execute("SELECT id, usage_estimated FROM calls").fetchall()) == [("v1", True)]
    store.record_call(CallRecord(id="v2", model_id="m/a", provider="p"))
    store.flush()
    assert store.read(q.summary)["calls"] == 2
    assert store.read(lambda cur: cur.execute("SELECT count(*) FROM daily_calls").fetchone()[0]) == 0
    store.close()


def test_version_5_drops_the_pending_nodes_of_runs_still_running(iom_home):
    """A run stored as it started by an older studio kept its pending nodes; its end, written by
    this one, must replace them, and replacing no longer scans run_nodes for them."""
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    assert migrate(con, target=4) == 4
    for run_id, status in (("going", "running"), ("done", "succeeded")):
        con.execute("INSERT INTO runs (id, pipeline_id, status, started) VALUES (?, 'p', ?, TIMESTAMP '2026-12-01 10:00')",
                    [run_id, status])
        con.execute("INSERT INTO run_nodes (run_id, node_id, status) VALUES (?, 'a', ?)",
                    [run_id, "pending" if status == "running" else "succeeded"])
    con.close()

    store = AnalyticsStore(iom_home)
    try:
        nodes = lambda cur: cur.execute("SELECT run_id, node_id, status FROM run_nodes ORDER BY 1").fetchall()  # noqa: E731
        assert store.read(nodes) == [("done", "a", "succeeded")]
        store.record_run(RunRecord(id="going", pipeline_id="p", status="succeeded",
                                   nodes={"a": NodeRun(node_id="a", status="succeeded")}))
        store.flush()
        assert store.read(nodes) == [("done", "a", "succeeded"), ("going", "a", "succeeded")]
    finally:
        store.close()


def test_version_6_gives_each_stored_text_its_key(iom_home):
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    assert migrate(con, target=5) == 5
    con.execute("INSERT INTO audit_blobs VALUES (sha256('{\"prompt\":\"old\"}'), '{\"prompt\":\"old\"}', 16, now())")
    con.close()

    store = AnalyticsStore(iom_home)
    try:
        store.record_call(CallRecord(id="c", model_id="m/a", provider="p"), {"prompt": "old"}, None)
        store.flush()
        blobs = store.read(lambda cur: cur.execute("SELECT sha256, key FROM audit_blobs").fetchall())
    finally:
        store.close()
    assert len(blobs) == 1 and blobs[0][1] == int(blobs[0][0][:31], 16)  # keyed, and not stored twice


def test_the_writer_checkpoints_as_it_goes(iom_home):
    """Every commit records how far the spool was read. Written as an update (INSERT OR REPLACE),
    it kept DuckDB from checkpointing any commit made while another transaction was open (a page's
    or a capability node's read in flight): the write-ahead log, and the memory holding what it
    had not checkpointed, grew for as long as reads overlapped the writer's commits. Here with a
    256 KB threshold and a read open throughout: the log stays near it (it reached 9.7 MiB)."""
    store = AnalyticsStore(iom_home)
    reader = None
    try:
        store.read(lambda cur: cur.execute("SET checkpoint_threshold = '256KB'"))
        reader = store._connection().cursor()  # a page's read, in flight at every commit
        reader.execute("BEGIN TRANSACTION")
        reader.execute("SELECT count(*) FROM runs").fetchall()
        for i in range(40):
            for j in range(100):
                text = f"review {i}-{j}: " + "the product was fine, " * 8
                store.record_run(RunRecord(id=f"r{i}-{j}", pipeline_id="p", status="succeeded", inputs={"text": text},
                                           outputs={"out": text.upper()},
                                           nodes={n: NodeRun(node_id=n, status="succeeded", inputs={"text": text},
                                                             output={"text": text}) for n in ("a", "b", "c")}))
            store.flush()  # a commit (with the spool's progress) each round
        sizes = store.read(lambda cur: cur.execute(
            "SELECT database_size, wal_size FROM pragma_database_size()").fetchone())
        runs = store.read(lambda cur: cur.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        if reader is not None:
            reader.close()
        store.close()
    assert runs == 4000
    database, wal = (_bytes(v) for v in sizes)
    assert wal < 1024 * 1024 < database, sizes  # checkpointed into the file, not piling up in the log


def _bytes(size: str) -> float:
    number, unit = size.split()
    return float(number) * {"bytes": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}[unit]


def test_refuses_a_newer_schema(iom_home):
    con = duckdb.connect(str(iom_home / "analytics.duckdb"))
    migrate(con)
    con.execute("UPDATE schema_version SET version = ?", [LATEST + 1])
    con.close()
    with pytest.raises(UserError, match="newer than this studio"):
        AnalyticsStore(iom_home).read(q.summary)
