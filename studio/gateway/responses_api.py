"""OpenAI's Responses API (`POST /v1/responses`, plain and streamed) over the same registry, what
the `openai` SDK's `client.responses.create` (and the tools built on it) call: the request
becomes the canonical chat input and OpenAI-named params, run as a chat completion is.

Carried: `input` as a string or a list of message items (text and image parts; `system` and
`developer` turns; earlier `function_call` / `function_call_output` items), `instructions`,
function `tools` and `tool_choice`, `text.format` (JSON schema or object), `max_output_tokens`,
`temperature`, `top_p`, `parallel_tool_calls`, `user`, `reasoning.effort` (as Chat Completions'
`reasoning_effort`: to OpenAI, refused for a model without it). Not kept: nothing is stored, so
`store: true` and `previous_response_id` are refused (a conversation is sent whole each time),
and so are the built-in tools (web search, file search…), which no registry model runs here.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from studio import jsonwrite
from studio.errors import UserError
from studio.gateway.api_app import request_id
from studio.gateway.errors import GatewayError, classify, openai_error, openai_error_body
from studio.gateway.incoming import drop_requested, parsed, request_json
from studio.gateway.json_answer import JSONAnswer
from studio.gateway.runners import dropped_header, runner
from studio.gateway.streaming import Reply, StreamedAnswer

# Responses fields -> the canonical (Chat Completions) names
PARAMS = {"max_output_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p",
          "parallel_tool_calls": "parallel_tool_calls", "user": "user"}
# the Chat Completions names of Responses fields that have another, as a refusal says them
OWN_NAMES = {"reasoning_effort": "reasoning.effort", "max_tokens": "max_output_tokens"}
_KNOWN = {"model", "input", "instructions", "stream", "tools", "tool_choice", "text", "store", "metadata", "reasoning",
          *PARAMS}


def register(router, get_studio: Callable[[], Any]) -> None:
    async def responses(request: Request):
        try:
            body = await request_json(request)
            model, input, params, unknown = parsed(parse_responses, body)
            try:
                run, dropped = runner(get_studio(), model, input, params, drop_requested(request),
                                      request_id=request_id(request), unknown={k: body[k] for k in unknown},
                                      speaks="openai-responses",
                                      refusal="{names} is not a Responses parameter the studio can send to {model}")
            except GatewayError as e:
                raise _in_responses_words(e) from None
            headers = dropped_header([OWN_NAMES.get(d, d) for d in dropped])
            shape = Shape(model, body)
            if body.get("stream"):
                return StreamedAnswer(run, EventFrames(shape), headers)
            return JSONAnswer(shape.response(await run(None), "completed"), headers=headers)
        except Exception as e:  # noqa: BLE001 - classify re-raises what it does not know
            return openai_error(classify(e))

    router.add_route("/v1/responses", responses, methods=["POST"])


def _in_responses_words(e: GatewayError) -> GatewayError:
    """A refusal naming a Chat Completions parameter, as the Responses field the caller sent."""
    for chat, own in OWN_NAMES.items():
        e.message = e.message.replace(f"'{chat}'", f"'{own}'")
        e.args = (e.message,)
        e.param = own if e.param == chat else e.param
    return e


def parse_responses(body: Any) -> tuple[str, dict, dict, list[str]]:
    """(model, canonical input, params, unknown keys) from a Responses request."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise UserError("the request needs a JSON object with a 'model' (a registry id or pipeline/<id>).")
    if body.get("previous_response_id") is not None or body.get("store") is True:
        raise UserError("the studio keeps no responses: send the whole conversation as 'input' each time, "
                        "without 'previous_response_id' or 'store': true.")
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list) and all(isinstance(item, dict) for item in given):
        for item in given:
            _add_item(messages, item)
    else:
        raise UserError("the request needs an 'input': a string, or a list of message items.")
    if not messages or all(m["role"] == "system" for m in messages):
        raise UserError("the request's 'input' has no message to answer.")
    params = {PARAMS[k]: body[k] for k in PARAMS if body.get(k) is not None}
    params.update(_tools(body))
    params.update(_reasoning(body.get("reasoning")))
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        params["response_format"] = {"type": "json_schema", "json_schema": {
            k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        params["response_format"] = {"type": "json_object"}
    unknown = [k for k in body if k not in _KNOWN and body[k] is not None]
    return body["model"], {"messages": messages}, params, unknown


def _add_item(messages: list[dict[str, Any]], item: dict) -> None:
    """One input item as canonical (Chat Completions-shaped) messages."""
    kind = item.get("type", "message")
    if kind == "message":
        role = {"developer": "system"}.get(item.get("role"), item.get("role") or "user")
        messages.append({"role": role, "content": _content(item.get("content"))})
    elif kind == "function_call":
        call = {"id": item.get("call_id") or item.get("id") or "", "type": "function",
                "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or "{}"}}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and last.get("tool_calls") is not None:
            last["tool_calls"].append(call)  # one assistant turn asked for several calls
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        messages.append({"role": "tool", "tool_call_id": item.get("call_id") or "",
                         "content": output if isinstance(output, str) else json.dumps(output)})
    else:
        raise UserError(f"input items of type {kind!r} are not supported; send message, function_call or "
                        f"function_call_output items.")


def _content(content: Any) -> Any:
    """A message item's content: a string, or input_text / input_image / output_text parts."""
    if isinstance(content, str) or content is None:
        return content or ""
    parts = []
    for p in content if isinstance(content, list) else []:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": p.get("text") or ""})
        elif kind == "input_image":
            url = p.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise UserError("an input_image needs an 'image_url' (a URL or a data: URL); file ids are not kept here.")
            parts.append({"type": "image_url", "image_url": {"url": url, **({"detail": p["detail"]} if p.get("detail") else {})}})
        else:
            raise UserError(f"content parts of type {kind!r} are not supported; send input_text or input_image.")
    return parts


def _reasoning(reasoning: Any) -> dict[str, Any]:
    """`reasoning.effort` as Chat Completions' `reasoning_effort` (which capabilities.py then
    carries to OpenAI, or refuses for a model that has no such setting, as for a chat call). A
    reasoning summary is made by the Responses API alone, which no registry model answers with."""
    if reasoning is None:
        return {}
    if not isinstance(reasoning, dict):
        raise UserError("'reasoning' must be an object such as {\"effort\": \"low\"}.")
    extra = [k for k, v in reasoning.items() if k != "effort" and v is not None]
    if extra:
        raise UserError(f"reasoning.{extra[0]} cannot be carried by the studio (it calls models through their chat "
                        f"APIs, which make no reasoning summary); send only reasoning.effort.")
    return {"reasoning_effort": reasoning["effort"]} if reasoning.get("effort") is not None else {}


def _tools(body: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tools = body.get("tools") or []
    functions = [t for t in tools if isinstance(t, dict) and t.get("type") == "function"]
    others = [t.get("type") for t in tools if not isinstance(t, dict) or t.get("type") != "function"]
    if others:
        raise UserError(f"tools of type {', '.join(repr(o) for o in others)} are not run by the studio; send "
                        f"function tools only.")
    if functions:
        out["tools"] = [{"type": "function", "function": {
            "name": t.get("name"), "description": t.get("description") or "",
            "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            **({"strict": t["strict"]} if t.get("strict") is not None else {})}} for t in functions]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif isinstance(choice, str):
        out["tool_choice"] = choice
    return out


class Shape:
    """The response object and its output items, as the Responses API writes them."""

    def __init__(self, model: str, body: dict):
        self.model, self.body = model, body
        self.ident, self.created = f"resp_{secrets.token_hex(16)}", int(time.time())
        self.message_id = f"msg_{secrets.token_hex(16)}"

    def message(self, text: str, status: str = "completed") -> dict:
        return {"type": "message", "id": self.message_id, "status": status, "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []}

    @staticmethod
    def function_call(call: dict, index: int) -> dict:
        return {"type": "function_call", "id": f"fc_{index}_{call['id']}", "call_id": call["id"],
                "name": call["function"]["name"], "arguments": call["function"].get("arguments") or "{}",
                "status": "completed"}

    def output(self, r: Reply) -> list[dict]:
        items = [self.message(r.text)] if r.text or not r.tool_calls else []
        return items + [self.function_call(c, i) for i, c in enumerate(r.tool_calls)]

    def response(self, r: Reply | None, status: str) -> dict:
        b = self.body
        done = r is not None
        incomplete = done and r.finish == "length"
        return {
            "id": self.ident, "object": "response", "created_at": self.created,
            "status": "incomplete" if incomplete else status, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": b.get("instructions"), "max_output_tokens": b.get("max_output_tokens"),
            "model": self.model, "output": self.output(r) if done else [],
            "parallel_tool_calls": b.get("parallel_tool_calls", True), "previous_response_id": None,
            "temperature": b.get("temperature"), "top_p": b.get("top_p"),
            "text": b.get("text") or {"format": {"type": "text"}}, "tool_choice": b.get("tool_choice") or "auto",
            "tools": b.get("tools") or [], "truncation": "disabled", "store": False,
            "metadata": b.get("metadata") or {}, "user": b.get("user"),
            "usage": _usage(r) if done else None,
        }


def _usage(r: Reply) -> dict:
    return {"input_tokens": r.input_tokens, "input_tokens_details": {"cached_tokens": r.cached_tokens},
            "output_tokens": r.output_tokens, "output_tokens_details": {"reasoning_tokens": r.reasoning_tokens or 0},
            "total_tokens": r.input_tokens + r.output_tokens}


class EventFrames:
    """The Responses stream: response.created, the message item as its text comes
    (output_item.added, content_part.added, output_text.delta…), then its .done events, each
    function call as an item, and response.completed with the whole response."""

    def __init__(self, shape: Shape):
        self.shape = shape
        self.sequence = 0
        self.open = False
        self.text_so_far: list[str] = []

    def event(self, kind: str, **data: Any) -> str:
        doc = {"type": kind, "sequence_number": self.sequence, **data}
        self.sequence += 1
        return f"event: {kind}\ndata: {jsonwrite.dumps_text(doc)}\n\n"

    def opening(self) -> str:
        started = self.shape.response(None, "in_progress")
        return self.event("response.created", response=started) + self.event("response.in_progress", response=started)

    def text(self, index: int, text: str) -> str:
        out = ""
        if not self.open:
            self.open = True
            out = self.event("response.output_item.added", output_index=0,
                             item=self.shape.message("", "in_progress")) + \
                self.event("response.content_part.added", item_id=self.shape.message_id, output_index=0,
                           content_index=0, part={"type": "output_text", "text": "", "annotations": []})
        self.text_so_far.append(text)
        return out + self.event("response.output_text.delta", item_id=self.shape.message_id, output_index=0,
                                content_index=0, delta=text, logprobs=[])

    def closing(self, r: Reply) -> str:
        out = [self.text(0, r.text)] if not self.open and (r.text or not r.tool_calls) else []
        index = 0
        if self.open:
            text = "".join(self.text_so_far)
            part = {"type": "output_text", "text": text, "annotations": []}
            out += [self.event("response.output_text.done", item_id=self.shape.message_id, output_index=0,
                               content_index=0, text=text, logprobs=[]),
                    self.event("response.content_part.done", item_id=self.shape.message_id, output_index=0,
                               content_index=0, part=part),
                    self.event("response.output_item.done", output_index=0, item=self.shape.message(text))]
            index = 1
        for i, call in enumerate(r.tool_calls):
            item = self.shape.function_call(call, i)
            out += [self.event("response.output_item.added", output_index=index, item={**item, "arguments": "",
                                                                                       "status": "in_progress"}),
                    self.event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                               delta=item["arguments"]),
                    self.event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                               arguments=item["arguments"]),
                    self.event("response.output_item.done", output_index=index, item=item)]
            index += 1
        final = self.shape.response(r, "completed")
        out.append(self.event("response.incomplete" if final["status"] == "incomplete" else "response.completed",
                              response=final))
        return "".join(out)

    def failure(self, err: GatewayError) -> str:
        """The call failed after text went out: an `error` event, then the response as failed."""
        body = openai_error_body(err)["error"]
        failed = {**self.shape.response(None, "failed"), "error": {"code": body["code"], "message": body["message"]}}
        return self.event("error", code=body["code"], message=body["message"], param=body.get("param")) + \
            self.event("response.failed", response=failed)

    def refusal(self, err: GatewayError) -> Response:
        return openai_error(err)
