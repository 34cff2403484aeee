"""Retention: call detail older than N days is rolled up into `daily_calls` (one row per
day × model × provider × pipeline × status × error class) and then deleted. Counts, cost,
tokens, cache savings and fallbacks stay queryable; percentiles need the detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass
class RetentionReport:
    cutoff: datetime | None
    calls_rolled_up: int = 0
    runs_trimmed: int = 0
    blobs_deleted: int = 0

    def plus(self, earlier: "RetentionReport") -> "RetentionReport":
        """This report and an earlier application's, as one: what was rolled up in all."""
        return RetentionReport(cutoff=self.cutoff or earlier.cutoff,
                               calls_rolled_up=self.calls_rolled_up + earlier.calls_rolled_up,
                               runs_trimmed=self.runs_trimmed + earlier.runs_trimmed,
                               blobs_deleted=self.blobs_deleted + earlier.blobs_deleted)


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """Midnight UTC `days` days ago: whole days go to the daily table, never half a day."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    return (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)


def apply_retention(cur, days: int | None, now: datetime | None = None) -> RetentionReport:
    if not days:
        return RetentionReport(cutoff=None)
    cutoff = cutoff_for(days, now)
    cur.execute("BEGIN TRANSACTION")
    try:
        calls = cur.execute("SELECT count(*) FROM calls WHERE time < ?", [cutoff]).fetchone()[0]
        cur.execute(
            """INSERT INTO daily_calls
               SELECT CAST(time AS DATE), model_id, provider, pipeline_id, status, error_class,
                      count(*), count(*) FILTER (WHERE cost_usd IS NULL), sum(cost_usd),
                      sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(latency_ms),
                      count(*) FILTER (WHERE cache_hit), sum(saved_usd),
                      count(*) FILTER (WHERE fell_back_from IS NOT NULL)
               FROM calls WHERE time < ? GROUP BY ALL""",
            [cutoff],
        )
        cur.execute("DELETE FROM calls WHERE time < ?", [cutoff])
        cur.execute("DELETE FROM hourly_calls WHERE hour < ?", [cutoff])  # the cutoff is a midnight
        # Only what is not trimmed yet, and texts only when calls went: retention runs each time
        # the database is taken, and redoing it all took ~400 ms at 1M calls with nothing to do.
        untrimmed = "started < ? AND (node_count > 0 OR inputs IS NOT NULL OR outputs IS NOT NULL)"
        runs = cur.execute(f"SELECT count(*) FROM runs WHERE {untrimmed}", [cutoff]).fetchone()[0]
        if runs:
            cur.execute(f"DELETE FROM run_nodes WHERE run_id IN (SELECT id FROM runs WHERE {untrimmed})", [cutoff])
            cur.execute(f"UPDATE runs SET inputs = NULL, outputs = NULL, node_count = 0 WHERE {untrimmed}", [cutoff])
        blobs = 0
        if calls:  # a text is kept while a call points at it
            blobs = cur.execute(
                """DELETE FROM audit_blobs WHERE sha256 NOT IN (
                       SELECT input_hash FROM calls WHERE input_hash IS NOT NULL
                       UNION SELECT output_hash FROM calls WHERE output_hash IS NOT NULL)"""
            ).fetchone()[0]
        cur.execute("COMMIT")
    except Exception:
        cur.execute("ROLLBACK")
        raise
    return RetentionReport(cutoff=cutoff, calls_rolled_up=int(calls), runs_trimmed=int(runs), blobs_deleted=int(blobs))
