"""Anthropic Messages: `x-api-key` and `anthropic-version`, system at the top level,
`max_tokens` always sent; streams are named SSE events (message_start, content_block_delta,
message_delta with cumulative usage, ping, message_stop, and `error` after a 200)."""

from __future__ import annotations

from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, canonical_messages, map_params, request_id,
                                            split_data_url)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
PARAMS = {"max_tokens": "max_tokens", "temperature": "temperature", "stop": "stop_sequences",
          "top_p": "top_p", "seed": None}


def headers(key: str | None) -> dict[str, str]:
    h = {"anthropic-version": VERSION}
    if key:
        h["x-api-key"] = key
    return h


def _content(turn: dict[str, Any]) -> Any:
    if not turn["images"]:
        return turn["content"]
    parts: list[dict[str, Any]] = []
    for url in turn["images"]:
        data = split_data_url(url)
        parts.append({"type": "image", "source": {"type": "base64", "media_type": data[0], "data": data[1]}}
                     if data else {"type": "image", "source": {"type": "url", "url": url}})
    return parts + ([{"type": "text", "text": turn["content"]}] if turn["content"] else [])


def body_for(x: Exchange) -> dict[str, Any]:
    system, turns = canonical_messages(x.input)
    params = map_params(x.params, PARAMS)
    if isinstance(params.get("stop_sequences"), str):
        params["stop_sequences"] = [params["stop_sequences"]]
    body: dict[str, Any] = {"model": x.spec.model, "max_tokens": DEFAULT_MAX_TOKENS,
                            "messages": [{"role": t["role"], "content": _content(t)} for t in turns], **params}
    if system:
        body["system"] = system
    return body


def usage(u: dict[str, Any]) -> Usage:
    cached = u.get("cache_read_input_tokens") or 0
    written = u.get("cache_creation_input_tokens") or 0
    return Usage(input_tokens=(u.get("input_tokens") or 0) + cached + written,
                 output_tokens=u.get("output_tokens") or 0, cached_tokens=cached, source="provider")


async def call(x: Exchange) -> AdapterResult:
    body = body_for(x)
    if not x.stream:
        doc, resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=headers(x.key))
        if not isinstance(doc, dict) or not isinstance(doc.get("content"), list):
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no content list")
        text = "".join(b.get("text", "") for b in doc["content"] if b.get("type") == "text")
        stop = doc.get("stop_reason")
        return AdapterResult({"text": text, "finishReason": stop or "end_turn"}, stop,
                             usage(doc.get("usage") or {}) if doc.get("usage") else None,
                             doc.get("id") or request_id(resp, "request-id"), raw_request=body, raw_response=doc)

    body["stream"] = True
    u: dict[str, Any] = {}
    stop, rid, done = None, None, False
    async for event, data in x.sse(x.spec.endpoint, body=body, headers=headers(x.key)):
        if not isinstance(data, dict):
            continue
        kind = data.get("type") or event
        if kind == "error" or event == "error":
            raise x.stream_error(data)
        if kind == "message_start":
            msg = data.get("message") or {}
            rid = msg.get("id")
            u.update(msg.get("usage") or {})
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                await x.send_text(delta.get("text") or "")
        elif kind == "message_delta":
            stop = (data.get("delta") or {}).get("stop_reason") or stop
            u.update(data.get("usage") or {})  # cumulative: the latest figures replace earlier ones
        elif kind == "message_stop":
            done = True  # read on to the end, so the connection can be reused
    if not done:
        raise x.cut_off("message_stop")
    return AdapterResult({"text": x.partial, "finishReason": stop or "end_turn"}, stop, usage(u) if u else None,
                         rid, raw_request=body)


async def probe(x: Exchange) -> None:
    base = x.spec.endpoint.rsplit("/messages", 1)[0]
    await x.request_json("GET", base + "/models", headers=headers(x.key))
