"""Search and filter models: free text plus structured filters, all optional."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from studio.spec.model import HealthStatus, ModelSpec


@dataclass
class ModelQuery:
    text: str = ""
    capability: str | None = None
    model_type: str | None = None
    provider: str | None = None
    tag: str | None = None
    max_price_per_mtok: float | None = None  # USD per million tokens, the larger of in/out
    max_latency_ms: int | None = None
    policy: str | None = None
    health: str | None = None
    include_incomplete: bool = True
    extra: dict = field(default_factory=dict)


def price_per_mtok(spec: ModelSpec) -> float | None:
    """The larger of the input and output price, per million tokens; 0 for free models; None
    when unknown. A per-call fee cannot be put per token without knowing each call's size, so
    a model that charges one has no per-token figure either (None): it never passes a maximum
    price per token and ranks after the models priced by the token alone, never as free."""
    p = spec.prices
    if p.per_call:
        return None
    tokens = p.per_token(spec.model_type)  # an embedding's input price alone
    if tokens is not None:
        return max(tokens) * 1_000_000
    if p.per_call == 0:
        return 0.0
    return None


def expected_latency(spec: ModelSpec, calls: dict[str, dict] | None) -> tuple[float | None, str]:
    """(ms, "measured" | "declared" | "unknown"): the p50 of the model's recent answered calls
    (`recent_call_stats`) where there is one, else its declared latencyMs — the figure capability
    routing limits and ranks by (engine/choose.py), so the registry's column and its max-latency
    filter agree with it (they read the declared figure only, and disagreed both ways)."""
    c = (calls or {}).get(spec.id)
    if c and c.get("p50Ms") is not None:
        return float(c["p50Ms"]), "measured"
    if spec.latency_ms is not None:
        return float(spec.latency_ms), "declared"
    return None, "unknown"


def latency_label(spec: ModelSpec, calls: dict[str, dict] | None) -> str:
    """'162 ms (measured p50)', '900 ms (declared)' or 'unknown': the page and the CLI say the same."""
    ms, source = expected_latency(spec, calls)
    if ms is None:
        return "unknown"
    return f"{ms:.0f} ms ({'measured p50' if source == 'measured' else 'declared'})"


def price_label(spec: ModelSpec) -> str:
    """'$0.15 / $0.6 per Mtok' (input / output), '$0.002/call', both joined by '+' when a model
    charges both, 'free' or 'unpriced'."""
    p = spec.prices
    per_call = f"${p.per_call:g}/call" if p.per_call else ""
    tokens = p.per_token(spec.model_type)
    if tokens is not None:
        if tokens == (0, 0):
            return per_call or "free"
        per_tokens = (f"${p.input_per_token * 1e6:.4g} / ${p.output_per_token * 1e6:.4g} per Mtok"
                      if p.output_per_token is not None else f"${p.input_per_token * 1e6:.4g} per Mtok in")
        return f"{per_tokens} + {per_call}" if per_call else per_tokens
    if p.per_call is not None:
        return per_call or "free"
    return "unpriced"


def _haystack(spec: ModelSpec) -> str:
    parts = [spec.id, spec.name, spec.description, spec.owner, spec.provider, spec.model or "",
             spec.model_type, *spec.tags, *spec.capabilities]
    return " ".join(parts).lower()


def matches(spec: ModelSpec, q: ModelQuery, health: HealthStatus | None = None,
            calls: dict[str, dict] | None = None) -> bool:
    if q.text:
        hay = _haystack(spec)
        if not all(word in hay for word in q.text.lower().split()):
            return False
    if q.capability and q.capability not in spec.capabilities:
        return False
    if q.model_type and spec.model_type != q.model_type:
        return False
    if q.provider and spec.provider != q.provider:
        return False
    if q.tag and q.tag not in spec.tags:
        return False
    if q.policy and spec.security_policy != q.policy:
        return False
    if q.max_price_per_mtok is not None:
        price = price_per_mtok(spec)
        if price is None or price > q.max_price_per_mtok:
            return False
    if q.max_latency_ms is not None:
        ms = expected_latency(spec, calls)[0]
        if ms is None or ms > q.max_latency_ms:
            return False
    if q.health and (health.state if health else "unknown") != q.health:
        return False
    if not q.include_incomplete and spec.incomplete:
        return False
    return True


def search(specs: Iterable[ModelSpec], q: ModelQuery, health: dict[str, HealthStatus] | None = None,
           calls: dict[str, dict] | None = None) -> list[ModelSpec]:
    """`calls`: the recent call figures (`recent_call_stats`), for the max-latency filter."""
    health = health or {}
    return [s for s in specs if matches(s, q, health.get(s.id), calls)]
