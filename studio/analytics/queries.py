"""Every dashboard query, shared by the UI, the CLI and the gateway.

Each function takes a DuckDB cursor and `Filters` and returns plain dicts (JSON-ready).
Counts, cost, tokens, cache savings and fallbacks read call detail plus the daily roll-ups
that retention leaves behind; percentiles, TTFT and tokens/s need detail and read `calls`.
Cost is a sum over priced calls only; unpriced calls are counted separately, never as $0.

`dashboard` reads the additive figures from one small table (`rolled_up`: the hourly roll-up
the writer keeps, plus detail at the range's edges) and only the percentiles from detail,
so a million calls are read for the percentiles alone, not a dozen times.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from studio.analytics import rollup as hourly  # the module; `rollup` below names a registered table
from studio.analytics.lookups import KEY_SQL
from studio.analytics.rows import utc_naive
from studio.analytics.schema import CALL_COLUMNS
from studio.errors import UserError

STATUSES = ("ok", "error")


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    pipeline: str | None = None
    status: str | None = None

    def where(self, time_col: str = "time", detail: bool = True) -> tuple[str, list]:
        parts, params = [], []
        if self.since is not None:
            parts.append(f"{time_col} >= ?")
            params.append(utc_naive(self.since) if detail else _first_whole_day(self.since))
        if self.until is not None:
            parts.append(f"{time_col} < ?")
            params.append(utc_naive(self.until) if detail else utc_naive(self.until).date())
        for col, value in (("model_id", self.model), ("pipeline_id", self.pipeline), ("status", self.status)):
            if value:
                parts.append(f"{col} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _first_whole_day(since: datetime) -> date:
    """The first rolled-up day a range from `since` holds whole. A day kept only as its totals
    (past the retention) cannot be cut at an hour: counted from its midnight, "the last 7 days"
    took in up to a day of calls from before the range; it counts from the next whole day."""
    t = utc_naive(since)
    return t.date() if t.time() == time() else t.date() + timedelta(days=1)


_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """'30m', '24h', '7d', '4w' → a UTC time that long ago; 'all' or empty → None."""
    if not text or text.strip().lower() == "all":
        return None
    m = _SINCE.match(text.lower())
    if not m:
        raise UserError(f"{text!r} is not a time span; use e.g. 30m, 24h, 7d or 4w (or 'all').")
    n, unit = int(m.group(1)), m.group(2)
    try:
        delta = {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return (now or datetime.now(timezone.utc)) - delta
    except (OverflowError, ValueError):  # more than the calendar holds: everything there is
        raise UserError(f"{text!r} reaches back before the year 1; use a shorter span, e.g. 365d, or 'all'.") from None


def _facts(f: Filters, rollup: str | None = None) -> tuple[str, list]:
    """Call detail and daily roll-ups as one relation with the same additive columns; or,
    given `rollup`, the name of the table `rolled_up` registered for these same filters."""
    if rollup is not None:
        return f"{rollup} AS facts", []
    w1, p1 = f.where("time", detail=True)
    w2, p2 = f.where("day", detail=False)
    sql = f"""(
        SELECT time, model_id, provider, pipeline_id, status, error_class, 1 AS calls,
               CAST(cost_usd IS NULL AS INTEGER) AS unpriced, cost_usd, input_tokens, output_tokens,
               cached_tokens, CAST(cache_hit AS INTEGER) AS cache_hits, saved_usd,
               CAST(fell_back_from IS NOT NULL AS INTEGER) AS fallbacks
        FROM calls{w1}
        UNION ALL
        SELECT CAST(day AS TIMESTAMP), model_id, provider, pipeline_id, status, error_class, calls,
               unpriced_calls, cost_usd, input_tokens, output_tokens, cached_tokens, cache_hits,
               saved_usd, fallbacks
        FROM daily_calls{w2}) AS facts"""
    return sql, p1 + p2


def _dicts(cur, sql: str, params: list) -> list[dict[str, Any]]:
    rel = cur.execute(sql, params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row)) for row in rel.fetchall()]


def summary(cur, f: Filters = Filters(), *, rollup: str | None = None) -> dict[str, Any]:
    """The cards: calls, errors, error rate, cost (+ unpriced count), p95 latency, cache savings.
    The error rate and the p95 are of the calls that reached a model: a cache hit cannot fail
    and takes the lookup's ~0 ms, and counted in, a cache-heavy week hid a failing provider."""
    src, params = _facts(f, rollup)
    row = _dicts(cur, f"""SELECT coalesce(sum(calls), 0) AS calls,
            coalesce(sum(calls) FILTER (WHERE status = 'error'), 0) AS errors,
            sum(cost_usd) AS cost_usd, coalesce(sum(unpriced), 0) AS unpriced_calls,
            coalesce(sum(cache_hits), 0) AS cache_hits, coalesce(sum(saved_usd), 0) AS saved_usd,
            coalesce(sum(fallbacks), 0) AS fallbacks,
            coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens
        FROM {src}""", params)[0]
    w, p = f.where()
    w += (" AND " if w else " WHERE ") + "NOT cache_hit"
    # the percentile needs each call's latency: over the calls still in detail (past the
    # retention only daily totals are kept), and it says how many those are
    row["p95_latency_ms"], row["latency_calls"] = cur.execute(
        f"SELECT quantile_cont(latency_ms, 0.95), count(*) FROM calls{w}", p).fetchone()
    made = row["calls"] - row["cache_hits"]
    row["error_rate"] = (row["errors"] / made) if made else None
    row["priced_calls"] = row["calls"] - row["unpriced_calls"]
    return row


