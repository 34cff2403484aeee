"""OpenAI Chat Completions, and every server that speaks it (HF router, Ollama /v1, vLLM,
LM Studio, OpenRouter): Bearer auth, SSE with `stream_options.include_usage`, `[DONE]`, and
an `error` object inside a 200 stream. Only OpenAI itself documents `max_completion_tokens`;
the others document `max_tokens`, so each gets the name its own documentation gives."""

from __future__ import annotations

from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, StreamedChoices, bearer, canonical_messages,
                                            chat_output, interleaved, listed, map_params, not_listed, request_id,
                                            with_choices)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

PARAMS = {"max_tokens": "max_completion_tokens", "temperature": "temperature", "stop": "stop",
          "seed": "seed", "top_p": "top_p", "n": "n", "logprobs": "logprobs", "top_logprobs": "top_logprobs"}
# vLLM, OpenRouter, LM Studio…: `max_tokens`, and not the parameters they do not all document
# (capabilities.py refuses those before a call gets here)
COMPATIBLE_PARAMS = {**PARAMS, "max_tokens": "max_tokens", "n": None, "logprobs": None, "top_logprobs": None}
# the HF router's chat-completion spec and Ollama's OpenAI-compatibility page list log-probabilities
LOGPROBS_PARAMS = {**COMPATIBLE_PARAMS, "logprobs": "logprobs", "top_logprobs": "top_logprobs"}
PARAMS_BY_FAMILY = {"openai": PARAMS, "hf-router": LOGPROBS_PARAMS, "ollama-openai": LOGPROBS_PARAMS,
                    "openai-compatible": COMPATIBLE_PARAMS}


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"type": "text", "text": part["text"]}  # (a Claude prompt-cache mark is not OpenAI's)
    image = {"url": part["url"], **({"detail": part["detail"]} if part.get("detail") else {})}
    return {"type": "image_url", "image_url": image}


def _host(spec) -> str:
    return spec.endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()


def speaks_openai_itself(spec) -> bool:
    """OpenAI's own API (or Azure OpenAI), as opposed to a server that copies its format;
    the provider field says who runs the model, the host settles unlabelled endpoints."""
    return spec.provider == "openai" or _host(spec).endswith(("openai.com", "openai.azure.com"))


def family(spec) -> str:
    """Whose documentation the request follows: "openai", "hf-router", "ollama-openai" or any
    other "openai-compatible" server (their documented parameters differ)."""
    if speaks_openai_itself(spec):
        return "openai"
    if spec.provider == "huggingface" or _host(spec).endswith("huggingface.co"):
        return "hf-router"
    if spec.provider == "ollama":
        return "ollama-openai"
    return "openai-compatible"


def messages(input: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenAI's messages: system turns where the caller put them (OpenAI takes several, anywhere),
    and each turn's speaker `name`."""
    system, turns = canonical_messages(input, system_turns=True)
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for t in turns:
        if interleaved(t) and t["role"] != "system":  # a system turn's text parts go a line apart, as before
            msg: dict[str, Any] = {"role": t["role"], "content": [_part(p) for p in t["parts"]]}
        else:
            msg = {"role": t["role"], "content": t["content"]}
        if t["tool_calls"]:
            msg["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                "name": c["function"]["name"], "arguments": c["function"].get("arguments") or "{}"}}
                for c in t["tool_calls"]]
            msg["content"] = msg["content"] or None
        if t["role"] == "tool":
            msg["tool_call_id"] = t["tool_call_id"]
        if t.get("name"):
            msg["name"] = t["name"]
        out.append(msg)
    return out


def content_text(content: Any) -> str:
    """A reply's message content as text: a string, or a list of parts (Mistral and some proxies)
    whose text parts are joined; other parts (thinking, images) are not the answer's text."""
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ProviderError(ErrorKind.MALFORMED, "the reply's message content is neither text nor a list of parts")
    return "".join(p if isinstance(p, str) else p.get("text") or "" for p in content
                   if isinstance(p, str) or (isinstance(p, dict) and p.get("type", "text") == "text"))


def tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": c.get("id") or f"call_{i}", "type": "function",
             "function": {"name": (c.get("function") or {}).get("name") or "",
                          "arguments": (c.get("function") or {}).get("arguments") or ""}}
            for i, c in enumerate(message.get("tool_calls") or [])]


