"""Capability nodes: pick a registry model at run time by capability, policy and limits."""

from __future__ import annotations

from studio.errors import UserError
from studio.registry.search import price_per_mtok
from studio.spec.model import HealthStatus, ModelSpec
from studio.spec.pipeline import CapabilityChoice

QUALITY_HINTS = ("best", "pro", "opus", "sonnet", "gpt-4o", "large", "ultra")


def _quality(spec: ModelSpec) -> float:
    """A rough quality rank: a 'quality' tag or default param wins, else price as a proxy."""
    explicit = spec.default_params.get("quality")
    if isinstance(explicit, (int, float)):
        return float(explicit)
    price = price_per_mtok(spec) or 0.0
    return price + (1.0 if any(h in spec.id for h in QUALITY_HINTS) else 0.0)


def choose_model(choice: CapabilityChoice, specs: list[ModelSpec], health: dict[str, HealthStatus],
                 has_key) -> tuple[ModelSpec, str, list[ModelSpec]]:
    """(chosen, why, the other candidates in order — usable as fallbacks)."""
    candidates = []
    for s in specs:
        if choice.capability not in s.capabilities or s.incomplete:
            continue
        if s.security_policy not in choice.allowed_policies:
            continue
        price = price_per_mtok(s)
        if choice.max_price_per_token is not None and (price is None or price / 1e6 > choice.max_price_per_token):
            continue
        if choice.max_latency_ms is not None and (s.latency_ms is None or s.latency_ms > choice.max_latency_ms):
            continue
        state = health.get(s.id, HealthStatus()).state
        if choice.require_healthy and state != "ok":
            continue
        if state in ("auth_failed", "unreachable", "key_missing"):
            continue
        if not has_key(s):
            continue
        candidates.append(s)
    if not candidates:
        raise UserError(f"no registered model offers {choice.capability!r} within the node's limits "
                        "(price, latency, policy, health, key); relax the limits or register one.")
    price = lambda s: price_per_mtok(s) if price_per_mtok(s) is not None else float("inf")  # noqa: E731
    latency = lambda s: s.latency_ms if s.latency_ms is not None else float("inf")  # noqa: E731
    if choice.strategy == "cheapest":
        ranked = sorted(candidates, key=lambda s: (price(s), latency(s), s.id))
        why = "cheapest"
    elif choice.strategy == "fastest":
        ranked = sorted(candidates, key=lambda s: (latency(s), price(s), s.id))
        why = "fastest expected latency"
    elif choice.strategy == "best":
        ranked = sorted(candidates, key=lambda s: (-_quality(s), latency(s), s.id))
        why = "highest quality rank"
    else:
        pr = sorted(candidates, key=price)
        la = sorted(candidates, key=latency)
        ranked = sorted(candidates, key=lambda s: (pr.index(s) + la.index(s), s.id))
        why = "best balance of price and latency"
    chosen = ranked[0]
    detail = f"{why} of {len(candidates)} model(s) with {choice.capability!r}"
    p = price_per_mtok(chosen)
    detail += f" (${p:g}/Mtok" if p is not None else " (unpriced"
    detail += f", ~{chosen.latency_ms} ms)" if chosen.latency_ms is not None else ")"
    return chosen, detail, ranked[1:]
