"""Anthropic Messages: `x-api-key` and `anthropic-version`, system at the top level,
`max_tokens` always sent; streams are named SSE events (message_start, content_block_delta,
message_delta with cumulative usage, ping, message_stop, and `error` after a 200)."""

from __future__ import annotations

import json
from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, canonical_messages, chat_output, interleaved,
                                            map_params, request_id, split_data_url, system_parts)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

VERSION = "2023-06-01"
# Anthropic requires max_tokens; a caller that set none (an OpenAI client, a pipeline node) expects
# no cap, so the highest every Claude model accepts (Claude 3 Haiku and Opus stop at 4096). A
# model's defaultParams.max_tokens sets its own.
DEFAULT_MAX_TOKENS = 4096
# the extended-thinking blocks Claude answers with and must be given back, signature intact
THINKING = ("thinking", "redacted_thinking")
PARAMS = {"max_tokens": "max_tokens", "temperature": "temperature", "stop": "stop_sequences",
          "top_p": "top_p", "seed": None, "tools": None, "tool_choice": None, "parallel_tool_calls": None,
          "user": None, "n": None, "logprobs": None}
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
          "refusal": "content_filter", "pause_turn": "stop"}


def headers(key: str | None) -> dict[str, str]:
    h = {"anthropic-version": VERSION}
    if key:
        h["x-api-key"] = key
    return h


def _content(turn: dict[str, Any]) -> Any:
    if turn["role"] == "tool":  # a result's images (a screenshot tool's) go with its text, in order
        content = [_block(p) for p in turn["parts"]] if turn["images"] else turn["content"]
        return [{"type": "tool_result", "tool_use_id": turn["tool_call_id"] or "", "content": content,
                 **({"is_error": True} if turn.get("is_error") else {})}]
    thinking = turn.get("thinking") or []
    if not interleaved(turn) and not turn["tool_calls"] and not thinking:
        return turn["content"]
    parts = [*thinking, *(_block(p) for p in turn["parts"])]  # Claude wants its thinking first
    for c in turn["tool_calls"]:
        parts.append({"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
                      "input": _arguments(c["function"].get("arguments"))})
    return parts