def pick_bucket(f: Filters, now: datetime | None = None) -> str:
    """Buckets that fit the range: minutes up to three hours, hours up to two days, days beyond
    (and for 'all time'), so a one-hour range is not one bar."""
    if f.since is None:
        return "day"
    end = f.until or now or datetime.now(timezone.utc)
    span = utc_naive(end) - utc_naive(f.since)
    if span <= timedelta(hours=3):
        return "minute"
    return "hour" if span <= timedelta(days=2) else "day"


BUCKET_STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def calls_over_time(cur, f: Filters = Filters(), bucket: str | None = None, *,
                    rollup: str | None = None) -> list[dict[str, Any]]:
    """Calls and errors per bucket. A `rollup` is grouped by `pick_bucket(f)`: only that bucket
    (or a coarser one) can be read from it."""
    bucket = bucket or pick_bucket(f)
    if bucket not in ("minute", "hour", "day"):
        raise ValueError(bucket)
    src, params = _facts(f, rollup)
    return _dicts(cur, f"""SELECT date_trunc('{bucket}', time) AS bucket, sum(calls) AS calls,
            coalesce(sum(calls) FILTER (WHERE status = 'error'), 0) AS errors
        FROM {src} GROUP BY 1 ORDER BY 1""", params)


def latency_by_model(cur, f: Filters = Filters()) -> list[dict[str, Any]]:
    """p50/p95/p99 latency and TTFT (streamed calls only) per model, from detail, over the
    calls that reached the model: a cache hit's ~0 ms is the studio's lookup, and counted in
    it made a model whose outputs are often reused look fast (capability nodes pick by this
    p50). One `quantile_cont` per column with a list of fractions: DuckDB orders each group's
    values once for all of them, instead of once per fraction (a third of the time at 1M calls)."""
    w, p = f.where()
    w += (" AND " if w else " WHERE ") + "NOT cache_hit"
    return _dicts(cur, f"""SELECT model_id, calls, lat[1] AS p50_ms, lat[2] AS p95_ms, lat[3] AS p99_ms,
            ttft[1] AS ttft_p50_ms, ttft[2] AS ttft_p95_ms
        FROM (SELECT model_id, count(*) AS calls, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS lat,
                     quantile_cont(ttft_ms, [0.5, 0.95]) AS ttft
              FROM calls{w} GROUP BY 1)
        ORDER BY p95_ms DESC, model_id""", p)


def tokens_per_second(cur, f: Filters = Filters(), *, rollup: str | None = None) -> list[dict[str, Any]]:
    """Output tokens per second of generation per model: output tokens over (latency − TTFT,
    or latency when not streamed), for successful, non-cached calls that produced tokens."""
    if rollup is not None:
        return _dicts(cur, f"""SELECT model_id, sum(tps_calls) AS calls, sum(tps_output_tokens) AS output_tokens,
                sum(tps_output_tokens) / (sum(tps_generation_ms) / 1000.0) AS tokens_per_s
            FROM {rollup} WHERE tps_calls > 0 GROUP BY 1 ORDER BY tokens_per_s DESC, model_id""", [])
    w, p = f.where()
    extra = " AND " if w else " WHERE "
    return _dicts(cur, f"""SELECT model_id, count(*) AS calls, sum(output_tokens) AS output_tokens,
            sum(output_tokens) / (sum(latency_ms - coalesce(ttft_ms, 0)) / 1000.0) AS tokens_per_s
        FROM calls{w}{extra}status = 'ok' AND NOT cache_hit AND output_tokens > 0
             AND latency_ms - coalesce(ttft_ms, 0) > 0
        GROUP BY 1 ORDER BY tokens_per_s DESC, model_id""", p)


