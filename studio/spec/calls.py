"""The canonical call: one request and one result shape for every provider.

Canonical input and output per model type (adapters translate these to and from each wire
format):

- llm:          {"messages": [{"role", "content"}] | "prompt": str, "system"?: str,
                 "images"?: [url or data: URL]}   (or the shorthand {"text": str}, see chat.py)
                -> {"text": str, "finishReason": str, "toolCalls"?: [...], "logprobs"?: [...],
                    "stopSequence"?: str (which of the `stop` strings ended it, where the provider says),
                    "thinking"?: [Claude's thinking / redacted_thinking blocks, signed, as it sent them],
                    "choices"?: [{"text", "finishReason", "toolCalls"?, "logprobs"?}, ...]}
                   (`choices` when several were asked for (n): all of them, the first mirrored
                   at the top level, so a pipeline node reads `text` as always)
                Messages follow OpenAI's chat shape: content a string or parts (text, image_url
                with a URL or data: URL), assistant `tool_calls` (and `thinking`, Claude's blocks
                given back, which only its adapter sends), `tool` results with `tool_call_id`
                (content parts with images only for Claude). Call options (tools, tool_choice, response_format, sampling)
                travel in CallRequest.params under OpenAI's names; capabilities.py says which
                each provider carries.
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

_CONTENT_PART = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["text", "image_url"]},
        "text": {"type": "string"},
        "image_url": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"url": {"type": "string"}},
                                                    "required": ["url"]}]},
    },
    "required": ["type"],
}
_TOOL_CALL = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["function"]},
        "function": {"type": "object", "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
                     "required": ["name"]},
    },
    "required": ["id", "function"],
}
# per output token, OpenAI's `logprobs.content` shape: {token, logprob, bytes, top_logprobs: [...]}
_LOGPROBS = {"type": "array", "items": {"type": "object", "required": ["token", "logprob"],
                                        "properties": {"token": {"type": "string"}, "logprob": {"type": "number"}}}}
_MESSAGES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
            "content": {"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "array", "items": _CONTENT_PART}]},
            "image": {"type": "string"},
            "tool_calls": {"type": "array", "items": _TOOL_CALL},
            "tool_call_id": {"type": "string"},
            "name": {"type": "string"},  # the speaker (OpenAI's chat carries it)
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
            "properties": {"text": {"type": "string"}, "finishReason": {"type": "string"},
                           "toolCalls": {"type": "array", "items": _TOOL_CALL},
                           "logprobs": _LOGPROBS, "stopSequence": {"type": "string"},
                           "choices": {"type": "array", "items": {
                               "type": "object", "required": ["text"],
                               "properties": {"text": {"type": "string"}, "finishReason": {"type": "string"},
                                              "toolCalls": {"type": "array", "items": _TOOL_CALL},
                                              "logprobs": _LOGPROBS}}}},
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
    cache_write_tokens: int = 0  # of input_tokens, written to the prompt cache (Anthropic prices them above input)
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

