"""Anthropic's Messages API (`POST /v1/messages`, plain and streamed) over the same registry:
the request becomes the canonical chat input (OpenAI's message shape) and OpenAI-named
params, so an Anthropic client can call an OpenAI, Gemini or local model, or a pipeline. A field
the studio does not know (`thinking`, `top_k`, `service_tier`…) goes as it is to a Claude model.
Claude's thinking blocks (`thinking`, `redacted_thinking`) come back in the answer (streamed as
Claude streams them) and go back to Claude in an assistant turn, signature intact; another model
gets the turn without them (x-iom-dropped-params says so)."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from studio import jsonwrite
from studio.errors import UserError
from studio.gateway.api_app import request_id
from studio.gateway.errors import GatewayError, anthropic_error, anthropic_error_detail, classify
from studio.gateway.incoming import drop_requested, parsed, request_json
from studio.gateway.json_answer import JSONAnswer
from studio.gateway.runners import PIPELINE_PREFIX, dropped_header, runner
from studio.gateway.streaming import Reply, StreamedAnswer
from studio.providers.adapters.anthropic import THINKING  # Claude's extended-thinking block types

# OpenAI's finish reasons (what a Reply carries) as Anthropic's stop reasons
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
# Anthropic's own, passed on as a Claude model said them (no other provider uses these words)
ANTHROPIC_STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                          "model_context_window_exceeded"}
# Anthropic request fields -> the canonical (OpenAI) param names
PARAMS = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "stop_sequences": "stop"}
_KNOWN = {"model", "messages", "system", "stream", "tools", "tool_choice", "metadata", *PARAMS}


def register(router, get_studio: Callable[[], Any]) -> None:
    async def messages(request: Request):
        try:
            body = await request_json(request)
            model, input, params, unknown = parsed(parse_messages, body)
            run, dropped = runner(get_studio(), model, input, params, drop_requested(request), request_id=request_id(request),
                                  unknown={k: body[k] for k in unknown}, speaks="anthropic-messages")
            headers = dropped_header(dropped)
            if body.get("stream"):
                return StreamedAnswer(run, EventFrames(model), headers)
            return JSONAnswer(message(model, await run(None)), headers=headers)
        except Exception as e:  # noqa: BLE001 - classify re-raises what it does not know
            return anthropic_error(classify(e))

    async def count_tokens(request: Request):
        """A Claude model counts for itself; no other model's tokens can be counted exactly
        here (each provider tokenizes its own way), so those are refused, not estimated."""
        try:
            body = await request_json(request)
            model = body.get("model") if isinstance(body, dict) else None
            if not isinstance(model, str) or not model:
                raise GatewayError(400, "invalid_request_error", "'model' is required: a registry model id.",
                                   param="model")
            studio = get_studio()
            spec = None if model.startswith(PIPELINE_PREFIX) else await asyncio.to_thread(studio.models.get, model)
            if spec is None or spec.api != "anthropic-messages":
                raise GatewayError(400, "invalid_request_error",
                                   f"count_tokens is answered for Claude models, which count their own tokens; "
                                   f"{model} is not one (each provider counts its own way).", param="model")
            doc = await studio.providers.count_tokens(spec, {k: v for k, v in body.items() if k != "stream"})
            if not isinstance(doc, dict) or not isinstance(doc.get("input_tokens"), int):
                raise GatewayError(502, "api_error", f"{spec.id}'s provider answered count_tokens without a count.")
            return JSONAnswer({"input_tokens": doc["input_tokens"]})
        except Exception as e:  # noqa: BLE001 - classify re-raises what it does not know
            return anthropic_error(classify(e))

    router.add_route("/v1/messages", messages, methods=["POST"])
    router.add_route("/v1/messages/count_tokens", count_tokens, methods=["POST"])


def parse_messages(body: Any) -> tuple[str, dict, dict, list[str]]:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise UserError("the request needs a JSON object with a 'model' (a registry id or pipeline/<id>).")
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns or not all(isinstance(m, dict) for m in turns):
        raise UserError("the request needs 'messages', a non-empty list of {role, content} objects.")
    if not isinstance(body.get("max_tokens"), int):
        raise UserError("the request needs 'max_tokens', a whole number.")
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None and not _text_or_blocks(system):  # dropped, the model ran without the caller's instructions
        raise UserError("'system' must be a string or a list of text blocks ({\"type\": \"text\", \"text\": \"…\"}).")
    if system:  # blocks keep their cache_control for a Claude model (others get the text)
        out.append({"role": "system", "content": system if isinstance(system, str) else
                    [{"type": "text", "text": b["text"], **_cached(b)} for b in system if isinstance(b, dict) and b.get("text")]})
    for m in turns:
        out += _turn(m)
    params = {PARAMS[k]: body[k] for k in PARAMS if body.get(k) is not None}
    if body.get("tools"):
        params["tools"] = [{"type": "function", "function": {"name": t.get("name"), "description": t.get("description") or "",
                                                              "parameters": t.get("input_schema") or {"type": "object"}}}
                           for t in body["tools"]]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        params["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}} if kind == "tool" \
            else {"any": "required"}.get(kind, kind)
        if choice.get("disable_parallel_tool_use"):
            params["parallel_tool_calls"] = False
    if (body.get("metadata") or {}).get("user_id"):
        params["user"] = body["metadata"]["user_id"]
    unknown = [k for k in body if k not in _KNOWN and body[k] is not None]
    return body["model"], {"messages": out}, params, unknown


def _text_or_blocks(system: Any) -> bool:
    return isinstance(system, str) or (isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type", "text") == "text" and isinstance(b.get("text"), str) for b in system))


def _cached(block: dict) -> dict[str, Any]:
    """A block's prompt-cache mark, carried on its canonical part to a Claude model."""
    return {"cache_control": block["cache_control"]} if isinstance(block.get("cache_control"), dict) else {}


