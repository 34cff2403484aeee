"""Flatten records into table rows: CallRecord → a `calls` row plus audit blobs, RunRecord →
a `runs` row plus `run_nodes` rows. Content is redacted before it is hashed or stored, so a
secret can never reach the database, and equal content always gets the same address."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

from studio.jsonread import replace_lone_surrogates
from studio.secrets import redact, redact_data
from studio.secrets.redact import names_a_secret
from studio.spec.records import CallRecord, RunRecord

try:  # NiceGUI brings orjson where it has wheels (see pyproject.toml)
    import orjson
except ImportError:  # pragma: no cover - platforms without orjson wheels
    orjson = None

ESTIMATED_SOURCES = ("estimate", "tokenizer")


# json.dumps with options builds a new encoder on every call (a third of its cost on the
# short texts calls carry); one encoder with the same options gives the same text.
_json_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode

if orjson is not None:
    # dates and dataclasses go to `default` (str), as json sends them
    _ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# Where orjson's text may not be json's: numbers below 1e-4 (json writes 1e-05, orjson 0.00001,
# and 1e-07 against 1e-7), and null, which is also how orjson writes NaN and infinities.
_SMALL_EXPONENT = re.compile(rb"\de-")


def _may_differ(raw: bytes) -> bool:
    """Substring tests first: one regex with the three alternatives took longer than orjson."""
    return b"null" in raw or b"0.0000" in raw or (b"e-" in raw and _SMALL_EXPONENT.search(raw) is not None)


def _encode(content: Any) -> str:
    """json's canonical text (the one every stored address was made from), written by orjson
    where the two agree (~6x faster), by json where they may not or orjson refuses (integers
    past 64 bits, lone surrogates, keys that are not strings), lone surrogates as U+FFFD."""
    if orjson is not None:
        try:
            raw = orjson.dumps(content, default=str, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError
            raw = None
        if raw is not None and not _may_differ(raw):
            return raw.decode("utf-8")
    return replace_lone_surrogates(_json_encode(content))


def canonical(content: Any) -> str:
    """The text that is hashed and stored: redacted, sorted keys, no spaces. Secret-named keys
    (authorization, api_key …) are masked structurally only when present; known secret values
    and key shapes are masked in one pass over the serialised text."""
    if isinstance(content, dict) and names_a_secret(content):
        content = redact_data(content)
    return redact(_encode(content))


def address(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_naive(t: datetime | None) -> datetime | None:
    """DuckDB TIMESTAMP columns hold naive UTC."""
    if t is None or t.tzinfo is None:
        return t
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def call_columns(batch: list[tuple[CallRecord, str | None, str | None]], blobs: dict[str, str]) -> list[list]:
    """The batch as columns in CALL_COLUMNS order (no per-row tuples: building and transposing
    tens of thousands of tuples costs more in GC than the rest of a flush). Each item carries
    the call's input and output already in `canonical` form (see `content_text`)."""
    from studio.analytics.schema import CALL_COLUMNS

    columns: list[list] = [[] for _ in CALL_COLUMNS]
    appends = [c.append for c in columns]
    for record, input, output in batch:
        for append, value in zip(appends, call_row(record, input, output, blobs)):
            append(value)
    return columns


def content_text(content: Any) -> str | None:
    """A call's input or output as the audit trail keeps it (None when there is none)."""
    return None if content is None else canonical(content)


def call_row(record: CallRecord, input_text: str | None, output_text: str | None, blobs: dict[str, str]) -> tuple:
    """One `calls` row in CALL_COLUMNS order; adds the input/output content to `blobs`."""
    input_hash, output_hash = record.input_hash, record.output_hash
    if input_text is not None:
        input_hash = address(input_text)
        blobs.setdefault(input_hash, input_text)
    if output_text is not None:
        output_hash = address(output_text)
        blobs.setdefault(output_hash, output_text)
    u = record.usage
    return (
        record.id, utc_naive(record.time), record.model_id, record.provider, record.pipeline_id,
        record.run_id, record.node_id, record.status, record.error_class,
        redact(record.error_message) if record.error_message else None,
        float(record.latency_ms), record.ttft_ms, float(record.overhead_ms),
        u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens, u.source,
        record.cost_usd, record.cache_hit, record.saved_usd, record.fell_back_from,
        record.routing_reason, input_hash, output_hash, record.request_id,
        u.source in ESTIMATED_SOURCES,
    )


def _content(value: Any, hashes_only: bool) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    text = canonical(value)
    return (None if hashes_only else text), address(text)


def run_rows(run: RunRecord, hashes_only: bool) -> tuple[tuple, list[tuple]]:
    """The `runs` row and the `run_nodes` rows. A run still running has none of the latter: its
    nodes are all pending, and its end replaces its row through the runs' key (store._insert_runs)."""
    inputs, inputs_hash = _content(run.inputs, hashes_only)
    outputs, outputs_hash = _content(run.outputs, hashes_only)
    run_row = (
        run.id, run.pipeline_id, run.pipeline_name, run.status, utc_naive(run.started), utc_naive(run.ended),
        inputs, outputs, inputs_hash, outputs_hash, redact(run.error) if run.error else None,
        run.wall_ms, run.cost_usd, run.unpriced_calls, run.input_tokens, run.output_tokens,
        run.cached_nodes, len(run.nodes),
    )
    nodes = []
    for node in run.nodes.values() if run.status != "running" else ():
        n_in, n_in_hash = _content(node.inputs, hashes_only)
        n_out, n_out_hash = _content(node.output, hashes_only)
        nodes.append((
            run.id, node.node_id, node.status, node.model_id, node.reason, n_in, n_out, n_in_hash, n_out_hash,
            redact(node.error) if node.error else None, node.error_class, node.attempts,
            utc_naive(node.started), utc_naive(node.ended), node.latency_ms, node.ttft_ms,
            node.usage.input_tokens, node.usage.output_tokens, node.usage.cached_tokens, node.cost_usd,
        ))
    return run_row, nodes
