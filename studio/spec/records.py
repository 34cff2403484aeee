"""Records of what ran: one CallRecord per model call, one RunRecord per pipeline run."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from studio.spec.base import SpecModel, utcnow_exact
from studio.spec.calls import Usage

# Records are filled in field by field while a run goes on; validating every assignment
# would cost more than the engine's own work per node. They are validated when built.
_RECORD_CONFIG = ConfigDict(**{**SpecModel.model_config, "validate_assignment": False})

NodeStatus = Literal["pending", "running", "succeeded", "failed", "skipped", "cached"]


class CallRecord(SpecModel):
    model_config = _RECORD_CONFIG

    """One model call, alone or inside a run; the row analytics stores."""

    id: str
    # to the microsecond: a run's attempts (a retry, then a fallback) are often in one second, and
    # its calls are listed by time (whole seconds listed them by their random ids)
    time: datetime = Field(default_factory=utcnow_exact)
    model_id: str
    provider: str
    pipeline_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    status: Literal["ok", "error"] = "ok"
    error_class: str | None = None
    error_message: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    overhead_ms: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    cache_hit: bool = False
    saved_usd: float | None = None
    fell_back_from: str | None = None
    routing_reason: str | None = None
    # The audit trail's addresses (sha256 of the canonical text, analytics/rows.py). A recorder
    # that gets the content works them out from it; these are for a record kept without it.
    input_hash: str | None = None
    output_hash: str | None = None
    request_id: str | None = None


class NodeRun(SpecModel):
    model_config = _RECORD_CONFIG

    node_id: str
    status: NodeStatus = "pending"
    model_id: str | None = None
    reason: str | None = None
    inputs: Any = None
    output: Any = None
    error: str | None = None
    error_class: str | None = None
    # the seconds the provider asked to wait before another try (its retry-after, e.g. with a
    # 429), when the node's error said one: what the gateway hands on to its client
    retry_after_s: float | None = None
    attempts: int = 0
    started: datetime | None = None
    ended: datetime | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None


_PENDING = NodeRun(node_id="pending")


def pending_node(node_id: str) -> NodeRun:
    """A node not started yet, for every node of every run: a copy of one built once costs
    about a quarter less than validating its 15 defaults anew (4.0 against 5.6 µs here). The
    copies share one zero `Usage`, which is never changed in place, only replaced."""
    return _PENDING.model_copy(update={"node_id": node_id})


class RunRecord(SpecModel):
    model_config = _RECORD_CONFIG

    id: str
    pipeline_id: str
    pipeline_name: str = ""
    status: Literal["running", "succeeded", "failed", "cancelled"] = "running"
    started: datetime = Field(default_factory=utcnow_exact)
    ended: datetime | None = None
    inputs: Any = None
    outputs: Any = None
    error: str | None = None
    nodes: dict[str, NodeRun] = Field(default_factory=dict)
    wall_ms: float | None = None
    cost_usd: float | None = None
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_nodes: int = 0
