"""Pipeline: the export format (format tag "iom.pipeline", integer version).

The execution spec (nodes, edges, policies) is separate from the canvas layout (`ui`), which
the runner ignores. Loading is lenient about the graph — a node that names a missing model,
or an edge to nowhere, still loads and is reported by validation — so nothing a user made is
ever silently dropped. Only a shape that cannot be read at all is refused.

Ports. Every node produces one JSON object. An edge's `sourcePort` is "out" (the whole
object) or the name of one of its fields (for a router: the name of a route). Its
`targetPort` is "in" (merge the object into the target's input) or the name of one input
field. `mapping` (JSON Pointer such as "/text", or JMESPath) and `template` (Jinja2, sandboxed)
transform the value on the way; coercion rules live in `studio.engine.translate`.

Gateway. `gateway` (optional, GatewayMapping) says how `pipeline/<id>` behaves as a chat model
on /v1/chat/completions and /v1/messages: which part of the chat is the run's input and which
output is the reply. Validation (studio/engine/pipeline_io.py) checks that the names exist.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from studio.spec.base import SpecModel, check_json_schema, check_slug

FORMAT_TAG = "iom.pipeline"
CURRENT_VERSION = 1

NodeKind = Literal["input", "output", "model", "capability", "transform", "router", "merge"]
NODE_KINDS: tuple[str, ...] = NodeKind.__args__  # type: ignore[attr-defined]


class NodePolicy(SpecModel):
    """How a node survives failure. Defaults suit an interactive prototype."""

    # (at least 0.1 s: 1e-300 passed, and every template then "ran longer than 0 s")
    timeout_s: float = Field(default=60.0, ge=0.1)  # one attempt
    deadline_s: float | None = Field(default=None, ge=0.1)  # all attempts and fallbacks; default 3 × timeout
    retries: int = Field(default=2, ge=0, le=10)
    fallback: list[str] = Field(default_factory=list)
    cache: bool | None = None  # None: cache only deterministic calls
    on_error: Literal["fail", "default", "skip"] = "fail"
    default: Any = None

    @property
    def all_attempts_s(self) -> float:
        """What all attempts and fallbacks may take together: deadline_s, else 3 × timeout_s."""
        return self.deadline_s or self.timeout_s * 3


Strategy = Literal["cheapest", "fastest", "best", "balanced", "quality_per_dollar"]


class CapabilityChoice(SpecModel):
    """A modelless node: the engine picks a registry model at run time."""

    capability: str
    # "best" and "quality_per_dollar" rank by quality measured in experiments
    # (studio/registry/quality.py); min_quality keeps only models measured at least that good.
    strategy: Strategy = "balanced"
    min_quality: float | None = Field(default=None, ge=0, le=1)
    max_price_per_token: float | None = Field(default=None, ge=0)
    max_latency_ms: int | None = Field(default=None, ge=0)
    allowed_policies: list[Literal["public", "organization", "private"]] = Field(
        default_factory=lambda: ["public", "organization", "private"]
    )
    require_healthy: bool = False


class Route(SpecModel):
    """A router branch: taken when `when` (a sandboxed Jinja2 expression) is true.
    A route with no condition is the default, taken when no other route is."""

    port: str
    when: str | None = None


def check_node_id(v: str) -> str:
    """A node id is shown in tables, logs and on the canvas and names ports' wiring: printable,
    at most 100 characters (a NUL, a right-to-left override or 100,000 characters passed)."""
    import unicodedata

    if len(v) > 100:
        raise ValueError(f"a node id is at most 100 characters; this one has {len(v):,}")
    bad = next((c for c in v if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(f"node id {v[:40]!r} holds the control character U+{ord(bad):04X}; use printable characters")
    return v


class Node(SpecModel):
    id: str = Field(min_length=1)
    kind: NodeKind
    label: str = ""
    model: str | None = None
    choose: CapabilityChoice | None = None
    prompt: str | None = None
    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    template: str | None = None
    expression: str | None = None
    routes: list[Route] = Field(default_factory=list)
    merge: Literal["object", "list", "text"] = "object"
    input_schema: dict[str, Any] | None = None
    policy: NodePolicy = Field(default_factory=NodePolicy)

    @field_validator("input_schema")
    @classmethod
    def _schema_is_a_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_json_schema(v)

    @field_validator("id")
    @classmethod
    def _printable_id(cls, v: str) -> str:
        return check_node_id(v)


class Edge(SpecModel):
    id: str = Field(min_length=1)
    source: str
    source_port: str = "out"
    target: str
    target_port: str = "in"
    mapping: str | None = None
    template: str | None = None


class GatewayMapping(SpecModel):
    """How the gateway (pipeline/<id> as a model) maps a chat to the run and the run to a reply.

    input: "last_user" (the last user message: a JSON object as is, other text as {"text": …}),
    "messages" (the whole message list into `input_port`, default the first declared input),
    "json" (the last user message must be a JSON object). reply: the output that becomes the
    assistant text; unset, a lone {"text"} is the text and anything else its JSON."""

    input: Literal["last_user", "messages", "json"] = "last_user"
    input_port: str | None = Field(default=None, min_length=1)
    reply: str | None = Field(default=None, min_length=1)


class Pipeline(SpecModel):
    format: Literal["iom.pipeline"] = FORMAT_TAG
    version: Literal[1] = CURRENT_VERSION
    id: str
    name: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    gateway: GatewayMapping | None = None
    ui: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, v: str) -> str:
        return check_slug(v, "pipeline id")

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def model_ids(self) -> set[str]:
        """Every registry id the pipeline names: node models and fallbacks."""
        ids = {n.model for n in self.nodes if n.model}
        for n in self.nodes:
            ids.update(n.policy.fallback)
        return ids
