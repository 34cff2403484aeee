"""Spooled call lines → one Arrow table for `calls`, parsed by Arrow's JSON reader.

The writer used to turn each line (or each queued record) into Python values, row by row:
at 5,000 calls a batch that kept it holding the GIL for tens of milliseconds, and every
`record_call` waiting to re-take the GIL after its spool write paid for it. Arrow parses the
lines in C++ without the GIL; the hashes of the audit content are DuckDB's `sha256` (the same
hex digest of the same UTF-8 text that `rows.address` computes).

`parse_calls` only takes lines exactly as `lines.call_line` writes them. Anything else — a
line that is not JSON, a record missing a required field, an unknown status — makes it return
None, and the writer then reads those lines one by one with full validation (`lines.decode`),
skipping only what cannot be read, as before.
"""

from __future__ import annotations

import io
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from studio.analytics import lookups
from studio.analytics.rows import ESTIMATED_SOURCES, utc_naive
from studio.jsonread import valid_utf8
from studio.secrets import redact


# Arrow's default pool (mimalloc) keeps the memory of every batch the writer parsed: over a
# 10k-row batch run that was ~40 MB more peak RSS (bench_batch), for no gain in ingest speed.
# The C library's allocator gives freed batches back.
pa.set_memory_pool(pa.system_memory_pool())

_USAGE = pa.struct([
    ("input_tokens", pa.int64()), ("output_tokens", pa.int64()), ("cached_tokens", pa.int64()),
    ("reasoning_tokens", pa.int64()), ("source", pa.string()),
])
_RECORD = pa.struct([
    ("id", pa.string()), ("time", pa.string()), ("model_id", pa.string()), ("provider", pa.string()),
    ("pipeline_id", pa.string()), ("run_id", pa.string()), ("node_id", pa.string()), ("status", pa.string()),
    ("error_class", pa.string()), ("error_message", pa.string()), ("latency_ms", pa.float64()),
    ("ttft_ms", pa.float64()), ("overhead_ms", pa.float64()), ("usage", _USAGE), ("cost_usd", pa.float64()),
    ("cache_hit", pa.bool_()), ("saved_usd", pa.float64()), ("fell_back_from", pa.string()),
    ("routing_reason", pa.string()), ("input_hash", pa.string()), ("output_hash", pa.string()),
    ("request_id", pa.string()),
])
_LINE = pa.schema([("kind", pa.string()), ("record", _RECORD), ("input", pa.string()), ("output", pa.string())])
_REQUIRED = ("id", "time", "model_id", "provider", "status", "latency_ms", "overhead_ms", "cache_hit")
_REQUIRED_USAGE = ("input_tokens", "output_tokens", "cached_tokens", "source")

# The batch table: `calls` columns in CALL_COLUMNS order (input_hash/output_hash as the record
# carries them), then the audit content; the writer's SQL hashes the content.
INSERT_CALLS = """INSERT INTO calls SELECT id, time, model_id, provider, pipeline_id, run_id, node_id, status,
    error_class, error_message, latency_ms, ttft_ms, overhead_ms, input_tokens, output_tokens, cached_tokens,
    reasoning_tokens, usage_source, cost_usd, cache_hit, saved_usd, fell_back_from, routing_reason,
    coalesce(sha256(input_text), input_hash), coalesce(sha256(output_text), output_hash), request_id,
    usage_estimated FROM {table}"""

# The audit content of a batch table: one row per hash (DuckDB's sha256 is rows.address).
CALL_BLOBS = """SELECT sha256(body) AS sha256, any_value(body) AS body, strlen(any_value(body)) AS size
    FROM (SELECT input_text AS body FROM {table} UNION ALL SELECT output_text FROM {table})
    WHERE body IS NOT NULL GROUP BY 1"""

