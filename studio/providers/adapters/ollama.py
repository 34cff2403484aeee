"""Ollama's native API: `/api/chat`, `/api/generate`, `/api/embed`. Streams are NDJSON; an
`{"error": …}` line can arrive under a 200; the final `done` line carries token counts and
nanosecond durations (tokens per second = eval_count / eval_duration). `logprobs` and
`top_logprobs` are top-level request fields; each reply line carries its tokens' log-probabilities
in nearly OpenAI's shape (bytes are filled in where Ollama leaves them out)."""

from __future__ import annotations

import json
from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, bearer, canonical_messages, chat_output,
                                            embedding_vectors, listed, map_params, not_listed, prompt_text,
                                            split_data_url, token_logprob)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

OPTIONS = {"max_tokens": "num_predict", "temperature": "temperature", "stop": "stop", "seed": "seed", "top_p": "top_p",
           "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty",
           "tools": None, "response_format": None, "tool_choice": None, "n": None, "logprobs": None,
           "top_logprobs": None}


def _format(fmt: Any) -> Any:
    """OpenAI's response_format as Ollama's `format`: "json", or the JSON schema itself."""
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema" and (fmt.get("json_schema") or {}).get("schema"):
        return fmt["json_schema"]["schema"]
    return "json" if fmt.get("type") in ("json_object", "json_schema") else None


def _images(urls: list[str]) -> list[str]:
    """Ollama wants raw base64; a URL it cannot fetch itself is refused here, clearly."""
    out = []
    for url in urls:
        data = split_data_url(url)
        if not data:
            raise ProviderError(ErrorKind.INVALID_INPUT, "Ollama takes images as data: URLs (base64), not links")
        out.append(data[1])
    return out


def body_for(x: Exchange) -> dict[str, Any]:
    body: dict[str, Any] = {"model": x.spec.model, "stream": x.stream}
    options = map_params(x.params, OPTIONS)
    if options:
        body["options"] = options
    for name in ("logprobs", "top_logprobs"):  # beside options, not inside them
        if x.params.get(name) is not None:
            body[name] = x.params[name]
    if _format(x.params.get("response_format")) is not None:
        body["format"] = _format(x.params["response_format"])
    if x.spec.api == "ollama-chat":
        if x.params.get("tools"):
            body["tools"] = x.params["tools"]  # Ollama documents OpenAI's function-tool shape
        system, turns = canonical_messages(x.input)
        names = {c["id"]: c["function"]["name"] for t in turns for c in t["tool_calls"]}
        msgs = [{"role": "system", "content": system}] if system else []
        for t in turns:
            m = {"role": t["role"], "content": t["content"]}
            if t["tool_calls"]:
                m["tool_calls"] = [{"function": {"name": c["function"]["name"],
                                                 "arguments": _arguments(c["function"].get("arguments"))}}
                                   for c in t["tool_calls"]]
            if t["role"] == "tool" and t["tool_call_id"] in names:
                m["tool_name"] = names[t["tool_call_id"]]
            if t["images"]:
                m["images"] = _images(t["images"])
            msgs.append(m)
        body["messages"] = msgs
    else:
        system, turns = canonical_messages(x.input)
        body["prompt"] = prompt_text(_without_system(x.input))
        if system:
            body["system"] = system
        images = [i for t in turns for i in t["images"]]
        if images:
            body["images"] = _images(images)
    return body


def _without_system(input: dict[str, Any]) -> dict[str, Any]:
    """The input less its system text (the `system` key and system messages), which
    /api/generate takes in its own field: in the prompt too, the model would read it twice."""
    out = {k: v for k, v in input.items() if k != "system"}
    if isinstance(out.get("messages"), list):
        out["messages"] = [m for m in out["messages"] if not (isinstance(m, dict) and m.get("role") == "system")]
    return out


