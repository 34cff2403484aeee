"""One recorded call as the CLI (`iom calls show`) and the Analytics page's call dialog say it:
its figures, which model answered, and the input and output the audit trail keeps."""

from __future__ import annotations

import json
from typing import Any

from studio import formats as fmt


def audit_display(part: dict[str, Any], what: str) -> str:
    """A stored text as readable text (JSON indented), or the sentence saying why it is not here.
    Secrets were masked when it was stored; nothing here unmasks them."""
    kept = part["kept"]
    if kept == "content":
        try:
            return json.dumps(json.loads(part["text"]), indent=2, ensure_ascii=False)
        except ValueError:
            return part["text"]
    if kept == "hash":
        return (f"(the {what}'s content was not kept: the audit setting 'hashes only' stored only its sha256 "
                f"{part['sha256']} and size, {part['size']:,} characters)")
    if kept == "removed":
        return f"(the {what}'s content is no longer stored (removed by retention); its sha256 was {part['sha256']})"
    return f"(this call has no {what}{': it failed before an answer' if what == 'output' else ''})"


def answered_by(call: dict[str, Any]) -> str:
    """Which model answered, and which it fell back from (and why)."""
    said = f"{call['model_id']} ({call['provider']})"
    if call["status"] != "ok":
        said = f"no answer: {said} failed"
    reason, fell_back_from = call["routing_reason"], call["fell_back_from"]
    if fell_back_from and not (reason or "").startswith(f"fell back from {fell_back_from}"):
        reason = f"after falling back from {fell_back_from}" + (f" ({reason})" if reason else "")
    return f"{said} — {reason}" if reason else said


def call_figures(call: dict[str, Any]) -> str:
    """Status, timings, tokens and cost on one line, in the studio's one number format."""
    status = call["status"] if call["status"] == "ok" else f"{call['status']} ({call['error_class'] or 'unknown'})"
    tokens = f"{fmt.tokens(call['input_tokens'])} → {fmt.tokens(call['output_tokens'])} tokens"
    extra = [f"{fmt.tokens(n)} {name}" for n, name in ((call["cached_tokens"], "cached"),
                                                        (call["reasoning_tokens"], "reasoning")) if n]
    if extra:
        tokens += f" ({', '.join(extra)})"
    if call.get("usage_estimated"):
        tokens += " (estimated)"
    parts = [status, f"latency {fmt.latency(call['latency_ms'])}"]
    if call["ttft_ms"] is not None:
        parts.append(f"first token {fmt.latency(call['ttft_ms'])}")
    parts += [tokens, f"cost {fmt.money(call['cost_usd'])}"]
    if call["cache_hit"]:
        parts.append(f"cache hit (saved {fmt.money(call['saved_usd'])})")
    return " · ".join(parts)


def where_from(call: dict[str, Any]) -> str | None:
    """The run, node and pipeline a call was made for, when it was."""
    if not call["run_id"] and not call["pipeline_id"]:
        return None
    return (f"node {call['node_id'] or '—'} of run {call['run_id'] or '—'} "
            f"(pipeline {call['pipeline_id'] or '—'})")


def ids_line(call: dict[str, Any]) -> str:
    """The call's id (what a gateway answer's x-request-id names) and the provider's request id."""
    return f"call id {call['id']} · provider request id {call['request_id'] or '—'}"
