"""Analytics figures: ingest rate through the batching writer (calls, and runs as a batch
records them), each dashboard query's latency with 1,000,000 calls stored (generated with
DuckDB SQL directly, for speed), and what one write of 200 runs and their calls costs in that
database beside an empty one (the writer's work must not grow with what is already stored).

    python -m bench.bench_analytics [--ingest 200000] [--rows 1000000] [--repeat 5] [--json]

Runs in its own temporary IOM_HOME; prints figures, asserts nothing."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import secrets
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def bench_ingest(home: Path, n: int, audit: bool) -> float:
    from studio.analytics import AnalyticsStore
    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord

    now = datetime.now(timezone.utc)
    records = [CallRecord(id=f"c{i}", time=now, model_id=f"m/model-{i % 20}", provider="openai",
                          pipeline_id=f"p{i % 30}", latency_ms=100 + i % 900, ttft_ms=20.0,
                          usage=Usage(input_tokens=100, output_tokens=200, source="provider"), cost_usd=0.001)
               for i in range(n)]
    payload = [({"prompt": f"question {i}"}, {"text": f"answer {i}"}) if audit else (None, None) for i in range(n)]
    store = AnalyticsStore(home)
    store.read(lambda cur: None)  # open and migrate before timing
    start = time.perf_counter()
    for record, (inp, out) in zip(records, payload):
        store.record_call(record, inp, out)
    enqueued = time.perf_counter() - start
    store.flush(timeout=None)
    elapsed = time.perf_counter() - start
    store.close()
    print(f"  record_call returns in {enqueued / n * 1e6:.2f} µs on average (enqueue only)")
    return n / elapsed


def bench_runs(home: Path, n: int) -> float:
    """Runs per second through the writer as a batch records them: each run when it starts and
    when it ends (three nodes with their inputs and outputs), and its model call with content
    between, all recorded, then taken in."""
    from studio.analytics import AnalyticsStore
    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord, NodeRun, RunRecord

    store = AnalyticsStore(home)
    store.read(lambda cur: None)  # open and migrate before timing
    start = time.perf_counter()
    for i in range(n):
        text = f"Review {i}: the product was fine"
        run = RunRecord(id=secrets.token_hex(8), pipeline_id="p1", inputs={"text": text},
                        nodes={node: NodeRun(node_id=node) for node in ("in", "model", "out")})
        store.record_run(run)
        answer = {"label": "positive", "score": (i % 100) / 100}
        store.record_call(CallRecord(id=secrets.token_hex(8), model_id="m/model-1", provider="local", run_id=run.id,
                                     node_id="model", usage=Usage(input_tokens=10, output_tokens=5, source="provider")),
                          {"text": text}, answer)
        run.status, run.outputs = "succeeded", {"out": answer}
        for node, (inputs, output) in zip(run.nodes.values(), (({}, {"text": text}), ({"text": text}, answer),
                                                                ({"in": answer}, {"in": answer}))):
            node.status, node.inputs, node.output = "succeeded", inputs, output
        store.record_run(run)
    store.flush(timeout=None)
    elapsed = time.perf_counter() - start
    store.close()
    return n / elapsed


GENERATE = """
INSERT INTO calls SELECT
    'c' || i, TIMESTAMP '{end}' - INTERVAL ((i // 4) * 10 - i % 2) SECOND,  -- within its run (GENERATE_RUNS)
    'm/model-' || (i % 20), ['openai', 'anthropic', 'gemini', 'ollama', 'local'][1 + i % 5],
    CASE WHEN i % 3 = 0 THEN NULL ELSE 'pipeline-' || (i % 30) END,
    CASE WHEN i % 3 = 0 THEN NULL ELSE left(md5((i // 4)::VARCHAR), 16) END, NULL,
    CASE WHEN i % 20 = 0 THEN 'error' ELSE 'ok' END,
    CASE WHEN i % 20 = 0 THEN ['timeout', 'rate_limited', 'server', 'auth'][1 + i % 4] END, NULL,
    50 + (hash(i) % 2000), CASE WHEN i % 2 = 0 THEN 10 + hash(i) % 300 END, 1.0,
    100 + i % 500, 50 + i % 700, i % 50, NULL, 'provider',
    CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 1000) / 1e6 END, i % 25 = 0,
    CASE WHEN i % 25 = 0 THEN 0.001 END, CASE WHEN i % 40 = 0 THEN 'm/model-' || ((i + 1) % 20) END,
    NULL, sha256('{{"prompt":"question ' || i || '"}}'), NULL, NULL, false
FROM range({rows}) t(i)
"""


GENERATE_BLOBS = """
INSERT INTO audit_blobs (sha256, body, size, first_seen, key)
SELECT sha256(body), body, 30, TIMESTAMP '{end}' - INTERVAL (i % (30 * 24 * 3600)) SECOND, {key}
FROM (SELECT i, '{{"prompt":"question ' || i || '"}}' AS body FROM range({rows}) t(i))
"""


def bench_write(store, rounds: int = 9, size: int = 200) -> float:
    """Median ms of one round as the engine records runs: `size` runs as they start (committed),
    then their calls with content and the finished runs (committed)."""
    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord, NodeRun, RunRecord

    times = []
    for r in range(rounds):
        runs = [RunRecord(id=secrets.token_hex(8), pipeline_id="p1", inputs={"text": f"row {r}-{i}"},
                          nodes={n: NodeRun(node_id=n) for n in ("in", "llm", "out")}) for i in range(size)]
        t = time.perf_counter()
        for run in runs:
            store.record_run(run)
        store.flush(timeout=None)
        for i, run in enumerate(runs):
            store.record_call(CallRecord(id=secrets.token_hex(8), model_id="m/model-1", provider="openai", run_id=run.id,
                                         node_id="llm", usage=Usage(input_tokens=10, output_tokens=5, source="provider")),
                              {"prompt": f"row {r}-{i}"}, {"text": f"answer {r}-{i}"})
            run.status = "succeeded"
            for n in run.nodes.values():
                n.status, n.output = "succeeded", {"text": f"answer {r}-{i}"}
            store.record_run(run)
        store.flush(timeout=None)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_id(i: int) -> str:
    """The id GENERATE_RUNS gives run `i`: random-looking, as the engine's are (a prefix and a
    counter would let DuckDB's min/max skip every row group a lookup scans)."""
    return hashlib.md5(str(i).encode()).hexdigest()[:16]


def bench_open(home: Path, repeat: int = 3) -> dict[str, float]:
    """Median ms for a process to take the database (open, migrations checked, retention
    applied), with retention off and with 60 days of it, which finds nothing to delete here:
    every command that owns the database pays this."""
    from studio.analytics import AnalyticsStore

    figures = {}
    for label, days in (("off", None), ("on", 60)):
        AnalyticsStore(home).update_settings(retention_days=days)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            store = AnalyticsStore(home)
            store.read(lambda cur: None)
            times.append((time.perf_counter() - t) * 1000)
            store.close()
        figures[label] = round(statistics.median(times), 1)
    return figures


GENERATE_RUNS = """
INSERT INTO runs SELECT left(md5(i::VARCHAR), 16), 'pipeline-' || (i % 30), 'Pipeline ' || (i % 30),
    CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
    TIMESTAMP '{end}' - INTERVAL (i * 10) SECOND, TIMESTAMP '{end}' - INTERVAL (i * 10 - 2) SECOND,
    '{{"text":"input ' || i || '"}}', '{{"text":"output ' || i || '"}}', NULL, NULL, NULL,
    2000, (i % 1000) / 1e5, 0, 300, 200, 0, 3
FROM range({runs}) t(i);
INSERT INTO run_nodes SELECT left(md5((i // 3)::VARCHAR), 16), 'node-' || (i % 3), 'succeeded', 'm/model-' || (i % 20), NULL,
    '{{"text":"in"}}', '{{"text":"out"}}', NULL, NULL, NULL, NULL, 1,
    TIMESTAMP '{end}' - INTERVAL ((i // 3) * 10) SECOND, NULL, 600, NULL, 100, 70, 0, 0.0001
FROM range({runs} * 3) t(i);
"""


def bench_queries(home: Path, rows: int, repeat: int) -> tuple[dict[str, float], float]:
    """Print each query's median; return the whole dashboard's median (ms) per time range, and
    `bench_write`'s figure in this database."""
    from studio.analytics import AnalyticsStore
    from studio.analytics import queries as q
    from studio.analytics import lookups, rollup
    from studio.analytics.export import write_calls

    store = AnalyticsStore(home)
    end = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    t0 = time.perf_counter()
    store.submit(lambda cur: cur.execute(GENERATE.format(end=end, rows=rows)), timeout=None)
    store.submit(lambda cur: cur.execute("CHECKPOINT"), timeout=None)
    store.submit(lambda cur: cur.execute(GENERATE_RUNS.format(end=end, runs=rows // 4)), timeout=None)
    key = lookups.KEY_SQL.format(column="sha256(body)")
    store.submit(lambda cur: cur.execute(GENERATE_BLOBS.format(end=end, rows=rows, key=key)), timeout=None)
    # The SQL above bypasses the writer, which keeps the hourly roll-up as calls arrive: build it
    # the way the schema migration does for calls already stored.
    store.submit(rollup.rebuild, timeout=None)
    store.submit(lambda cur: cur.execute("CHECKPOINT"), timeout=None)
    print(f"  generated {rows:,} calls and audit texts, {rows // 4:,} runs and {rows // 4 * 3:,} run nodes with SQL "
          f"in {time.perf_counter() - t0:.1f} s")
    now = datetime.now(timezone.utc)
    cases = {
        "all time": q.Filters(),
        "last 7 days": q.Filters(since=now - timedelta(days=7)),
        "last 24 h, one model": q.Filters(since=now - timedelta(days=1), model="m/model-3"),
    }
    queries = {
        "summary (cards)": q.summary, "calls_over_time": q.calls_over_time, "latency_by_model": q.latency_by_model,
        "tokens_per_second": q.tokens_per_second, "errors_by_class": q.errors_by_class,
        "cost_by model": lambda cur, f: q.cost_by(cur, "model", f),
        "cost_by pipeline": lambda cur, f: q.cost_by(cur, "pipeline", f),
        "cost_by provider": lambda cur, f: q.cost_by(cur, "provider", f),
        "cost_by day": lambda cur, f: q.cost_by(cur, "day", f),
        "top_pipelines": q.top_pipelines, "cache_savings": q.cache_savings, "fallback_counts": q.fallback_counts,
        "recent_calls": q.recent_calls, "list_runs": q.list_runs,
    }
    dashboard: dict[str, float] = {}
    for label, f in cases.items():
        print(f"\n  {label}: median of {repeat} (ms)")
        worst = 0.0
        for name, fn in queries.items():
            store.read(fn, f)  # warm
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                store.read(fn, f)
                times.append((time.perf_counter() - t) * 1000)
            med = statistics.median(times)
            worst = max(worst, med)
            print(f"    {name:<20} {med:8.1f}   (max {max(times):.1f})")
        run_times = []
        for k in range(repeat):
            t = time.perf_counter()
            store.read(q.get_run, run_id(k * 997))
            run_times.append((time.perf_counter() - t) * 1000)
        print(f"    {'get_run (drill-down)':<20} {statistics.median(run_times):8.1f}   (max {max(run_times):.1f})")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            store.read(q.dashboard, f)
            times.append((time.perf_counter() - t) * 1000)
        dashboard[label] = round(statistics.median(times), 1)
        print(f"    {'whole dashboard':<20} {statistics.median(times):8.1f}   (slowest single query {worst:.1f})")
    t = time.perf_counter()
    exported = io.BytesIO()  # the page's export writes the same to a file under IOM_HOME/exports/
    store.read(write_calls, q.Filters(since=now - timedelta(days=1)), "parquet", exported)
    size = exported.tell()
    print(f"\n  parquet export of last 24 h: {size / 1e6:.1f} MB in {(time.perf_counter() - t) * 1000:.0f} ms")
    write_ms = bench_write(store)
    store.close()
    return dashboard, write_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingest", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="also print one JSON object with the figures")
    args = parser.parse_args()
    ingest: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IOM_HOME"] = tmp
        print(f"ingest through the writer, {args.ingest:,} calls (cores: {os.cpu_count()})")
        for audit in (False, True):
            home = Path(tmp) / f"ingest-{audit}"
            home.mkdir()
            rate = bench_ingest(home, args.ingest, audit)
            ingest["audit" if audit else "plain"] = round(rate)
            print(f"  {'with' if audit else 'without'} audit content: {rate:,.0f} rows/s")
        home = Path(tmp) / "runs"
        home.mkdir()
        runs = max(1, args.ingest // 10)
        ingest["runs"] = round(bench_runs(home, runs))
        print(f"  {runs:,} runs as a batch records them (at start and end, a call between): "
              f"{ingest['runs']:,} runs/s")
        from studio.analytics import AnalyticsStore

        home = Path(tmp) / "queries"
        home.mkdir()
        (Path(tmp) / "empty").mkdir()
        print(f"\ndashboard queries with {args.rows:,} calls stored")
        store = AnalyticsStore(Path(tmp) / "empty")
        write_empty_ms = bench_write(store)
        store.close()
        dashboard, write_stored_ms = bench_queries(home, args.rows, args.repeat)
        opening = bench_open(home)
        print(f"\n  taking the database with {args.rows:,} calls: {opening['off']:.0f} ms, with 60 days of retention "
              f"(nothing to delete) {opening['on']:.0f} ms")
        print(f"\n  one write of 200 runs as they start, then their calls with content and their ends: "
              f"{write_empty_ms:.1f} ms into an empty database, {write_stored_ms:.1f} ms with {args.rows:,} calls "
              f"stored ({write_stored_ms / write_empty_ms:.2f}x)")
    if args.json:
        print(json.dumps({"ingest_rows_per_s": ingest,
                          "dashboard_ms": {"all_time": dashboard["all time"], "last_7_days": dashboard["last 7 days"]},
                          "write_ms": {"empty": round(write_empty_ms, 1), "stored": round(write_stored_ms, 1)},
                          "open_ms": {"retention_off": opening["off"], "retention_on": opening["on"]},
                          "rows": args.rows}))


if __name__ == "__main__":
    main()
