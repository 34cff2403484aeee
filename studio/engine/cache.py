"""The output cache's key: which calls are cached, and what makes two calls the same (the
entries themselves live in output_cache.py, under IOM_HOME/cache, so they survive restarts).

The key is a hash of the node's effective spec (model id and what the model is, params, prompt
and system templates) and its resolved input. Only deterministic calls are cached unless the
node asks (policy.cache = True): temperature 0, or a seed, or a built-in local model.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from studio.memo import per_object


# What a model's answer depends on, beside the call's params: where and how it is called and
# how its input and output are translated. Not its name, prices, health or the time it was
# saved (kept to the second: two edits within one second had the same "version").
_WHAT_THE_MODEL_IS = ("provider", "api", "endpoint", "model", "model_type", "http", "input_schema", "output_schema")


@per_object  # the registry hands out one spec object per file version
def model_version(spec) -> str:
    """A digest of what the model is (`_WHAT_THE_MODEL_IS`; for a built-in model also the
    studio's code for it and its libraries' versions), the same across restarts."""
    doc = spec.model_dump(mode="json", include=set(_WHAT_THE_MODEL_IS))
    if spec.api == "local":
        from studio.providers.local import implementation_version

        doc["implementation"] = implementation_version()
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


@per_object
def answer_version(spec) -> str:
    """What a model answers depends on outside the call itself: `model_version` and its
    default params. A batch's id and a saved quality score carry it, so an edited model is
    measured again rather than credited with what its earlier version did."""
    doc = [model_version(spec), spec.default_params]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def cache_key(*, model_id: str, model_version: str, params: dict, prompt: str | None, system: str | None,
              call_input: Any) -> str:
    payload = {"model": model_id, "version": model_version, "params": _same_numbers(params), "prompt": prompt,
               "system": system, "input": call_input}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _same_numbers(value: Any) -> Any:
    """Params with a whole float written as the int it equals: temperature 0 and 0.0 are one
    JSON number to every provider, so one call. A string stays a string: "0" is sent as the
    string it is, which a provider may refuse (OpenAI's API does) or read its own way, so it is
    not the call 0 is. A bool stays a bool."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _same_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_same_numbers(v) for v in value]
    return value


def deterministic(api: str, params: dict) -> bool:
    """Whether the call gives the same answer every time: a built-in model, a seed, or a
    temperature of 0. A temperature that is not a number ("hot", [0], true) makes the call
    not cacheable, nothing more: the provider says what it thinks of the value."""
    if api == "local":
        return True
    if params.get("seed") is not None:
        return True
    temperature = params.get("temperature")
    if temperature is None or isinstance(temperature, bool):
        return False
    try:
        return float(temperature) == 0.0
    except (TypeError, ValueError):
        return False


def hit_record(spec, hit: dict, *, run_id: str | None, node_id: str | None, pipeline_id: str | None = None):
    """The call record of an answer taken from the cache: no cost, the entry's cost as saved."""
    import secrets

    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord

    return CallRecord(id=secrets.token_hex(16), model_id=spec.id, provider=spec.provider, pipeline_id=pipeline_id,
                      run_id=run_id, node_id=node_id, cache_hit=True, saved_usd=hit.get("costUsd"), cost_usd=0.0,
                      usage=Usage(source="none"), routing_reason="cache hit")