def _arguments(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ProviderError(ErrorKind.INVALID_INPUT, "a tool call's arguments are not a JSON object") from None
    return value if isinstance(value, dict) else {"value": value}


def _calls(doc: dict[str, Any], start: int = 0) -> list[dict[str, Any]]:
    calls = (doc.get("message") or {}).get("tool_calls") or []
    return [{"id": c.get("id") or f"call_{start + i}", "type": "function",
             "function": {"name": (c.get("function") or {}).get("name") or "",
                          "arguments": json.dumps((c.get("function") or {}).get("arguments") or {})}}
            for i, c in enumerate(calls)]


def _logprobs(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A line's `logprobs` as OpenAI's `logprobs.content` entries."""
    found = doc.get("logprobs")
    if not isinstance(found, list):
        return None
    def entry(t: dict[str, Any]) -> dict[str, Any]:
        return token_logprob(t.get("token") or "", t.get("logprob"), t.get("bytes"))

    return [{**entry(t), "top_logprobs": [entry(a) for a in t.get("top_logprobs") or [] if isinstance(a, dict)]}
            for t in found if isinstance(t, dict)]


def _delta(doc: dict[str, Any]) -> str:
    return (doc.get("message") or {}).get("content") or "" if "message" in doc else doc.get("response") or ""


def _usage(doc: dict[str, Any]) -> tuple[Usage | None, float | None]:
    if "eval_count" not in doc and "prompt_eval_count" not in doc:
        return None, None
    out = doc.get("eval_count") or 0
    dur = doc.get("eval_duration") or 0
    tps = out / (dur / 1e9) if out and dur else None
    return Usage(input_tokens=doc.get("prompt_eval_count") or 0, output_tokens=out, source="provider"), tps


async def call(x: Exchange) -> AdapterResult:
    if x.spec.api == "ollama-embed":
        return await _embed(x)
    body = body_for(x)
    if not x.stream:
        doc, _resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=bearer(x.key))
        if not isinstance(doc, dict) or ("message" not in doc and "response" not in doc):
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no message or response")
        u, tps = _usage(doc)
        finish = doc.get("done_reason")
        return AdapterResult(chat_output(_delta(doc), finish or "stop", _calls(doc), _logprobs(doc)), finish, u,
                             tokens_per_second=tps, raw_request=body, raw_response=doc)
    last = None
    calls: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] | None = None
    async for doc in x.ndjson(x.spec.endpoint, body=body, headers=bearer(x.key)):
        if not isinstance(doc, dict):
            continue
        if doc.get("error"):
            raise x.stream_error({"error": {"message": str(doc["error"])}})
        await x.send_text(_delta(doc))
        found = _logprobs(doc)
        if found is not None:
            tokens = tokens if tokens is not None else []
            tokens.extend(found)
        calls += _calls(doc, len(calls))
        if doc.get("done"):
            last = doc  # read on to the end, so the connection can be reused
    if last is None:
        raise x.cut_off('the final line with "done": true')
    u, tps = _usage(last)
    finish = last.get("done_reason")
    return AdapterResult(chat_output(x.partial, finish or "stop", calls, tokens), finish, u,
                         tokens_per_second=tps, raw_request=body)


async def _embed(x: Exchange) -> AdapterResult:
    body = {"model": x.spec.model, "input": x.input["input"]}
    doc, _resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=bearer(x.key))
    if not isinstance(doc, dict) or not isinstance(doc.get("embeddings"), list):
        raise ProviderError(ErrorKind.MALFORMED, "the reply has no embeddings")
    u, _ = _usage(doc)
    return AdapterResult({"vectors": embedding_vectors(doc["embeddings"], body["input"])}, None, u, raw_request=body)


async def probe(x: Exchange) -> None:
    """List the installed models (GET /api/tags): a model not among them cannot be called
    until it is pulled. A reply not in the documented shape says nothing either way."""
    base = x.spec.endpoint.split("/api/")[0]
    doc, _resp = await x.request_json("GET", base + "/api/tags", headers=bearer(x.key))
    names = _tags(doc)
    if names is not None and x.spec.model and not listed(x.spec.model, names):
        raise not_listed(x.spec.model, f"; pull it with 'ollama pull {x.spec.model}'")


def _tags(doc: Any) -> set[str] | None:
    """The names in an /api/tags reply (each model's `name` and `model`), or None when it is
    not that shape."""
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in doc["models"]):
        return None
    return {n for m in doc["models"] for n in (m["name"], m.get("model")) if isinstance(n, str)}
