"""Usage and cost: the provider's own token counts when it reports them, else an estimate
(chars/4, marked "estimate"); cost from the spec's prices, else genai-prices (offline data
shipped with the package), else unpriced (`usd=None`, never a silent $0)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from studio.spec.calls import Cost, Usage
from studio.spec.model import ON_THIS_MACHINE, ModelSpec

log = logging.getLogger(__name__)

# Token counts are stored as BIGINT; a count past it (or below zero) is no count a call can have.
_COUNT_LIMIT = 2**63

# Our provider names -> genai-prices provider ids.
_GENAI_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "google": "google"}


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if value is None:
        return 0
    return len(json.dumps(value, ensure_ascii=False))


def _tokens(chars: int) -> int:
    """About four characters a token, and any text at least one: "ok" rounded down to none,
    and its output cost went missing."""
    return max(1, chars // 4) if chars else 0


def estimate(input: dict[str, Any], output: dict[str, Any]) -> Usage:
    """Rough, and marked so."""
    text_in = {k: v for k, v in input.items() if k != "images"}
    out = output.get("text") if isinstance(output.get("text"), str) else ("" if "vectors" in output else output)
    return Usage(input_tokens=_tokens(_chars(text_in)), output_tokens=_tokens(_chars(out)), source="estimate")


def believable(usage: Usage) -> bool:
    """Every count between zero and what a 64-bit column holds."""
    counts = (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens or 0,
              usage.cache_write_tokens)
    return all(0 <= count < _COUNT_LIMIT for count in counts)


def final_usage(spec: ModelSpec, reported: Usage | None, input: dict[str, Any], output: dict[str, Any]) -> Usage:
    """The provider's counts when it gave believable ones; else an estimate (marked so), which
    keeps the call priced and recorded where an absurd count would fit no analytics column."""
    if reported is not None:
        if believable(reported):
            return reported
        log.warning("%s reported token counts no call can have (%s in, %s out); its usage is estimated instead",
                    spec.id, reported.input_tokens, reported.output_tokens)
    if spec.api == "local":
        return Usage(source="none")
    return estimate(input, output)


def cost(spec: ModelSpec, usage: Usage) -> Cost:
    p = spec.prices
    if spec.priced:
        usd = p.per_call or 0.0
        per_token = p.per_token(spec.model_type)
        if per_token is not None:
            price_in, price_out = per_token
            cached = min(usage.cached_tokens, usage.input_tokens)
            written = min(usage.cache_write_tokens, usage.input_tokens - cached)  # both are of input_tokens
            cached_price = p.cached_input_per_token if p.cached_input_per_token is not None else price_in
            write_price = p.cache_write_input_per_token if p.cache_write_input_per_token is not None else price_in
            usd += (usage.input_tokens - cached - written) * price_in + cached * cached_price + written * write_price
            usd += usage.output_tokens * price_out
        return Cost(usd=usd, source="free" if usd == 0 and spec.provider in ON_THIS_MACHINE else "spec")
    return genai_cost(spec, usage) or Cost(usd=None, source="none")


def genai_cost(spec: ModelSpec, usage: Usage) -> Cost | None:
    provider = _GENAI_PROVIDERS.get(spec.provider)
    if not provider or not spec.model or usage.source == "none":
        return None
    found = _price_entry(provider, spec.model)
    if found is None:  # unknown model or provider: unpriced, not an error
        return None
    snapshot, price_provider, price_model = found
    from genai_prices import Usage as GUsage  # imported on first use: it loads its price data

    try:
        price = price_model.calc_price(
            GUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                   cache_read_tokens=usage.cached_tokens or None, cache_write_tokens=usage.cache_write_tokens or None),
            price_provider, genai_request_timestamp=datetime.now(timezone.utc),
            auto_update_timestamp=snapshot.timestamp if snapshot.from_auto_update else None)
    except Exception:  # a price the data cannot compute for this usage: unpriced
        return None
    return Cost(usd=float(price.total_price), source="genai-prices")


_PRICE_ENTRIES: dict[tuple[int, str, str], tuple | None] = {}


def _price_entry(provider_id: str, model_ref: str) -> tuple | None:
    """genai-prices matches a model id against every model it knows (about 0.5 ms a call);
    a studio prices the same few models all day, so each match (or miss) is kept, per data
    snapshot so that fresher price data is matched afresh."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    key = (id(snapshot), provider_id, model_ref)
    if key not in _PRICE_ENTRIES:
        if len(_PRICE_ENTRIES) > 1024:
            _PRICE_ENTRIES.clear()
        try:
            _PRICE_ENTRIES[key] = (snapshot, *snapshot.find_provider_model(model_ref, None, provider_id, None))
        except Exception:
            _PRICE_ENTRIES[key] = None
    return _PRICE_ENTRIES[key]
