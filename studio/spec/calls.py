"""The canonical call: one request and one result shape for every provider.

Canonical input and output per model type (adapters translate these to and from each wire
format):

- llm:          {"messages": [{"role", "content"}] | "prompt": str, "system"?: str,
                 "images"?: [url or data: URL]}
                -> {"text": str, "finishReason": str}
- embedding:    {"input": str | [str]}            -> {"vectors": [[float]]}
- classifier:   {"text": str}                      -> {"label": str, "scores": {label: float}}
- translation:  {"text": str, "targetLanguage": str, "sourceLanguage"?: str} -> {"text": str}
- vision:       llm input whose messages may carry {"image": url-or-data-url}  -> llm output
- custom:       any JSON, as the model's own schemas say
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from studio.spec.base import SpecModel

_MESSAGES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant"]},
            "content": {"type": "string"},
            "image": {"type": "string"},
        },
        "required": ["role"],
    },
}

CANONICAL_SCHEMAS: dict[str, tuple[dict, dict]] = {
    "llm": (
        {
            "type": "object",
            "properties": {
                "messages": _MESSAGES,
                "prompt": {"type": "string"},
                "system": {"type": "string"},
                "images": {"type": "array", "items": {"type": "string"}},
            },
            "anyOf": [{"required": ["messages"]}, {"required": ["prompt"]}],
        },
        {
            "type": "object",
            "properties": {"text": {"type": "string"}, "finishReason": {"type": "string"}},
            "required": ["text"],
        },
    ),
    "embedding": (
        {
            "type": "object",
            "properties": {"input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
            "required": ["input"],
        },
        {
            "type": "object",
            "properties": {"vectors": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}},
            "required": ["vectors"],
        },
    ),
    "classifier": (
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}},
            },
            "required": ["label"],
        },
    ),
    "translation": (
        {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "targetLanguage": {"type": "string"},
                "sourceLanguage": {"type": "string"},
            },
            "required": ["text", "targetLanguage"],
        },
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    "custom": ({"type": "object"}, {"type": "object"}),
}
CANONICAL_SCHEMAS["vision"] = CANONICAL_SCHEMAS["llm"]


class Usage(SpecModel):
    """Tokens of one call and where the figures came from."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int | None = None
    source: Literal["provider", "tokenizer", "estimate", "none"] = "none"


class Cost(SpecModel):
    """USD cost; `usd is None` means unpriced (no known price), never $0."""

    usd: float | None = None
    source: Literal["spec", "genai-prices", "free", "none"] = "none"


class CallRequest(SpecModel):
    """A canonical call to one registry model."""

    model_id: str
    input: dict[str, Any]
    params: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    timeout_s: float | None = None


class CallResult(SpecModel):
    """What came back, with everything the analytics and the audit trail need."""

    model_id: str
    output: dict[str, Any]
    usage: Usage = Field(default_factory=Usage)
    cost: Cost = Field(default_factory=Cost)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    overhead_ms: float = 0.0
    finish_reason: str | None = None
    request_id: str | None = None
    tokens_per_second: float | None = None
    raw_request: dict[str, Any] | None = None
    raw_response: Any = None


def chat_input(model_type: str, value: dict[str, Any]) -> dict[str, Any]:
    """The `{"text": …}` shorthand every built-in model takes, accepted by chat models too: the
    text becomes one user message (other fields such as "system" stay as they are)."""
    if model_type in ("llm", "vision") and isinstance(value, dict) and isinstance(value.get("text"), str) \
            and "messages" not in value and "prompt" not in value:
        rest = {k: v for k, v in value.items() if k != "text"}
        return {**rest, "messages": [{"role": "user", "content": value["text"]}]}
    return value


def example_input(model_type: str, schema: dict | None) -> str:
    """A short JSON example of an input that fits, for error sentences."""
    if model_type in ("llm", "vision"):
        return '{"text": "Hello"} or {"messages": [{"role": "user", "content": "Hello"}]}'
    canonical = CANONICAL_SCHEMAS.get(model_type, (None, None))[0]
    schema = schema or canonical or {}
    props = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)] or list(props)[:1]
    sample_values = {"string": "…", "number": 1, "integer": 1, "boolean": True, "array": [], "object": {}}
    example = {}
    for name in required:
        sub = props.get(name) if isinstance(props.get(name), dict) else {}
        kind = sub.get("type") if isinstance(sub.get("type"), str) else "string"
        example[name] = sample_values.get(kind, "…")
    import json

    return json.dumps(example or {"text": "…"}, ensure_ascii=False)