def errors_by_class(cur, f: Filters = Filters(), *, rollup: str | None = None) -> list[dict[str, Any]]:
    """Errors per class, with each class's share of the calls in the filter that reached a
    model (as `summary`'s error rate: cache hits left out)."""
    src, params = _facts(f, rollup)
    return _dicts(cur, f"""WITH t AS (SELECT sum(calls) - sum(cache_hits) AS total FROM {src})
        SELECT coalesce(error_class, 'unknown') AS error_class, sum(calls) AS errors,
               sum(calls) / any_value(t.total) AS rate
        FROM {_facts(f, rollup)[0]}, t WHERE status = 'error' GROUP BY 1 ORDER BY errors DESC, error_class""",
        params + params)


_COST_KEYS = {"model": "model_id", "pipeline": "pipeline_id", "provider": "provider", "day": "CAST(time AS DATE)"}


def cost_by(cur, dimension: str, f: Filters = Filters(), *, rollup: str | None = None) -> list[dict[str, Any]]:
    """Cost per model / pipeline / provider / day. `cost_usd` sums priced calls (None when
    none was priced); `unpriced_calls` counts the calls whose cost is unknown."""
    if dimension not in _COST_KEYS:
        raise ValueError(f"dimension must be one of {sorted(_COST_KEYS)}")
    src, params = _facts(f, rollup)
    # Rounded to a nano-dollar: costs equal but summed in another order (the roll-ups, parallel
    # sums) differ in the last bits, and must not swap places.
    order = "1" if dimension == "day" else "round(coalesce(sum(cost_usd), 0), 9) DESC, 1"
    return _dicts(cur, f"""SELECT {_COST_KEYS[dimension]} AS key, sum(calls) AS calls, sum(cost_usd) AS cost_usd,
            sum(unpriced) AS unpriced_calls
        FROM {src} GROUP BY 1 ORDER BY {order} NULLS LAST""", params)


def top_pipelines(cur, f: Filters = Filters(), limit: int = 10, *, rollup: str | None = None) -> list[dict[str, Any]]:
    src, params = _facts(f, rollup)
    return _dicts(cur, f"""SELECT pipeline_id, sum(calls) AS calls,
            coalesce(sum(calls) FILTER (WHERE status = 'error'), 0) AS errors,
            sum(cost_usd) AS cost_usd, sum(unpriced) AS unpriced_calls
        FROM {src} WHERE pipeline_id IS NOT NULL GROUP BY 1 ORDER BY calls DESC, pipeline_id LIMIT {int(limit)}""",
        params)


def cache_savings(cur, f: Filters = Filters(), *, rollup: str | None = None) -> dict[str, Any]:
    src, params = _facts(f, rollup)
    row = _dicts(cur, f"""SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(cache_hits), 0) AS cache_hits,
            coalesce(sum(saved_usd), 0) AS saved_usd FROM {src}""", params)[0]
    row["hit_rate"] = row["cache_hits"] / row["calls"] if row["calls"] else None
    return row


def fallback_counts(cur, f: Filters = Filters(), *, rollup: str | None = None) -> list[dict[str, Any]]:
    """How often each model was fallen back from, and to which model (detail only: the daily
    roll-ups, and their rows in a `rollup`, have no `fell_back_from`)."""
    if rollup is not None:
        return _dicts(cur, f"""SELECT fell_back_from AS from_model, model_id AS to_model, sum(calls) AS count
            FROM {rollup} WHERE fell_back_from IS NOT NULL GROUP BY 1, 2 ORDER BY count DESC, 1, 2""", [])
    w, p = f.where()
    extra = " AND " if w else " WHERE "
    return _dicts(cur, f"""SELECT fell_back_from AS from_model, model_id AS to_model, count(*) AS count
        FROM calls{w}{extra}fell_back_from IS NOT NULL GROUP BY 1, 2 ORDER BY count DESC, 1, 2""", p)


RECENT_COLUMNS = ("id", "time", "model_id", "provider", "pipeline_id", "run_id", "node_id", "status",
                  "error_class", "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd",
                  "cache_hit", "fell_back_from")


def recent_calls(cur, f: Filters = Filters(), limit: int = 50) -> list[dict[str, Any]]:
    w, p = f.where()
    return _dicts(cur, f"SELECT {', '.join(RECENT_COLUMNS)} FROM calls{w} ORDER BY time DESC, id LIMIT {int(limit)}", p)