def _image(b: dict) -> dict[str, Any]:
    src = b.get("source") or {}
    url = src.get("url") if src.get("type") == "url" else f"data:{src.get('media_type')};base64,{src.get('data')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _result_content(c: Any) -> Any:
    """A tool_result's content: its text, or text and image parts when it holds an image (which
    only a Claude model takes; another model's call is refused, not given the text alone)."""
    if isinstance(c, str) or not isinstance(c, list):
        return c if isinstance(c, str) else ""
    if not any(isinstance(x, dict) and x.get("type") == "image" for x in c):
        return "\n".join(x["text"] for x in c if isinstance(x, dict) and x.get("text"))
    return [_image(x) if x.get("type") == "image" else {"type": "text", "text": x.get("text") or ""}
            for x in c if isinstance(x, dict) and (x.get("type") == "image" or x.get("text"))]


def _turn(m: dict) -> list[dict[str, Any]]:
    """One Anthropic turn as canonical messages: tool_result blocks become `tool` messages, an
    assistant's thinking blocks ride on its message as they are (for Claude, signature intact)."""
    content = m.get("content")
    role = m.get("role", "user")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    parts, calls, results, thinking = [], [], [], []
    for b in content or []:
        kind = b.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": b.get("text") or "", **_cached(b)})
        elif kind == "image":
            parts.append(_image(b))
        elif kind == "tool_use":
            calls.append({"id": b.get("id"), "type": "function",
                          "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})}})
        elif kind == "tool_result":
            results.append({"role": "tool", "tool_call_id": b.get("tool_use_id"), "content": _result_content(b.get("content")),
                            **({"is_error": True} if b.get("is_error") else {})})
        elif kind in THINKING and role == "assistant":
            thinking.append(b)
        else:
            raise UserError(f"content blocks of type {kind!r} are not supported; send text, image, tool_use or "
                            f"tool_result blocks (and an assistant turn's thinking blocks).")
    out = results[:]
    if parts or calls or thinking:
        msg: dict[str, Any] = {"role": role, "content": parts or None}
        if calls:
            msg["tool_calls"] = calls
        if thinking:
            msg["thinking"] = thinking
        out.append(msg)
    return out


def _blocks(r: Reply) -> list[dict[str, Any]]:
    blocks = [dict(b) for b in r.thinking]  # Claude's thinking comes first, as it answered
    if r.text or not r.tool_calls:
        blocks.append({"type": "text", "text": r.text})
    for c in r.tool_calls:
        try:
            args = json.loads(c["function"].get("arguments") or "{}")
        except ValueError:
            args = {}
        blocks.append({"type": "tool_use", "id": c["id"], "name": c["function"]["name"], "input": args})
    return blocks


def _usage(r: Reply) -> dict[str, int]:
    """Anthropic's split: input_tokens is what was neither read from nor written to the cache."""
    return {"input_tokens": r.input_tokens - r.cached_tokens - r.cache_write_tokens, "output_tokens": r.output_tokens,
            "cache_read_input_tokens": r.cached_tokens, "cache_creation_input_tokens": r.cache_write_tokens}


def _stop(r: Reply) -> dict[str, Any]:
    """stop_reason and stop_sequence: a Claude model's own (which stop sequence ended it, a
    pause_turn), else the OpenAI finish reason translated."""
    if r.provider_finish in ANTHROPIC_STOP_REASONS:
        return {"stop_reason": r.provider_finish,
                "stop_sequence": r.stop_sequence if r.provider_finish == "stop_sequence" else None}
    return {"stop_reason": STOP_REASONS.get(r.finish, "end_turn"), "stop_sequence": None}


def message(model: str, r: Reply) -> dict:
    return {"id": f"msg_{secrets.token_hex(12)}", "type": "message", "role": "assistant", "model": model,
            "content": _blocks(r), **_stop(r), "usage": _usage(r)}


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {jsonwrite.dumps_text({'type': name, **data})}\n\n"


class EventFrames:
    """Anthropic's Messages stream: message_start, Claude's thinking blocks and one text block as
    they come, then the tool_use blocks, message_delta (stop reason, usage) and message_stop."""

    def __init__(self, model: str):
        self.model = model
        self.text_open = False
        self.text_index = 0  # the open text block's index
        self.next_index = 0  # the index the next block gets
        self.thinking_streamed = self.text_sent = False

    def opening(self) -> str:
        return _event("message_start", {"message": {
            "id": f"msg_{secrets.token_hex(12)}", "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})

    def text(self, index: int, text: str) -> str:
        self.text_sent = True
        if self.text_open:
            return _event("content_block_delta", {"index": self.text_index, "delta": {"type": "text_delta", "text": text}})
        self.text_open, self.text_index = True, self.next_index
        self.next_index += 1
        return (_event("content_block_start", {"index": self.text_index, "content_block": {"type": "text", "text": ""}})
                + _event("content_block_delta", {"index": self.text_index, "delta": {"type": "text_delta", "text": text}}))

    def block(self, event: dict[str, Any]) -> str:
        """A piece of a thinking block as Claude streamed it (thinking_delta, signature_delta)."""
        self.thinking_streamed = True
        if event["type"] == "start":
            out = self._close_text()
            self.next_index += 1
            return out + _event("content_block_start", {"index": self.next_index - 1,
                                                        "content_block": event["content_block"]})
        if event["type"] == "delta":
            return _event("content_block_delta", {"index": self.next_index - 1, "delta": event["delta"]})
        return _event("content_block_stop", {"index": self.next_index - 1})

    def _close_text(self) -> str:
        if not self.text_open:
            return ""
        self.text_open = False
        return _event("content_block_stop", {"index": self.text_index})

    def closing(self, r: Reply) -> str:
        out = []
        if not self.thinking_streamed and not self.text_sent:  # an answer that came whole
            for block in r.thinking:
                out.append(_event("content_block_start", {"index": self.next_index, "content_block": block}))
                out.append(_event("content_block_stop", {"index": self.next_index}))
                self.next_index += 1
        if not self.text_sent and r.text:
            out.append(self.text(0, r.text))
        out.append(self._close_text())
        index = self.next_index
        for block in _blocks(r):
            if block["type"] != "tool_use":
                continue
            out.append(_event("content_block_start", {"index": index, "content_block": {**block, "input": {}}}))
            out.append(_event("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
            out.append(_event("content_block_stop", {"index": index}))
            index += 1
        out.append(_event("message_delta", {"delta": _stop(r), "usage": _usage(r)}))
        out.append(_event("message_stop", {}))
        return "".join(out)

    def failure(self, err: GatewayError) -> str:
        """The error's own type (Claude's `overloaded_error`, a rate limit) as the refusal before
        the first token would have said it; `api_error` where nothing more is known."""
        return _event("error", {"error": anthropic_error_detail(err)})

    def refusal(self, err: GatewayError) -> Response:
        return anthropic_error(err)