def _logprobs(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    content = (choice.get("logprobs") or {}).get("content")
    return content if isinstance(content, list) else None


def _merge_tool_deltas(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    """Streamed tool calls come as pieces keyed by index: id and name once, arguments in parts."""
    for d in deltas:
        c = calls.setdefault(d.get("index", len(calls)), {"id": "", "type": "function",
                                                           "function": {"name": "", "arguments": ""}})
        c["id"] = d.get("id") or c["id"]
        fn = d.get("function") or {}
        c["function"]["name"] += fn.get("name") or ""
        c["function"]["arguments"] += fn.get("arguments") or ""


def _as_chunk(doc: Any) -> dict[str, Any]:
    """A whole reply to a stream request (from a server that ignored stream: true) as the one
    chunk of a stream: each choice's message as its delta, its tool calls indexed as deltas are."""
    if isinstance(doc, dict) and doc.get("error"):
        return doc
    try:
        choices = [{**c, "delta": {**c["message"], "tool_calls": [
            {**t, "index": i} for i, t in enumerate(c["message"].get("tool_calls") or [])]}} for c in doc["choices"]]
    except (KeyError, TypeError, AttributeError):
        raise ProviderError(ErrorKind.MALFORMED, "the reply has no choices[0].message") from None
    if not choices:
        raise ProviderError(ErrorKind.MALFORMED, "the reply has no choices[0].message")
    return {**doc, "choices": choices}


def usage(doc: Any) -> Usage | None:
    if not isinstance(doc, dict):
        return None
    prompt = doc.get("prompt_tokens_details") or {}
    completion = doc.get("completion_tokens_details") or {}
    return Usage(input_tokens=doc.get("prompt_tokens") or 0, output_tokens=doc.get("completion_tokens") or 0,
                 cached_tokens=prompt.get("cached_tokens") or 0,
                 reasoning_tokens=completion.get("reasoning_tokens"), source="provider")


async def call(x: Exchange) -> AdapterResult:
    body: dict[str, Any] = {"model": x.spec.model, "messages": messages(x.input), **map_params(x.params, PARAMS_BY_FAMILY[family(x.spec)])}
    headers = bearer(x.key)
    if not x.stream:
        doc, resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=headers)
        try:
            choices = sorted(doc["choices"], key=lambda c: c.get("index", 0))
            outputs = [chat_output(content_text(c["message"].get("content")), c.get("finish_reason") or "stop",
                                   tool_calls(c["message"]), _logprobs(c)) for c in choices]
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no choices[0].message") from None
        if not outputs:
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no choices[0].message")
        finish = choices[0].get("finish_reason")
        return AdapterResult(with_choices(outputs), finish, usage(doc.get("usage")),
                             doc.get("id") or request_id(resp), raw_request=body, raw_response=doc)

    body.update(stream=True, stream_options={"include_usage": True})
    found_usage, rid, done = None, None, False
    streamed = StreamedChoices(x)
    calls: dict[int, dict[int, dict[str, Any]]] = {}  # per choice index, tool-call pieces by their index
    headers_rid: list[str | None] = []
    async for events in x.sse_batches(x.spec.endpoint, body=body, headers=headers,
                                      on_open=lambda r: headers_rid.append(request_id(r))):
        for _event, data in events:
            if data == "[DONE]":
                done = True  # read on to the end of the body, so the connection can be reused
                continue
            if _event == "json":  # the whole reply: the server ignored stream: true
                data, done = _as_chunk(data), True
            if not isinstance(data, dict):
                continue
            if data.get("error"):
                raise x.stream_error(data)
            rid = rid or data.get("id")
            for choice in data.get("choices") or []:
                index = choice.get("index") or 0
                delta = choice.get("delta") or {}
                text = delta.get("content") or ""
                if not isinstance(text, str):
                    text = content_text(text)
                if streamed.take(index, text, choice.get("finish_reason"),
                                 _logprobs(choice) if choice.get("logprobs") else None):
                    await streamed.emit(index, text)
                if delta.get("tool_calls"):
                    _merge_tool_deltas(calls.setdefault(index, {}), delta["tool_calls"])
            if data.get("usage"):
                found_usage = usage(data["usage"])
    if not done:
        raise x.cut_off("its [DONE] line")
    outputs = streamed.outputs(lambda i: [calls.get(i, {})[k] for k in sorted(calls.get(i, {}))], "stop")
    return AdapterResult(with_choices(outputs), streamed.finish, found_usage,
                         rid or (headers_rid[0] if headers_rid else None), raw_request=body)


async def probe(x: Exchange) -> None:
    """List models (GET …/models next to …/chat/completions): cheap and free. A list that lacks
    the model says it cannot be called; a list that is empty, in pages or not OpenAI's shape
    says nothing either way, nor does Azure's (its calls name a deployment, not a model)."""
    base = x.spec.endpoint.split("/chat/completions")[0]
    doc, _resp = await x.request_json("GET", base.rstrip("/") + "/models", headers=bearer(x.key))
    names = model_ids(doc)
    if names and x.spec.model and not _host(x.spec).endswith("azure.com") and not listed(x.spec.model, names):
        raise not_listed(x.spec.model)


def model_ids(doc: Any) -> set[str] | None:
    """The ids of an OpenAI-style model list when it is one whole page of them, else None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list) or doc.get("has_more") or doc.get("next"):
        return None
    ids = [m.get("id") if isinstance(m, dict) else None for m in doc["data"]]
    return set(ids) if all(isinstance(i, str) for i in ids) else None