def list_runs(cur, f: Filters = Filters(), limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs in the range, of the pipeline; with a model or a status, the runs that
    made such a call (an error: or that failed), as the cards and charts count calls. The
    table listed every run whatever the page's model and status said."""
    w, p = Filters(since=f.since, until=f.until, pipeline=f.pipeline).where("started")
    made = []
    for col, value in (("model_id", f.model), ("status", f.status)):
        if value:
            made.append(f"c.{col} = ?")
            p.append(value)
    if made:
        call = f"EXISTS (SELECT 1 FROM calls c WHERE c.run_id = runs.id AND {' AND '.join(made)})"
        if f.status == "error":
            call = f"({call} OR runs.status = 'failed')"
        w = f"{w} AND {call}" if w else f" WHERE {call}"
    return _dicts(cur, f"""SELECT id, pipeline_id, pipeline_name, status, started, ended, wall_ms, cost_usd,
            unpriced_calls, input_tokens, output_tokens, cached_nodes, node_count
        FROM runs{w} ORDER BY started DESC, id LIMIT {int(limit)}""", p)


# How far outside its run's start and end a node's start or a call's time may be: the clocks
# of other machines (a Ray cluster's workers), and a call recorded as its run is cancelled.
RUN_TIME_MARGIN = timedelta(hours=1)


def get_run(cur, run_id: str) -> dict[str, Any] | None:
    """One run with its nodes (which model produced which output, inputs, timings, cost) and calls.
    Nodes and calls are looked for within the run's time (`RUN_TIME_MARGIN` either side), which
    lets DuckDB's min/max skip the row groups of other days, where the id alone read both whole
    tables: side by side, 18 → 10 ms at a million calls, 54 → 10 ms at four million."""
    import json

    runs = _dicts(cur, "SELECT * FROM runs WHERE id = ?", [run_id])
    if not runs:
        return None
    run = runs[0]
    for key in ("inputs", "outputs"):
        run[key] = json.loads(run[key]) if run[key] is not None else None
    since = run["started"] - RUN_TIME_MARGIN
    until = (run["ended"] or utc_naive(datetime.now(timezone.utc))) + RUN_TIME_MARGIN
    nodes = _dicts(cur, """SELECT * FROM run_nodes WHERE run_id = ? AND (started IS NULL OR started BETWEEN ? AND ?)
        ORDER BY started NULLS LAST, node_id""", [run_id, since, until])
    for node in nodes:
        for key in ("inputs", "output"):
            node[key] = json.loads(node[key]) if node[key] is not None else None
    run["nodes"] = nodes
    # with each call's error: a node's line says why its failed attempts failed (HTTP 500)
    run["calls"] = _dicts(cur, f"SELECT {', '.join(RECENT_COLUMNS)}, error_message FROM calls "
                               "WHERE run_id = ? AND time BETWEEN ? AND ? "
                               "ORDER BY time, id", [run_id, since, until])
    return run


def get_call(cur, ident: str) -> dict[str, Any] | None:
    """One call — by its id (what a gateway answer names in `x-request-id`: the call it made is
    recorded under it) or else by the provider's request id (`iom invoke --json`'s requestId) —
    with the input and output the audit trail keeps for it, so which model answered what can be
    read, not only its hashes. A provider's id shared by several calls gives the newest
    (`matches` says how many); None when no call in detail has that id (past the retention a
    call is only a daily total; a pipeline's request id is its run's)."""
    columns = ", ".join(c for c, _ in CALL_COLUMNS)
    rows = _dicts(cur, f"SELECT {columns} FROM calls WHERE id = ?", [ident])
    if not rows:
        rows = _dicts(cur, f"SELECT {columns} FROM calls WHERE request_id = ? ORDER BY time DESC, id", [ident])
    if not rows:
        return None
    call = {**rows[0], "matches": len(rows)}
    digests = [d for d in (call["input_hash"], call["output_hash"]) if d]
    kept = {r[0]: (r[1], r[2]) for r in cur.execute(
        f"SELECT sha256, body, size FROM audit_blobs WHERE key IN ({', '.join([KEY_SQL.format(column='?')] * len(digests))})"
        f" AND sha256 IN ({', '.join('?' * len(digests))})", digests + digests).fetchall()} if digests else {}
    for part in ("input", "output"):
        call[part] = audit_text(call[f"{part}_hash"], kept)
    return call


def audit_text(digest: str | None, kept: dict[str, tuple]) -> dict[str, Any]:
    """What the audit trail holds of one text: `kept` is "content" (its `text`), "hash" (the
    hashes-only setting kept its sha256 and size alone), "removed" (its text is gone: retention)
    or "none" (the call had none, e.g. it failed before an answer)."""
    if digest is None:
        return {"kept": "none", "sha256": None, "size": None, "text": None}
    if digest not in kept:
        return {"kept": "removed", "sha256": digest, "size": None, "text": None}
    body, size = kept[digest]
    return {"kept": "hash" if body is None else "content", "sha256": digest, "size": size, "text": body}


def filter_choices(cur) -> dict[str, list[str]]:
    """Models and pipelines seen, for the filter drop-downs: from the hourly and daily sums,
    which hold every call's model and pipeline in a few thousand rows (13 ms → 5 ms at 1M calls)."""
    models = [r[0] for r in cur.execute(
        "SELECT DISTINCT model_id FROM hourly_calls UNION SELECT DISTINCT model_id FROM daily_calls ORDER BY 1").fetchall()]
    pipes = [r[0] for r in cur.execute(
        "SELECT DISTINCT pipeline_id FROM hourly_calls WHERE pipeline_id IS NOT NULL UNION "
        "SELECT DISTINCT pipeline_id FROM daily_calls WHERE pipeline_id IS NOT NULL ORDER BY 1").fetchall()]
    return {"models": models, "pipelines": pipes}


def rolled_up(cur, f: Filters, name: str = "dashboard_facts") -> str:
    """Group the facts in `f` by every key the additive figures read — the time truncated to
    `pick_bucket(f)`, model, provider, pipeline, status, error class, fallen-back-from — with
    their sums, and register the result on `cur` as `name` (an Arrow table, this cursor only).
    Calls come from the hourly roll-up where whole hours are asked for, from detail at the
    range's edges (`rollup.facts`); for hour and day buckets only (`dashboard` reads minute
    ranges straight from the facts). Sums of sums and counts of counts: each figure read from it equals
    the one read from the facts themselves (doubles up to the order of addition, as DuckDB's
    parallel sum already is)."""
    bucket = pick_bucket(f)
    w, p = Filters(model=f.model, pipeline=f.pipeline, status=f.status).where()
    calls, calls_params = hourly.facts(utc_naive(f.since), utc_naive(f.until), (w.replace(" WHERE ", " AND ", 1), p))
    w2, p2 = f.where("day", detail=False)
    table = cur.sql(f"""SELECT date_trunc('{bucket}', time) AS time, {hourly.KEYS}, {hourly.SUMS}
        FROM ({calls}
            UNION ALL
            SELECT CAST(day AS TIMESTAMP), model_id, provider, pipeline_id, status, error_class, NULL, calls,
                   unpriced_calls, cost_usd, input_tokens, output_tokens, cached_tokens, cache_hits,
                   saved_usd, fallbacks, 0, 0, 0
            FROM daily_calls{w2})
        GROUP BY ALL""", params=calls_params + p2).to_arrow_table()
    cur.register(name, table)
    return name


def dashboard(cur, f: Filters = Filters()) -> dict[str, Any]:
    """Everything the page and `iom analytics --json` show, in one round trip: the additive
    figures from one roll-up of the facts (`rolled_up`), percentiles from detail. Ranges short
    enough for minute buckets are small: there each figure reads the facts directly, which
    costs less than building the roll-up first.

    The per-model percentiles, the dearest query (a third of the dashboard at 1M calls), run on
    a second cursor beside the rest: DuckDB selects each quantile on one thread, so the other
    figures use the core it leaves idle."""
    side = cur.cursor()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="dashboard-percentiles") as pool:  # (waits for it)
            latency = pool.submit(latency_by_model, side, f)
            figures = _additive_dashboard(cur, f)
            figures["latency"] = latency.result()
    finally:
        side.close()
    return figures


def _additive_dashboard(cur, f: Filters) -> dict[str, Any]:
    r = rolled_up(cur, f) if pick_bucket(f) != "minute" else None
    try:
        return {
            "summary": summary(cur, f, rollup=r),
            "bucket": pick_bucket(f),
            "over_time": calls_over_time(cur, f, rollup=r),
            "tokens_per_second": tokens_per_second(cur, f, rollup=r),
            "errors": errors_by_class(cur, f, rollup=r),
            "cost_by_model": cost_by(cur, "model", f, rollup=r),
            "cost_by_pipeline": cost_by(cur, "pipeline", f, rollup=r),
            "cost_by_provider": cost_by(cur, "provider", f, rollup=r),
            "cost_by_day": cost_by(cur, "day", f, rollup=r),
            "top_pipelines": top_pipelines(cur, f, rollup=r),
            "cache": cache_savings(cur, f, rollup=r),
            "fallbacks": fallback_counts(cur, f, rollup=r),
        }
    finally:
        if r is not None:
            cur.unregister(r)
