"""The dashboard reads its additive figures from roll-ups (the hourly one the writer keeps, and
one per dashboard), not from the facts themselves; on varied data (errors, unpriced and cached
calls, fallbacks, streamed and not, daily roll-ups left by retention), written in many
batches, before and after compaction, and under every kind of filter, each of its figures
must equal what the single queries compute from detail."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics import rollup
from studio.analytics.retention import apply_retention
from studio.analytics.schema import migrate
from tests.analytics.data import call

NOW = datetime(2026, 3, 20, 15, 37, 12, tzinfo=timezone.utc)


def _random_calls(n: int, seed: int = 7):
    rng = random.Random(seed)
    models = ["m/a", "m/b", "m/c", "m/d"]
    for i in range(n):
        error = rng.random() < 0.15
        model = rng.choice(models)
        yield call(
            f"c{i}", NOW - timedelta(seconds=rng.randrange(10 * 24 * 3600)), model,
            {"m/a": "openai", "m/b": "anthropic", "m/c": "local", "m/d": "openai"}[model],
            rng.choice([None, "p1", "p2", "p3"]),
            status="error" if error else "ok",
            error_class=rng.choice([None, "timeout", "rate_limited"]) if error else None,
            latency=rng.choice([0.0, 3.0, rng.uniform(5, 2000)]),
            ttft=rng.choice([None, rng.uniform(1, 100), 5000.0]),
            tin=rng.randrange(200), tout=rng.choice([0, rng.randrange(1, 500)]),
            cost=rng.choice([None, 0.0, rng.uniform(0, 0.01)]),
            cache_hit=rng.random() < 0.1, saved=rng.choice([None, 0.002]),
            fell_back_from=rng.choice([None] * 8 + ["m/a", "m/b"]),
        )


def _reference(cur, f: q.Filters) -> dict:
    """The dashboard as the single queries compute it from the facts (no roll-up)."""
    return {
        "summary": q.summary(cur, f), "bucket": q.pick_bucket(f), "over_time": q.calls_over_time(cur, f),
        "latency": q.latency_by_model(cur, f), "tokens_per_second": q.tokens_per_second(cur, f),
        "errors": q.errors_by_class(cur, f),
        **{f"cost_by_{d}": q.cost_by(cur, d, f) for d in ("model", "pipeline", "provider", "day")},
        "top_pipelines": q.top_pipelines(cur, f), "cache": q.cache_savings(cur, f),
        "fallbacks": q.fallback_counts(cur, f),
    }


def _same(got, want, path="dashboard"):
    """Equal, with the same types; doubles equal up to the order they were added in."""
    if isinstance(want, dict):
        assert got.keys() == want.keys(), path
        for key in want:
            _same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), path
        for k, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{path}[{k}]")
    elif isinstance(want, float):
        assert isinstance(got, float) and got == pytest.approx(want, rel=1e-12, abs=1e-15), path
    else:
        assert type(got) is type(want) and got == want, path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = AnalyticsStore(tmp_path_factory.mktemp("rollup"))
    for k, record in enumerate(_random_calls(3000)):
        s.record_call(record)
        if k % 400 == 0:
            s.flush()  # many batches: the same hour and key in several rows of hourly_calls
    s.flush()
    s.submit(lambda cur: apply_retention(cur, 4, now=NOW))  # days older than 4 go to daily_calls
    yield s
    s.close()


FILTERS = {
    "all time": q.Filters(),
    "last 7 days, off the hour": q.Filters(since=NOW - timedelta(days=7, minutes=13)),
    "last 24 h, one model": q.Filters(since=NOW - timedelta(hours=24), model="m/b"),
    "two hours (minute buckets)": q.Filters(since=NOW - timedelta(hours=2)),
    "a window across the retention cut": q.Filters(since=NOW - timedelta(days=6, hours=5),
                                                   until=NOW - timedelta(days=2, seconds=7)),
    "errors of one pipeline": q.Filters(pipeline="p2", status="error"),
    "nothing": q.Filters(model="m/none"),
}


def _count(store, table: str) -> int:
    return store.read(lambda cur: cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.parametrize("name", FILTERS)
def test_dashboard_equals_the_single_queries(store, name):
    f = FILTERS[name]
    assert _count(store, "daily_calls") > 0
    _same(store.read(q.dashboard, f), store.read(_reference, f))


def test_compaction_merges_rows_and_keeps_every_figure(store):
    before = {name: store.read(q.dashboard, f) for name, f in FILTERS.items()}
    rows = _count(store, "hourly_calls")
    left = store.submit(rollup.compact)
    assert left < rows and left == _count(store, "hourly_calls")
    for name, f in FILTERS.items():
        _same(store.read(q.dashboard, f), store.read(_reference, f), name)
        _same(store.read(q.dashboard, f), before[name], name)


def test_migration_fills_the_hourly_rollup_from_stored_calls(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "analytics.duckdb"))
    migrate(con, target=3)
    con.execute("""INSERT INTO calls (id, time, model_id, provider, pipeline_id, status, latency_ms, ttft_ms,
                       overhead_ms, input_tokens, output_tokens, cached_tokens, usage_source, cost_usd, cache_hit,
                       usage_estimated)
                   SELECT 'c' || i, TIMESTAMP '2026-03-20 15:00:00' - INTERVAL (i * 97) SECOND, 'm/' || (i % 3),
                          'p', 'pipe', CASE WHEN i % 7 = 0 THEN 'error' ELSE 'ok' END, 10 + i % 50, NULL, 0,
                          i % 11, i % 13, 0, 'provider', CASE WHEN i % 5 = 0 THEN NULL ELSE 0.001 END, false, false
                   FROM range(2000) t(i)""")
    con.close()
    store = AnalyticsStore(tmp_path)
    try:
        assert _count(store, "hourly_calls") > 0
        for name, f in FILTERS.items():
            _same(store.read(q.dashboard, f), store.read(_reference, f), name)
    finally:
        store.close()
