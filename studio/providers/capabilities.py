"""Which OpenAI Chat Completions parameter each wire format can carry: the one table that
decides "translate" versus "refuse with a 400 naming the parameter and the model" (or, when
the caller opts in, "drop and say so"). An adapter that starts translating a parameter adds
it here in the same commit; nothing else in the studio keeps such a list.

Keys are the adapter's api name; `openai-chat` is split into OpenAI itself, the Hugging Face
router, Ollama's /v1 and the other servers that copy its format (vLLM, OpenRouter…), because
their documented parameters differ (`openai_chat.family`).
"""

from __future__ import annotations

from typing import Any, Iterable

from studio.spec.model import ModelSpec

# every parameter of the OpenAI request the studio knows by name (besides model/messages/stream)
OPENAI_PARAMS = (
    "temperature", "top_p", "stop", "seed", "max_tokens", "n", "presence_penalty", "frequency_penalty",
    "logit_bias", "logprobs", "top_logprobs", "user", "reasoning_effort", "metadata", "tools", "tool_choice",
    "parallel_tool_calls", "response_format",
)

_SAMPLING = {"temperature", "top_p", "stop", "seed", "max_tokens"}
# what the documentation of OpenAI-compatible servers shares with OpenAI's
_COMPATIBLE = frozenset(_SAMPLING | {"presence_penalty", "frequency_penalty", "tools", "tool_choice", "response_format"})

TRANSLATED: dict[str, frozenset[str]] = {
    # OpenAI's own API: everything passes under its own name; several choices (n) and
    # log-probabilities come back in the canonical output's `choices` / `logprobs`.
    "openai": frozenset(_SAMPLING | {"presence_penalty", "frequency_penalty", "logit_bias", "user",
                                     "reasoning_effort", "metadata", "tools", "tool_choice",
                                     "parallel_tool_calls", "response_format", "n", "logprobs", "top_logprobs"}),
    # OpenAI-compatible servers: the parameters their documentation shares with OpenAI.
    "openai-compatible": _COMPATIBLE,
    # the HF router's chat-completion spec and Ollama's OpenAI-compatibility page list
    # logprobs / top_logprobs (and no `n`)
    "hf-router": _COMPATIBLE | {"logprobs", "top_logprobs"},
    "ollama-openai": _COMPATIBLE | {"logprobs", "top_logprobs"},
    "anthropic-messages": frozenset({"temperature", "top_p", "stop", "max_tokens", "user", "tools", "tool_choice",
                                     "parallel_tool_calls"}),
    # n -> candidateCount, logprobs -> responseLogprobs, top_logprobs -> logprobs (a count)
    "gemini": frozenset(_SAMPLING | {"presence_penalty", "frequency_penalty", "response_format", "tools",
                                     "tool_choice", "n", "logprobs", "top_logprobs"}),
    # logprobs / top_logprobs: top-level fields of /api/chat and /api/generate (Ollama ≥ 0.12.11)
    "ollama-chat": frozenset(_SAMPLING | {"presence_penalty", "frequency_penalty", "tools", "response_format",
                                          "logprobs", "top_logprobs"}),
    "ollama-generate": frozenset(_SAMPLING | {"presence_penalty", "frequency_penalty", "response_format",
                                              "logprobs", "top_logprobs"}),
    "hf-text-generation": frozenset(_SAMPLING),
    "local": frozenset(),
    "http": frozenset(_SAMPLING),  # a generic endpoint's own template decides what it does with them
}


def carries_message_names(spec: ModelSpec) -> bool:
    """Whether a message's speaker `name` reaches the model: a field of OpenAI's chat messages,
    which the servers that copy its format take too; no other wire format has one."""
    return spec.api == "openai-chat"


def table_key(spec: ModelSpec) -> str:
    if spec.api == "openai-chat":
        from studio.providers.adapters.openai_chat import family

        return family(spec)
    return spec.api


def translated(spec: ModelSpec) -> frozenset[str]:
    return TRANSLATED.get(table_key(spec), frozenset())


def unsupported(spec: ModelSpec, params: dict[str, Any]) -> list[str]:
    """The known parameters in `params` this model's wire format cannot carry (a value of None,
    or n=1 / logprobs=false, asks for nothing and is never a problem)."""
    can = translated(spec)
    return [name for name in params if name in OPENAI_PARAMS and name not in can and not _asks_nothing(name, params[name])]


def _asks_nothing(name: str, value: Any) -> bool:
    return value is None or (name == "n" and value == 1) or (name == "logprobs" and value is False) \
        or (name == "parallel_tool_calls" and value is True)


def refusal(spec: ModelSpec, names: Iterable[str]) -> str:
    names = list(names)
    which = ", ".join(f"'{n}'" for n in names)
    return (f"{which} {'is' if len(names) == 1 else 'are'} not supported by {spec.id} ({table_key(spec)} API); "
            f"remove {'it' if len(names) == 1 else 'them'}, or send the header 'x-iom-drop-params: true' to drop "
            f"unsupported parameters.")
