"""Ollama's native API: `/api/chat`, `/api/generate`, `/api/embed`. Streams are NDJSON; an
`{"error": …}` line can arrive under a 200; the final `done` line carries token counts and
nanosecond durations (tokens per second = eval_count / eval_duration)."""

from __future__ import annotations

from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, bearer, canonical_messages, map_params,
                                            prompt_text, split_data_url)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

OPTIONS = {"max_tokens": "num_predict", "temperature": "temperature", "stop": "stop", "seed": "seed", "top_p": "top_p"}


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
    if x.spec.api == "ollama-chat":
        system, turns = canonical_messages(x.input)
        msgs = [{"role": "system", "content": system}] if system else []
        for t in turns:
            m = {"role": t["role"], "content": t["content"]}
            if t["images"]:
                m["images"] = _images(t["images"])
            msgs.append(m)
        body["messages"] = msgs
    else:
        system, turns = canonical_messages(x.input)
        body["prompt"] = prompt_text({k: v for k, v in x.input.items() if k != "system"})
        if system:
            body["system"] = system
        images = [i for t in turns for i in t["images"]]
        if images:
            body["images"] = _images(images)
    return body


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
        return AdapterResult({"text": _delta(doc), "finishReason": finish or "stop"}, finish, u,
                             tokens_per_second=tps, raw_request=body, raw_response=doc)
    last = None
    async for doc in x.ndjson(x.spec.endpoint, body=body, headers=bearer(x.key)):
        if not isinstance(doc, dict):
            continue
        if doc.get("error"):
            raise x.stream_error({"error": {"message": str(doc["error"])}})
        await x.send_text(_delta(doc))
        if doc.get("done"):
            last = doc  # read on to the end, so the connection can be reused
    if last is None:
        raise x.cut_off('the final line with "done": true')
    u, tps = _usage(last)
    finish = last.get("done_reason")
    return AdapterResult({"text": x.partial, "finishReason": finish or "stop"}, finish, u,
                         tokens_per_second=tps, raw_request=body)


async def _embed(x: Exchange) -> AdapterResult:
    body = {"model": x.spec.model, "input": x.input["input"]}
    doc, _resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=bearer(x.key))
    if not isinstance(doc, dict) or not isinstance(doc.get("embeddings"), list):
        raise ProviderError(ErrorKind.MALFORMED, "the reply has no embeddings")
    u, _ = _usage(doc)
    return AdapterResult({"vectors": doc["embeddings"]}, None, u, raw_request=body)


async def probe(x: Exchange) -> None:
    base = x.spec.endpoint.split("/api/")[0]
    await x.request_json("GET", base + "/api/tags", headers=bearer(x.key))