def insert_new_blobs(cur, blobs: str, *, hashes_only: bool) -> None:
    """Store the content `blobs` (a query of sha256, body, size) whose hash is not stored yet;
    with `hashes_only` the hash and size without the text. What is stored is found by the texts'
    integer key (studio/analytics/lookups.py): a semi-join on the hashes read every stored one."""
    cur.execute(f"""INSERT INTO audit_blobs (sha256, body, size, first_seen, key)
        WITH batch AS (SELECT sha256, body, size, {lookups.KEY_SQL.format(column='sha256')} AS key FROM ({blobs})),
            known AS (SELECT key FROM audit_blobs WHERE key IN (SELECT key FROM batch))
        SELECT sha256, {"NULL" if hashes_only else "body"}, size, CAST(now() AS TIMESTAMP), key FROM batch
        WHERE NOT EXISTS (SELECT 1 FROM known WHERE known.key = batch.key)""")


def parse_calls(lines: list[bytes]) -> pa.Table | None:
    """The call lines (each one JSON object, with or without its newline) as a batch table,
    or None when one of them is not a call line as `call_line` writes it."""
    if not lines:
        return None
    data = b"\n".join(lines)  # lines may end in their newline already: Arrow skips empty lines
    if b"\xed" in data and not valid_utf8(data):  # a lone surrogate (an old line): Arrow would pass it on
        return None
    block = max(1 << 20, max(map(len, lines)) + 1)  # Arrow cannot split one object over two blocks
    try:
        parsed = pj.read_json(
            io.BytesIO(data), read_options=pj.ReadOptions(block_size=block),
            parse_options=pj.ParseOptions(explicit_schema=_LINE, unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if parsed.num_rows != len(lines) or not _all(pc.equal(parsed["kind"], "call")):
        return None
    record = parsed["record"].combine_chunks()
    if record.null_count:
        return None
    field = {name: record.field(name) for name in _RECORD.names}
    usage = field["usage"]
    if usage.null_count:
        return None
    use = {name: usage.field(name) for name in _USAGE.names}
    if any(field[n].null_count for n in _REQUIRED) or any(use[n].null_count for n in _REQUIRED_USAGE):
        return None
    if not _all(pc.is_in(field["status"], pa.array(["ok", "error"]))):
        return None
    error_message = field["error_message"]
    if error_message.null_count < len(error_message):
        # Redacted when spooled; redacted again here because this process may know secrets
        # the spooling one did not (as the row-by-row writer always did).
        error_message = pa.array([redact(m) if m else m for m in error_message.to_pylist()], pa.string())
    columns = {
        "id": field["id"], "time": _utc_naive(field["time"]),
        **{n: field[n] for n in ("model_id", "provider", "pipeline_id", "run_id", "node_id", "status", "error_class")},
        "error_message": error_message,
        **{n: field[n] for n in ("latency_ms", "ttft_ms", "overhead_ms")},
        **{n: use[n] for n in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")},
        "usage_source": use["source"],
        **{n: field[n] for n in ("cost_usd", "cache_hit", "saved_usd", "fell_back_from", "routing_reason",
                                 "input_hash", "output_hash", "request_id")},
        "usage_estimated": pc.is_in(use["source"], pa.array(list(ESTIMATED_SOURCES))),
        "input_text": parsed["input"].combine_chunks(), "output_text": parsed["output"].combine_chunks(),
    }
    return pa.table(columns)


def _all(mask) -> bool:
    return bool(pc.all(mask).as_py()) and mask.null_count == 0


def _utc_naive(times: pa.Array) -> pa.Array:
    """ISO times as naive UTC timestamps. Pydantic writes UTC as '…Z', which Arrow casts in C++;
    any other offset (or none) goes through `rows.utc_naive`, as the row-by-row path did."""
    if _all(pc.ends_with(times, "Z")):
        return pc.cast(pc.utf8_slice_codeunits(times, 0, -1), pa.timestamp("us"))
    return pa.array([utc_naive(datetime.fromisoformat(t)) for t in times.to_pylist()], pa.timestamp("us"))
