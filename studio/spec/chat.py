"""Chat inputs: the `{"text": …}` shorthand every chat model accepts, and example inputs
that error sentences show (so a refused input says what would have fitted)."""

from __future__ import annotations

import json
from typing import Any

from studio.memo import per_object

CHAT_TYPES = ("llm", "vision")


def expand_shorthand(model_type: str, input: Any) -> Any:
    """`{"text": "hi"}` sent to a chat model means one user message; anything else is unchanged.

    Done before schema validation so the console, the CLI and pipeline nodes (whose upstream
    node often outputs `{"text"}`) all reach chat models the same way."""
    if (model_type in CHAT_TYPES and isinstance(input, dict) and isinstance(input.get("text"), str)
            and "messages" not in input and "prompt" not in input):
        rest = {k: v for k, v in input.items() if k != "text"}
        return {**rest, "messages": [{"role": "user", "content": input["text"]}]}
    return input


_EXAMPLES: dict[str, Any] = {
    "llm": {"text": "Hello"},
    "vision": {"text": "What is in this picture?", "images": ["https://example.com/cat.png"]},
    "embedding": {"input": "Hello"},
    "classifier": {"text": "I loved it"},
    "translation": {"text": "Hello", "targetLanguage": "French"},
}

_PLACEHOLDERS = {"string": "…", "number": 1, "integer": 1, "boolean": True, "array": [], "object": {}}


def example_input(model_type: str, schema: dict | None = None) -> Any:
    """A small input that fits: the canonical example for a known type, else one built from the
    schema's required properties."""
    if model_type in _EXAMPLES:
        return _EXAMPLES[model_type]
    schema = schema or {}
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        sub = props.get(name) or {}
        if "default" in sub:
            out[name] = sub["default"]
        elif sub.get("enum"):
            out[name] = sub["enum"][0]
        else:
            out[name] = _PLACEHOLDERS.get(sub.get("type") if isinstance(sub.get("type"), str) else "string", "…")
    return out


def example_sentence(model_type: str, schema: dict | None = None) -> str:
    return f"an input that fits looks like {json.dumps(example_input(model_type, schema), ensure_ascii=False)}"


def input_schema_for(spec) -> dict:
    """The schema a chat model's input is checked against. Saved specs carry a copy of the
    canonical chat schema of their day (roles system/user/assistant, string content); the
    current canonical one (tool results, content parts) supersedes such a copy."""
    if spec.model_type not in CHAT_TYPES:
        return spec.input_schema
    return _chat_schema_for(spec.input_schema)


@per_object  # asked on every call
def _chat_schema_for(schema: dict) -> dict:
    role = (((schema.get("properties") or {}).get("messages") or {}).get("items") or {}).get("properties", {}).get("role")
    if isinstance(role, dict) and set(role.get("enum") or []) == {"system", "user", "assistant"}:
        from studio.spec.calls import CANONICAL_SCHEMAS

        return CANONICAL_SCHEMAS["llm"][0]
    return schema


# Every provider's finish/stop reason in OpenAI's words (stop, length, tool_calls, content_filter).
FINISH_REASONS = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "eos_token": "stop", "STOP": "stop",
    "pause_turn": "stop", "FINISH_REASON_UNSPECIFIED": "stop",
    "length": "length", "max_tokens": "length", "MAX_TOKENS": "length", "model_length": "length",
    "tool_calls": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
    "content_filter": "content_filter", "refusal": "content_filter", "SAFETY": "content_filter",
    "RECITATION": "content_filter", "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter", "IMAGE_SAFETY": "content_filter",
}


def openai_finish(reason: str | None, has_tool_calls: bool = False) -> str:
    """A provider's finish reason as OpenAI names it; a reply with tool calls ends in `tool_calls`
    (Gemini says STOP for those)."""
    if has_tool_calls:
        return "tool_calls"
    return FINISH_REASONS.get(reason or "stop", "stop")
