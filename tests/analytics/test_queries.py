"""Every dashboard query on a known data set, against figures worked out by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics.queries import Filters
from studio.errors import UserError
from tests.analytics.data import DAY1, at, load_known


@pytest.fixture
def store(iom_home):
    s = AnalyticsStore(iom_home)
    load_known(s)
    yield s
    s.close()


def test_summary_counts_unpriced_calls_apart_from_cost(store):
    s = store.read(q.summary)
    assert (s["calls"], s["errors"], s["unpriced_calls"], s["priced_calls"]) == (7, 2, 3, 4)
    assert s["cost_usd"] == pytest.approx(0.30)
    # of the six calls that reached a model (c5 was answered from the cache)
    assert s["error_rate"] == pytest.approx(2 / 6)
    # latencies 5,50,100,200,300,400 (not c5's 10): p95 at position 4.75 → 300 + 0.75·100
    assert s["p95_latency_ms"] == pytest.approx(375.0)
    assert (s["cache_hits"], s["fallbacks"]) == (1, 1)
    assert s["saved_usd"] == pytest.approx(0.05)
    assert (s["input_tokens"], s["output_tokens"]) == (25, 240)


def test_all_unpriced_selection_has_no_cost_not_zero(store):
    s = store.read(q.summary, Filters(model="m/b", status="error"))
    assert s["calls"] == 1 and s["unpriced_calls"] == 1
    assert s["cost_usd"] is None


def test_filters_narrow_every_figure(store):
    assert store.read(q.summary, Filters(model="m/b"))["calls"] == 3
    assert store.read(q.summary, Filters(pipeline="p2", status="ok"))["calls"] == 2
    only_day2 = store.read(q.summary, Filters(since=at(11, 0)))
    assert (only_day2["calls"], only_day2["errors"]) == (1, 1)
    assert store.read(q.summary, Filters(until=at(10, 11)))["calls"] == 2


def test_calls_and_errors_over_time_by_day_and_hour(store):
    by_day = store.read(q.calls_over_time, Filters(), "day")
    assert [(r["bucket"].date(), r["calls"], r["errors"]) for r in by_day] == [
        (date(2026, 1, 10), 6, 1), (date(2026, 1, 11), 1, 1)]
    one_day = Filters(since=DAY1, until=at(11, 0))
    assert q.pick_bucket(one_day) == "hour"
    by_hour = store.read(q.calls_over_time, one_day)
    assert [(r["bucket"].hour, r["calls"], r["errors"]) for r in by_hour] == [
        (10, 2, 0), (11, 1, 1), (12, 2, 0), (13, 1, 0)]


def test_latency_percentiles_and_ttft_per_model(store):
    rows = {r["model_id"]: r for r in store.read(q.latency_by_model)}
    assert [r["model_id"] for r in store.read(q.latency_by_model)] == ["m/b", "m/a", "m/c"]
    a, b, c = rows["m/a"], rows["m/b"], rows["m/c"]
    assert (a["p50_ms"], a["p95_ms"], a["p99_ms"]) == pytest.approx((200, 290, 298))
    # m/b's cache hit (c5, 10 ms) never reached the model: its figures are c4's 400 and c7's 5 ms
    assert b["calls"] == 2 and (b["p50_ms"], b["p95_ms"], b["p99_ms"]) == pytest.approx((202.5, 380.25, 396.05))
    assert (c["p50_ms"], c["p95_ms"], c["p99_ms"]) == pytest.approx((50, 50, 50))
    assert (a["ttft_p50_ms"], b["ttft_p50_ms"], c["ttft_p50_ms"]) == (20, 100, None)


def test_tokens_per_second_excludes_errors_cache_hits_and_empty_outputs(store):
    rows = store.read(q.tokens_per_second)
    # m/a: (80 + 100) tokens over (100-20 + 200) ms; m/b: 30 tokens over 400-100 ms
    assert [(r["model_id"], r["calls"], r["output_tokens"]) for r in rows] == [("m/a", 2, 180), ("m/b", 1, 30)]
    assert rows[0]["tokens_per_s"] == pytest.approx(180 / 0.28)
    assert rows[1]["tokens_per_s"] == pytest.approx(100.0)


def test_error_rate_by_class(store):
    rows = store.read(q.errors_by_class)
    assert [(r["error_class"], r["errors"]) for r in rows] == [("rate_limited", 1), ("timeout", 1)]
    assert all(r["rate"] == pytest.approx(1 / 6) for r in rows)  # of the calls made: not c5, a cache hit


def test_cost_by_model_pipeline_provider_and_day(store):
    def table(dim):
        return [(r["key"], r["calls"], None if r["cost_usd"] is None else round(r["cost_usd"], 6), r["unpriced_calls"])
                for r in store.read(q.cost_by, dim)]

    assert table("model") == [("m/a", 3, 0.3, 1), ("m/b", 3, 0.0, 2), ("m/c", 1, 0.0, 0)]
    assert table("pipeline") == [("p1", 3, 0.3, 0), ("p2", 3, 0.0, 2), (None, 1, None, 1)]
    assert table("provider") == [("openai", 3, 0.3, 1), ("anthropic", 3, 0.0, 2), ("local", 1, 0.0, 0)]
    assert table("day") == [(date(2026, 1, 10), 6, 0.3, 2), (date(2026, 1, 11), 1, None, 1)]
    with pytest.raises(ValueError):
        store.read(q.cost_by, "colour")


def test_top_pipelines_cache_savings_and_fallbacks(store):
    top = store.read(q.top_pipelines)
    assert [(r["pipeline_id"], r["calls"], r["errors"], r["unpriced_calls"]) for r in top] == [
        ("p1", 3, 0, 0), ("p2", 3, 1, 2)]
    cache = store.read(q.cache_savings)
    assert (cache["calls"], cache["cache_hits"]) == (7, 1)
    assert cache["saved_usd"] == pytest.approx(0.05) and cache["hit_rate"] == pytest.approx(1 / 7)
    assert store.read(q.fallback_counts) == [{"from_model": "m/a", "to_model": "m/c", "count": 1}]


def test_recent_calls_newest_first_and_filter_choices(store):
    recent = store.read(q.recent_calls, Filters(), 3)
    assert [r["id"] for r in recent] == ["c7", "c6", "c4"]  # c4 and c5 share a time: id order
    assert store.read(q.filter_choices) == {"models": ["m/a", "m/b", "m/c"], "pipelines": ["p1", "p2"]}


def test_empty_store_gives_zeros_and_nones_not_errors(iom_home):
    s = AnalyticsStore(iom_home)
    try:
        d = s.read(q.dashboard)
        assert d["summary"]["calls"] == 0 and d["summary"]["cost_usd"] is None
        assert d["summary"]["error_rate"] is None and d["over_time"] == []
    finally:
        s.close()


def test_parse_since():
    now = datetime(2026, 1, 10, 12)
    assert q.parse_since("7d", now) == datetime(2026, 1, 3, 12)
    assert q.parse_since("24h", now) == datetime(2026, 1, 9, 12)
    assert q.parse_since("all", now) is None
    with pytest.raises(UserError):
        q.parse_since("yesterday", now)


def test_export_csv_and_parquet(store):
    import csv
    import io

    import pyarrow.parquet as pq

    from studio.analytics.export import write_calls

    def export(f, fmt):
        sink = io.BytesIO()
        store.read(write_calls, f, fmt, sink)
        return sink.getvalue()

    text = export(Filters(model="m/a"), "csv").decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == ["c1", "c2", "c3"]
    assert rows[2]["cost_usd"] == ""  # unpriced stays empty, not 0
    table = pq.read_table(io.BytesIO(export(Filters(), "parquet")))
    assert table.num_rows == 7 and table.column("cost_usd").null_count == 3
    assert export(Filters(model="nobody/none"), "csv").decode().startswith('"id","time","model_id"')  # the header alone


def test_an_export_written_a_batch_at_a_time_is_the_one_written_whole(store, monkeypatch, tmp_path):
    """A million calls were one Arrow table and one CSV in memory (618 MB); now DuckDB hands them
    over EXPORT_BATCH_ROWS at a time. The file is the same as the whole table written at once."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from studio.analytics import export
    from studio.analytics.schema import CALL_COLUMNS

    monkeypatch.setattr(export, "EXPORT_BATCH_ROWS", 2)
    cols = ", ".join(name for name, _ in CALL_COLUMNS)
    whole = store.read(lambda cur: cur.sql(f"SELECT {cols} FROM calls ORDER BY time, id").to_arrow_table())
    pacsv.write_csv(whole, tmp_path / "whole.csv")
    path = store.read(export.export_file, Filters(), "csv", store.home)
    assert path.parent == store.home / export.EXPORTS_DIR and path.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    parquet = store.read(export.export_file, Filters(), "parquet", store.home)
    assert pq.read_table(parquet).equals(whole)


def test_the_run_history_follows_the_model_and_status_filters(iom_home):
    """With Status=error the cards and charts showed errors only, and the run history listed
    every run, all "succeeded"; with a model, runs that never called it."""
    from studio.spec.records import RunRecord
    from tests.analytics.data import call

    s = AnalyticsStore(iom_home)
    for run_id, model, status in (("ra", "m/a", "ok"), ("rb", "m/b", "error")):
        s.record_run(RunRecord(id=run_id, pipeline_id="p1", started=at(10, 9), status="succeeded"))
        s.record_call(call(f"c-{run_id}", at(10, 9), model, "openai", "p1", status=status, run_id=run_id))
    s.record_run(RunRecord(id="rc", pipeline_id="p1", started=at(10, 9), status="failed", error="template"))
    s.flush()
    ids = lambda f: sorted(r["id"] for r in s.read(q.list_runs, f))
    assert ids(Filters()) == ["ra", "rb", "rc"]
    assert ids(Filters(model="m/a")) == ["ra"]
    assert ids(Filters(status="error")) == ["rb", "rc"]
    assert ids(Filters(status="ok", model="m/b")) == []
    s.close()