def _block(part: dict[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return part
    data = split_data_url(part["url"])
    source = {"type": "base64", "media_type": data[0], "data": data[1]} if data else {"type": "url", "url": part["url"]}
    return {"type": "image", "source": source}


def _arguments(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        raise ProviderError(ErrorKind.INVALID_INPUT, "a tool call's arguments are not a JSON object") from None
    return value if isinstance(value, dict) else {"value": value}


def _messages(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic has no `tool` role: results are user turns, and consecutive ones merge."""
    out: list[dict[str, Any]] = []
    for t in turns:
        role = "user" if t["role"] == "tool" else t["role"]
        content = _content(t)
        if out and out[-1]["role"] == role == "user" and t["role"] == "tool" and isinstance(out[-1]["content"], list) \
                and all(b.get("type") == "tool_result" for b in out[-1]["content"]):
            out[-1]["content"] += content
        else:
            out.append({"role": role, "content": content})
    return out


def _tools(params: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's tools / tool_choice / parallel_tool_calls / user in Anthropic's names."""
    out: dict[str, Any] = {}
    if params.get("tools"):
        out["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description") or "",
                         "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
                        for t in params["tools"]]
    choice = params.get("tool_choice")
    if choice is not None:
        if isinstance(choice, dict):
            out["tool_choice"] = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
        else:
            out["tool_choice"] = {"type": {"required": "any"}.get(choice, choice)}  # auto / none / any
    if params.get("parallel_tool_calls") is False and out.get("tools"):
        out.setdefault("tool_choice", {"type": "auto"})["disable_parallel_tool_use"] = True
    if params.get("user"):
        out["metadata"] = {"user_id": params["user"]}
    return out


def finish_reason(stop: str | None) -> str | None:
    return FINISH.get(stop, stop) if stop else None


def body_for(x: Exchange) -> dict[str, Any]:
    system, turns = canonical_messages(x.input)
    params = map_params(x.params, PARAMS)
    if isinstance(params.get("stop_sequences"), str):
        params["stop_sequences"] = [params["stop_sequences"]]
    body: dict[str, Any] = {"model": x.spec.model, "max_tokens": DEFAULT_MAX_TOKENS,
                            "messages": _messages(turns), **params, **_tools(x.params)}
    if system:
        blocks = system_parts(x.input)  # as blocks when one carries a prompt-cache mark, which a string loses
        body["system"] = blocks if any("cache_control" in b for b in blocks) else system
    return body


def usage(u: dict[str, Any]) -> Usage:
    cached = u.get("cache_read_input_tokens") or 0
    written = u.get("cache_creation_input_tokens") or 0
    return Usage(input_tokens=(u.get("input_tokens") or 0) + cached + written,
                 output_tokens=u.get("output_tokens") or 0, cached_tokens=cached, cache_write_tokens=written,
                 source="provider")


def _output(text: str, stop: str | None, sequence: Any, calls: list[dict[str, Any]],
            thinking: list[dict[str, Any]]) -> dict[str, Any]:
    """The canonical output, with the stop sequence that ended it (Anthropic says which) and the
    thinking blocks, which a tool loop must send back in its assistant turn."""
    out = chat_output(text, stop or "end_turn", calls)
    if isinstance(sequence, str) and stop == "stop_sequence":
        out["stopSequence"] = sequence
    if thinking:
        out["thinking"] = thinking
    return out


async def call(x: Exchange) -> AdapterResult:
    body = body_for(x)
    if not x.stream:
        doc, resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=headers(x.key))
        if not isinstance(doc, dict) or not isinstance(doc.get("content"), list):
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no content list")
        text = "".join(b.get("text", "") for b in doc["content"] if b.get("type") == "text")
        stop = doc.get("stop_reason")
        calls = [{"id": b.get("id") or "", "type": "function",
                  "function": {"name": b.get("name") or "", "arguments": json.dumps(b.get("input") or {})}}
                 for b in doc["content"] if b.get("type") == "tool_use"]
        thinking = [b for b in doc["content"] if isinstance(b, dict) and b.get("type") in THINKING]
        return AdapterResult(_output(text, stop, doc.get("stop_sequence"), calls, thinking), stop,
                             usage(doc.get("usage") or {}) if doc.get("usage") else None,
                             doc.get("id") or request_id(resp, "request-id"), raw_request=body, raw_response=doc)

    body["stream"] = True
    u: dict[str, Any] = {}
    stop, sequence, rid, done = None, None, None, False
    blocks: dict[int, dict[str, Any]] = {}
    thinking: dict[int, dict[str, Any]] = {}
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
            x.usage_so_far = usage(u)  # what a call stopped from here on is billed at least
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                blocks[data.get("index", len(blocks))] = {"id": block.get("id") or "", "type": "function",
                                                          "function": {"name": block.get("name") or "", "arguments": ""}}
            elif block.get("type") in THINKING:
                thinking[data.get("index", len(thinking))] = dict(block)
                await x.send_block({"type": "start", "content_block": block})
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                await x.send_text(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta" and data.get("index") in blocks:
                blocks[data["index"]]["function"]["arguments"] += delta.get("partial_json") or ""
            elif delta.get("type") in ("thinking_delta", "signature_delta") and data.get("index") in thinking:
                field = delta["type"].removesuffix("_delta")
                block = thinking[data["index"]]
                block[field] = (block.get(field) or "") + (delta.get(field) or "")
                await x.send_block({"type": "delta", "delta": delta})
        elif kind == "content_block_stop" and data.get("index") in thinking:
            await x.send_block({"type": "stop"})
        elif kind == "message_delta":
            stop = (data.get("delta") or {}).get("stop_reason") or stop
            sequence = (data.get("delta") or {}).get("stop_sequence") or sequence
            u.update(data.get("usage") or {})  # cumulative: the latest figures replace earlier ones
            x.usage_so_far = usage(u)
        elif kind == "message_stop":
            done = True  # read on to the end, so the connection can be reused
    if not done:
        raise x.cut_off("message_stop")
    calls = [blocks[i] for i in sorted(blocks)]
    for c in calls:
        c["function"]["arguments"] = c["function"]["arguments"] or "{}"
    return AdapterResult(_output(x.partial, stop, sequence, calls, [thinking[i] for i in sorted(thinking)]), stop,
                         usage(u) if u else None,
                         rid, raw_request=body)


async def probe(x: Exchange) -> None:
    base = x.spec.endpoint.rsplit("/messages", 1)[0]
    await x.request_json("GET", base + "/models", headers=headers(x.key))
