"""Usage and cost: the provider's own token counts when it reports them, else an estimate
(chars/4, marked "estimate"); cost from the spec's prices, else genai-prices (offline data
shipped with the package), else unpriced (`usd=None`, never a silent $0)."""

from __future__ import annotations

import json
from typing import Any

from studio.spec.calls import Cost, Usage
from studio.spec.model import ModelSpec

# Our provider names -> genai-prices provider ids.
_GENAI_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "google": "google"}


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if value is None:
        return 0
    return len(json.dumps(value, ensure_ascii=False))


def estimate(input: dict[str, Any], output: dict[str, Any]) -> Usage:
    """About four characters a token: rough, and marked so."""
    text_in = {k: v for k, v in input.items() if k != "images"}
    out = output.get("text") if isinstance(output.get("text"), str) else ("" if "vectors" in output else output)
    return Usage(input_tokens=max(1, _chars(text_in) // 4), output_tokens=_chars(out) // 4, source="estimate")


def final_usage(spec: ModelSpec, reported: Usage | None, input: dict[str, Any], output: dict[str, Any]) -> Usage:
    if reported is not None:
        return reported
    if spec.api == "local":
        return Usage(source="none")
    return estimate(input, output)


def cost(spec: ModelSpec, usage: Usage) -> Cost:
    p = spec.prices
    if p.known:
        usd = p.per_call or 0.0
        if p.input_per_token is not None and p.output_per_token is not None:
            cached = min(usage.cached_tokens, usage.input_tokens)
            cached_price = p.cached_input_per_token if p.cached_input_per_token is not None else p.input_per_token
            usd += (usage.input_tokens - cached) * p.input_per_token + cached * cached_price
            usd += usage.output_tokens * p.output_per_token
        return Cost(usd=usd, source="free" if usd == 0 and spec.provider in ("local", "ollama") else "spec")
    return genai_cost(spec, usage) or Cost(usd=None, source="none")


def genai_cost(spec: ModelSpec, usage: Usage) -> Cost | None:
    provider = _GENAI_PROVIDERS.get(spec.provider)
    if not provider or not spec.model or usage.source == "none":
        return None
    try:
        from genai_prices import Usage as GUsage, calc_price

        price = calc_price(GUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                  cache_read_tokens=usage.cached_tokens or None),
                           model_ref=spec.model, provider_id=provider)
    except Exception:  # unknown model or provider: unpriced, not an error
        return None
    return Cost(usd=float(price.total_price), source="genai-prices")
