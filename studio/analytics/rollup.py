"""`hourly_calls`: the calls' additive figures per hour and key, kept as calls arrive, so the
dashboard's counts, cost, tokens, cache savings and fallbacks read thousands of rows instead
of every call.

Kept exact by construction: the writer adds each batch's sums in the same transaction that
inserts the batch into `calls` (rows for the same hour and key are added up when read, and
`compact` merges them from time to time); retention deletes the hours it moves to
`daily_calls`; migration fills it from the calls already stored. A range that starts or ends
inside an hour reads those edges from `calls` (`facts`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

KEYS = "model_id, provider, pipeline_id, status, error_class, fell_back_from"
_GENERATION = "latency_ms - coalesce(ttft_ms, 0)"
_TPS = f"status = 'ok' AND NOT cache_hit AND output_tokens > 0 AND {_GENERATION} > 0"

# Per call: the additive columns every dashboard figure sums (see queries.rolled_up).
DETAIL_FACTS = f"""{KEYS}, 1 AS calls, CAST(cost_usd IS NULL AS INTEGER) AS unpriced, cost_usd,
    input_tokens, output_tokens, cached_tokens, CAST(cache_hit AS INTEGER) AS cache_hits, saved_usd,
    CAST(fell_back_from IS NOT NULL AS INTEGER) AS fallbacks, CAST({_TPS} AS INTEGER) AS tps_calls,
    CASE WHEN {_TPS} THEN output_tokens ELSE 0 END AS tps_output_tokens,
    CASE WHEN {_TPS} THEN {_GENERATION} ELSE 0 END AS tps_generation_ms"""

# Sums of those columns; integer sums cast back to BIGINT (DuckDB widens them to HUGEINT).
SUMS = """CAST(sum(calls) AS BIGINT) AS calls, CAST(sum(unpriced) AS BIGINT) AS unpriced, sum(cost_usd) AS cost_usd,
    CAST(sum(input_tokens) AS BIGINT) AS input_tokens, CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
    CAST(sum(cached_tokens) AS BIGINT) AS cached_tokens, CAST(sum(cache_hits) AS BIGINT) AS cache_hits,
    sum(saved_usd) AS saved_usd, CAST(sum(fallbacks) AS BIGINT) AS fallbacks,
    CAST(sum(tps_calls) AS BIGINT) AS tps_calls, CAST(sum(tps_output_tokens) AS BIGINT) AS tps_output_tokens,
    sum(tps_generation_ms) AS tps_generation_ms"""

CREATE = """CREATE TABLE hourly_calls (
    hour TIMESTAMP NOT NULL, model_id VARCHAR NOT NULL, provider VARCHAR NOT NULL, pipeline_id VARCHAR,
    status VARCHAR NOT NULL, error_class VARCHAR, fell_back_from VARCHAR,
    calls BIGINT NOT NULL, unpriced BIGINT NOT NULL, cost_usd DOUBLE, input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, cache_hits BIGINT NOT NULL, saved_usd DOUBLE,
    fallbacks BIGINT NOT NULL, tps_calls BIGINT NOT NULL, tps_output_tokens BIGINT NOT NULL,
    tps_generation_ms DOUBLE NOT NULL)"""


def _add_sql(source: str, where: str = "") -> str:
    return f"""INSERT INTO hourly_calls
        SELECT date_trunc('hour', time) AS hour, {KEYS}, {SUMS}
        FROM (SELECT time, {DETAIL_FACTS} FROM {source}{where}) GROUP BY ALL"""


FILL = _add_sql("calls")


def add(cur, source: str) -> int:
    """Add the sums of the calls in `source` (a relation with the `calls` columns, just inserted
    into `calls` in this transaction); returns the rows added."""
    return int(cur.execute(_add_sql(source)).fetchone()[0])


def compact(cur) -> int:
    """Merge the rows of each hour and key into one (inside the caller's transaction); returns
    the rows left."""
    cur.execute(f"""CREATE OR REPLACE TEMP TABLE hourly_compacted AS
        SELECT hour, {KEYS}, {SUMS} FROM hourly_calls GROUP BY ALL""")
    cur.execute("DELETE FROM hourly_calls")
    cur.execute("INSERT INTO hourly_calls SELECT * FROM hourly_compacted")
    cur.execute("DROP TABLE hourly_compacted")
    return int(cur.execute("SELECT count(*) FROM hourly_calls").fetchone()[0])


def rebuild(cur) -> None:
    """Recompute from `calls` (for data written into `calls` by other means, e.g. bench SQL)."""
    cur.execute("DELETE FROM hourly_calls")
    cur.execute(FILL)


def _ceil_hour(t: datetime) -> datetime:
    floor = t.replace(minute=0, second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(hours=1)


def _bounds(column: str, lo: datetime | None, hi: datetime | None) -> tuple[list[str], list]:
    """`column >= lo` and `column < hi` for the bounds that are given, with their parameters."""
    conds, params = [], []
    if lo is not None:
        conds.append(f"{column} >= ?")
        params.append(lo)
    if hi is not None:
        conds.append(f"{column} < ?")
        params.append(hi)
    return conds, params


def facts(since: datetime | None, until: datetime | None, keys: tuple[str, list]) -> tuple[str, list]:
    """The calls in [since, until) (naive UTC) as (hour-or-time, keys, additive columns): whole
    hours from `hourly_calls`, the parts of hours at the edges from `calls`. `keys` is the
    model/pipeline/status condition (" AND …", params)."""
    cond, cond_params = keys
    lo = _ceil_hour(since) if since is not None else None
    hi = until.replace(minute=0, second=0, microsecond=0) if until is not None else None
    whole, whole_params = _bounds("hour", lo, hi)
    hourly = f"""SELECT hour AS time, {KEYS}, calls, unpriced, cost_usd, input_tokens, output_tokens, cached_tokens,
            cache_hits, saved_usd, fallbacks, tps_calls, tps_output_tokens, tps_generation_ms
        FROM hourly_calls WHERE {' AND '.join(whole) or 'true'}{cond}"""
    if since is None and until is None:
        return hourly, cond_params
    edge, edge_params = _bounds("time", since, until)
    # Outside the whole hours (when there are none — lo >= hi — that is every call in range).
    edge.append(f"NOT ({' AND '.join(c.replace('hour', 'time') for c in whole)})")
    edge_params += whole_params
    detail = f"SELECT time, {DETAIL_FACTS} FROM calls WHERE {' AND '.join(edge)}{cond}"
    return f"{hourly} UNION ALL {detail}", whole_params + cond_params + edge_params + cond_params
