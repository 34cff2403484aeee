"""Capability nodes: pick a registry model at run time by capability, policy and limits."""

from __future__ import annotations

import json
from typing import Any

from studio.errors import UserError
from studio.providers.usage import cost
from studio.registry.quality import counts_for
from studio.registry.search import expected_latency, price_label, price_per_mtok
from studio.spec.calls import Usage
from studio.spec.model import HealthStatus, ModelSpec
from studio.spec.pipeline import CapabilityChoice, Node

# The call whose cost the price rankings compare when the caller gives no estimate of its own
# (input tokens, output tokens). 500 out is also what a dry run assumes without a max_tokens.
DEFAULT_CALL_TOKENS = (500, 500)
DEFAULT_OUTPUT_TOKENS = 500


def expected_tokens(node: Node, inputs: dict[str, Any]) -> tuple[int, int]:
    """(input, output) tokens of the node's coming call, for `choose_model(tokens=…)`: about four
    characters a token of the prompt and system templates and the inputs they are given, and
    the node's max_tokens (else DEFAULT_OUTPUT_TOKENS) out."""
    chars = len(node.prompt or "") + len(node.system or "")
    chars += sum(len(v) if isinstance(v, str) else len(json.dumps(v, ensure_ascii=False, default=str))
                 for v in inputs.values())
    out = node.params.get("max_tokens")
    return max(1, chars // 4), int(out) if isinstance(out, int) and out > 0 else DEFAULT_OUTPUT_TOKENS


def expected_cost(spec: ModelSpec, tokens: tuple[int, int]) -> float | None:
    """What a call of `tokens` (input, output) costs on this model, per-call fee included; None
    when its prices are unknown. Ranking by the larger of the input and output price chose a
    model at $4/$4 per Mtok over one at $0.1/$5 that costs less than half as much per call."""
    return cost(spec, Usage(input_tokens=tokens[0], output_tokens=tokens[1], source="estimate")).usd

def _quality(spec: ModelSpec, measured: dict[str, dict]) -> tuple[float | None, str]:
    """(quality in [0, 1] or None, where it came from): a score measured in an experiment,
    else a declared default param 'quality', else unknown. Never guessed from the id."""
    m = measured.get(spec.id)
    if m is not None and isinstance(m.get("score"), (int, float)):
        if not counts_for(m, spec):
            return None, (f"not measured since the model was edited (its score is from experiment "
                          f"{m.get('experiment', '?')})")
        return float(m["score"]), f"measured on {m.get('dataset', '?')} {str(m.get('date', ''))[:10]}".rstrip()
    explicit = spec.default_params.get("quality")
    if isinstance(explicit, (int, float)):
        return float(explicit), "declared"
    return None, "not measured"


def _latency(spec: ModelSpec, calls: dict[str, dict]) -> tuple[float | None, str]:
    """(expected latency in ms, where it came from): the registry's figure (`expected_latency`:
    measured p50 where calls answered, else declared, else unknown), one rule for the page, the
    CLI and routing, told here with the call counts behind it."""
    ms, source = expected_latency(spec, calls)
    c = calls.get(spec.id)
    if source == "measured":
        answered = c.get("answered", c["calls"])
        return ms, (f"measured p50 of {answered} recent answer(s), "
                    f"{100 * c['errorRate']:.0f}% of {c['calls']} call(s) failed")
    failed = f"; its {c['calls']} recent call(s) all failed" if c and c.get("calls") else ""
    return ms, source + failed


def allowed(choice: CapabilityChoice, spec: ModelSpec) -> bool:
    """Whether the node's data may go to this model: its access policy is one the node allows
    (its fallbacks are held to this too, not only the models it chooses among)."""
    return spec.security_policy in choice.allowed_policies


def _price_text(spec: ModelSpec, tokens: tuple[int, int]) -> str:
    """'~$0.00255 a call ($0.1 / $5 per Mtok)': the estimated cost the ranking used, and the
    prices it came from; 'unpriced' when there are none."""
    usd = expected_cost(spec, tokens)
    return "unpriced" if usd is None else f"~${usd:.3g} a call ({price_label(spec)})"


def choose_model(choice: CapabilityChoice, specs: list[ModelSpec], health: dict[str, HealthStatus],
                 has_key, quality: dict[str, dict] | None = None,
                 calls: dict[str, dict] | None = None,
                 tokens: tuple[int, int] | None = None) -> tuple[ModelSpec, str, list[ModelSpec]]:
    """(chosen, why, the other candidates in order — usable as fallbacks). `quality` holds the
    scores measured for this capability ({model_id: {"score", "dataset", "date", …}}); `calls`
    the recent call figures per model ({model_id: {"p50Ms", "errorRate", "calls"}}).
    Prices compare as the expected cost of the call (`expected_cost`): `tokens` (input, output)
    as estimated for it (`expected_tokens`), else DEFAULT_CALL_TOKENS; a per-call fee is part
    of it, and a model with no known price ranks after every priced one. The node's maximum
    price per token is another thing: a limit on `price_per_mtok`, which a model that charges
    per call fails (its cost per token depends on each call's size)."""
    quality = quality or {}
    calls = calls or {}
    estimated = tokens is not None
    tokens = tokens or DEFAULT_CALL_TOKENS
    candidates = []
    unhealthy: list[str] = []  # models left out for their last health check, named if none is left
    for s in specs:
        if choice.capability not in s.capabilities or s.incomplete:
            continue
        if not allowed(choice, s):
            continue
        price = price_per_mtok(s)
        if choice.max_price_per_token is not None and (price is None or price / 1e6 > choice.max_price_per_token):
            continue
        expected_ms = _latency(s, calls)[0]
        if choice.max_latency_ms is not None and (expected_ms is None or expected_ms > choice.max_latency_ms):
            continue
        if not has_key(s):
            continue
        state = health.get(s.id, HealthStatus()).state
        if state == "key_missing":  # checked before its key was set (elsewhere, or in the environment)
            state = "unknown"
        if state in ("auth_failed", "unreachable") or (choice.require_healthy and state != "ok"):
            unhealthy.append(f"{s.id} ({state.replace('_', ' ')})")
            continue
        if choice.min_quality is not None:
            q, _ = _quality(s, quality)
            if q is None or q < choice.min_quality:
                continue
        candidates.append(s)
    if not candidates and choice.min_quality is not None:
        raise UserError(f"no usable model with {choice.capability!r} has a measured quality of at least "
                        f"{choice.min_quality:g}; run an experiment and save its scores ('iom eval save-quality'), "
                        "or lower the node's minimum quality.")
    if not candidates and unhealthy:
        raise UserError(f"no registered model offers {choice.capability!r} within the node's limits: "
                        f"{', '.join(unhealthy)} {'was' if len(unhealthy) == 1 else 'were'} left out for "
                        "their last health check; once fixed, check again with 'iom models check ID' "
                        "(or \"Check now\" on the Registry page).")
    if not candidates:
        raise UserError(f"no registered model offers {choice.capability!r} within the node's limits "
                        "(price, latency, policy, health, key); relax the limits or register one.")
    costs = {s.id: expected_cost(s, tokens) for s in candidates}
    price = lambda s: costs[s.id] if costs[s.id] is not None else float("inf")  # noqa: E731
    def latency(s):  # measured p50 where calls were recorded; a model failing often counts slower
        ms, _ = _latency(s, calls)
        if ms is None:
            return float("inf")
        err = (calls.get(s.id) or {}).get("errorRate") or 0.0
        return ms / max(1e-3, 1.0 - err)
    q = lambda s: _quality(s, quality)[0]  # noqa: E731
    if choice.strategy == "cheapest":
        ranked = sorted(candidates, key=lambda s: (price(s), latency(s), s.id))
        why = "cheapest" + (f" with quality >= {choice.min_quality:g}" if choice.min_quality is not None else "")
    elif choice.strategy == "fastest":
        ranked = sorted(candidates, key=lambda s: (latency(s), price(s), s.id))
        why = "fastest expected latency (error rate counted)"
    elif choice.strategy == "best":
        ranked = sorted(candidates, key=lambda s: (q(s) is None, -(q(s) or 0.0), price(s), latency(s), s.id))
        why = "highest quality"
    elif choice.strategy == "quality_per_dollar":
        def value(s):  # quality per dollar of the call; free models divide by a tiny price, unknown quality last
            if q(s) is None:
                return float("-inf")
            p = costs[s.id]
            return float("-inf") if p is None else q(s) / max(p, 1e-12)
        ranked = sorted(candidates, key=lambda s: (-value(s), latency(s), s.id))
        why = "best quality per dollar"
    else:
        pr = sorted(candidates, key=price)
        la = sorted(candidates, key=latency)
        ranked = sorted(candidates, key=lambda s: (pr.index(s) + la.index(s), s.id))
        why = "best balance of price and latency"
    chosen = ranked[0]
    detail = f"{why} of {len(candidates)} model(s) with {choice.capability!r}"
    detail += (f" (prices for a call of ~{tokens[0]:,} in / {tokens[1]:,} out tokens, "
               + ("as estimated for this call)" if estimated else "the default estimate)"))
    qv, qsource = _quality(chosen, quality)
    detail += f": {chosen.id} quality " + (f"{qv:.3f} ({qsource})" if qv is not None else qsource)
    detail += f", {_price_text(chosen, tokens)}"
    ms, msource = _latency(chosen, calls)
    detail += f", ~{ms:.0f} ms ({msource})" if ms is not None else ", latency unknown"
    runner_up = ranked[1] if len(ranked) > 1 else None
    if runner_up is not None:
        rq, _ = _quality(runner_up, quality)
        rms, rsource = _latency(runner_up, calls)
        detail += (f"; next: {runner_up.id} quality " + (f"{rq:.3f}" if rq is not None else "not measured")
                   + f", {_price_text(runner_up, tokens)}"
                   + (f", ~{rms:.0f} ms ({rsource})" if rms is not None else ", latency unknown"))
    return chosen, detail, ranked[1:]
