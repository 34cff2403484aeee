"""The analytics database schema, versioned: `schema_version` holds the version applied, and
each step in MIGRATIONS brings a database one version forward. A fresh database runs them all."""

from __future__ import annotations

CALL_COLUMNS: list[tuple[str, str]] = [
    ("id", "VARCHAR NOT NULL"),
    ("time", "TIMESTAMP NOT NULL"),  # UTC, naive
    ("model_id", "VARCHAR NOT NULL"),
    ("provider", "VARCHAR NOT NULL"),
    ("pipeline_id", "VARCHAR"),
    ("run_id", "VARCHAR"),
    ("node_id", "VARCHAR"),
    ("status", "VARCHAR NOT NULL"),
    ("error_class", "VARCHAR"),
    ("error_message", "VARCHAR"),
    ("latency_ms", "DOUBLE NOT NULL"),
    ("ttft_ms", "DOUBLE"),
    ("overhead_ms", "DOUBLE NOT NULL"),
    ("input_tokens", "BIGINT NOT NULL"),
    ("output_tokens", "BIGINT NOT NULL"),
    ("cached_tokens", "BIGINT NOT NULL"),
    ("reasoning_tokens", "BIGINT"),
    ("usage_source", "VARCHAR NOT NULL"),
    ("cost_usd", "DOUBLE"),  # NULL = unpriced, never $0
    ("cache_hit", "BOOLEAN NOT NULL"),
    ("saved_usd", "DOUBLE"),
    ("fell_back_from", "VARCHAR"),
    ("routing_reason", "VARCHAR"),
    ("input_hash", "VARCHAR"),
    ("output_hash", "VARCHAR"),
    ("request_id", "VARCHAR"),
    # added in version 2
    ("usage_estimated", "BOOLEAN NOT NULL"),
]

_V1 = [
    "CREATE TABLE calls ({})".format(", ".join(f"{n} {t}" for n, t in CALL_COLUMNS[:-1])),
    """CREATE TABLE runs (
        id VARCHAR PRIMARY KEY, pipeline_id VARCHAR NOT NULL, pipeline_name VARCHAR,
        status VARCHAR NOT NULL, started TIMESTAMP NOT NULL, ended TIMESTAMP,
        inputs VARCHAR, outputs VARCHAR, inputs_hash VARCHAR, outputs_hash VARCHAR,
        error VARCHAR, wall_ms DOUBLE, cost_usd DOUBLE, unpriced_calls INTEGER,
        input_tokens BIGINT, output_tokens BIGINT, cached_nodes INTEGER, node_count INTEGER)""",
    """CREATE TABLE run_nodes (
        run_id VARCHAR NOT NULL, node_id VARCHAR NOT NULL, status VARCHAR NOT NULL,
        model_id VARCHAR, reason VARCHAR, inputs VARCHAR, output VARCHAR,
        inputs_hash VARCHAR, output_hash VARCHAR, error VARCHAR, error_class VARCHAR,
        attempts INTEGER, started TIMESTAMP, ended TIMESTAMP, latency_ms DOUBLE, ttft_ms DOUBLE,
        input_tokens BIGINT, output_tokens BIGINT, cached_tokens BIGINT, cost_usd DOUBLE)""",
    # Content-addressed audit trail: calls.input_hash/output_hash point here.
    # body is NULL when the "hashes only" setting was on when the content was seen.
    # No PRIMARY KEY: the writer skips known hashes with an anti-join, which costs half of
    # what maintaining the index costs at every commit.
    """CREATE TABLE audit_blobs (
        sha256 VARCHAR NOT NULL, body VARCHAR, size BIGINT NOT NULL, first_seen TIMESTAMP NOT NULL)""",
]

_V2 = [
    # Whether the token counts are the provider's or an estimate.
    "ALTER TABLE calls ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT false",
    "UPDATE calls SET usage_estimated = usage_source IN ('estimate', 'tokenizer')",
    # Retention keeps these after call detail is dropped.
    """CREATE TABLE daily_calls (
        day DATE NOT NULL, model_id VARCHAR NOT NULL, provider VARCHAR NOT NULL,
        pipeline_id VARCHAR, status VARCHAR NOT NULL, error_class VARCHAR,
        calls BIGINT NOT NULL, unpriced_calls BIGINT NOT NULL, cost_usd DOUBLE,
        input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        latency_ms_sum DOUBLE NOT NULL, cache_hits BIGINT NOT NULL, saved_usd DOUBLE,
        fallbacks BIGINT NOT NULL)""",
]

_V3 = [
    # How far the database owner has read each process's spool segment (studio/analytics/spool.py);
    # updated in the same transaction as the rows it read, so every line is stored exactly once.
    "CREATE TABLE spool_progress (segment VARCHAR PRIMARY KEY, byte_offset BIGINT NOT NULL)",
]

def _v4() -> list[str]:
    from studio.analytics import rollup

    # Hourly sums the dashboard reads instead of every call (studio/analytics/rollup.py).
    return [rollup.CREATE, rollup.FILL]


_V5 = [
    # A run is stored twice: when it starts and when it ends. From version 5 the first keeps only
    # its `runs` row (its nodes are all pending then), so the second replaces it through the runs'
    # primary key instead of a scan of run_nodes at every write (studio/analytics/store.py).
    "DELETE FROM run_nodes WHERE run_id IN (SELECT id FROM runs WHERE status = 'running')",
]


def _v6() -> list[str]:
    from studio.analytics.lookups import KEY_SQL

    # Each audit text's integer key, so a write finds the texts already stored by one integer
    # column instead of every stored hash (studio/analytics/lookups.py).
    return ["ALTER TABLE audit_blobs ADD COLUMN key HUGEINT",
            f"UPDATE audit_blobs SET key = {KEY_SQL.format(column='sha256')}"]


MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _v4(), _V5, _v6()]
LATEST = len(MIGRATIONS)


def current_version(con) -> int:
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con, target: int = LATEST) -> int:
    """Bring the database to `target`, one transaction per step; returns the version reached."""
    version = current_version(con)
    if version > LATEST:
        from studio.errors import UserError

        raise UserError(
            f"the analytics database is schema version {version}, newer than this studio knows "
            f"({LATEST}); upgrade IoM Studio or move analytics.duckdb aside."
        )
    while version < target:
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            version += 1
            con.execute("DELETE FROM schema_version")
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return version
