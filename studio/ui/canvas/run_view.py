"""What a run looks like on the canvas: engine events and node records turned into the small
status patches the browser draws ({node_id: {state, latencyMs, cost, detail, fellBackTo}}).

Pure Python. Reads events leniently (dicts or objects, camelCase or snake_case), because the
canvas only needs a node id, a status and a few figures; a `NodeRun` (studio.spec.records)
is read the same way, so the final RunRecord always settles every node's badge.
"""

from __future__ import annotations

import json
from typing import Any

from studio.spec.pipeline import Pipeline

UI_STATE = {  # NodeStatus (records.py) -> what the canvas shows
    "pending": "queued", "queued": "queued", "running": "running", "started": "running",
    "succeeded": "done", "done": "done", "failed": "failed", "skipped": "skipped", "cached": "cached",
}


def field(obj: Any, *names: str, default: Any = None) -> Any:
    """The first present field among `names`, from a dict or an object."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def cost_label(usd: float | None) -> str:
    if usd is None:
        return ""
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd >= 0.0001 else f"${usd:.2e}"


def node_status(record: Any, pipeline: Pipeline | None = None) -> tuple[str, dict] | None:
    """(node_id, status) from a NodeRun-like record or a node event; None if it names no node."""
    node_id = field(record, "node_id", "nodeId")
    raw = field(record, "status", "state")
    if not node_id or raw not in UI_STATE:
        return None
    state = UI_STATE[raw]
    status: dict[str, Any] = {"state": state}
    latency = field(record, "latency_ms", "latencyMs")
    if latency is not None:
        status["latencyMs"] = latency
    cost = cost_label(field(record, "cost_usd", "costUsd"))
    if cost:
        status["cost"] = cost
    detail = field(record, "error", "reason")
    if detail:
        status["detail"] = str(detail)
    model_id = field(record, "model_id", "modelId")
    node = pipeline.node(node_id) if pipeline else None
    if state == "done" and field(record, "error"):  # answered with its default after a failure: not a plain "done"
        status["state"] = "defaulted"
        status["detail"] = str(field(record, "reason") or detail)
    if node is not None and node.kind == "capability" and model_id:
        status["chose"] = model_id  # which model the policy picked (its reason in `detail`)
    fell_back = field(record, "fell_back_from", "fellBackFrom")
    if state == "done" and model_id and (fell_back or (node is not None and node.kind == "model" and node.model
                                                        and model_id != node.model)):
        status["state"] = "fallback"
        status["fellBackTo"] = model_id
    return node_id, status


def event_patch(event: Any, pipeline: Pipeline | None = None) -> dict[str, dict]:
    """The status patch one engine event makes; {} for events that change no node (text, run)."""
    inner = field(event, "node", "node_run", "nodeRun")
    source = inner if inner is not None and not isinstance(inner, str) else event
    if inner is not None and field(inner, "node_id", "nodeId") is None:
        source = event
    found = node_status(source, pipeline)
    return {found[0]: found[1]} if found else {}


def event_text(event: Any) -> str | None:
    """Streamed text carried by an event, if any."""
    kind = field(event, "type", "kind", "event", default="")
    if isinstance(kind, str) and kind.lower() in ("text", "delta", "token", "text_delta", "stream"):
        return field(event, "text", "delta", "data", default="")
    return None


def record_patch(run_record: Any, pipeline: Pipeline | None = None) -> dict[str, dict]:
    """Statuses for every node of a finished RunRecord."""
    nodes = field(run_record, "nodes", default={}) or {}
    patch: dict[str, dict] = {}
    for node_id, node_run in (nodes.items() if isinstance(nodes, dict) else ((field(n, "node_id"), n) for n in nodes)):
        found = node_status(node_run if field(node_run, "node_id", "nodeId") else {**_as_dict(node_run), "node_id": node_id}, pipeline)
        if found:
            patch[found[0]] = found[1]
    return patch


def _as_dict(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return dict(vars(obj))


EDGE_PREVIEW_CHARS = 400


def edge_data(run_record: Any, pipeline: Pipeline) -> dict[str, str]:
    """{edge id: what went along it} after a run, as short text for the edge's hover: the
    source node's whole output for an `out` port, else the port's field (as the engine reads it)."""
    nodes = field(run_record, "nodes", default={}) or {}
    shown: dict[str, str] = {}
    for edge in pipeline.edges:
        node_run = nodes.get(edge.source) if isinstance(nodes, dict) else None
        output = field(node_run, "output") if node_run is not None else None
        if output is None:
            continue
        value = output if edge.source_port == "out" or not isinstance(output, dict) else output.get(edge.source_port)
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        shown[edge.id] = text if len(text) <= EDGE_PREVIEW_CHARS else text[:EDGE_PREVIEW_CHARS] + "…"
    return shown
