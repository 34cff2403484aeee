"""OpenAI's HTTP API on the studio's own server: `GET /v1/models`, `GET /v1/models/{id}`,
`POST /v1/chat/completions`, `POST /v1/embeddings` (and, from their own modules, Anthropic's
`POST /v1/messages` and OpenAI's `POST /v1/responses`); any other `/v1/...` answers a JSON 404.

Thin by design: the request becomes the canonical chat input (OpenAI's message shape, see
spec/calls.py) and OpenAI-named params, and the same hub and engine the UI and the CLI use
run it, so every call is routed, recorded and priced the same way.

- `model` is a registry id (an llm or vision model), or `pipeline/<id>` for a saved pipeline.
- A parameter the target cannot carry is refused with a 400 naming it and the model; with the
  header `x-iom-drop-params: true` (or IOM_GATEWAY_DROP_PARAMS=1) it is dropped and listed in
  the `x-iom-dropped-params` response header. One the studio does not know (`store`,
  `service_tier`…) goes as it is to OpenAI's own API, which decides.
- `stream: true` waits for the first token before answering, so an early failure keeps its
  real status; later failures arrive as an `error` event (gateway/streaming.py). With `n` > 1
  every choice's text streams as the provider sends it, each under its own index.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import struct
import time
from datetime import datetime, timezone
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from studio import jsonwrite
from studio.errors import UserError
from studio.gateway import anthropic_api, responses_api
from studio.gateway.api_app import request_id
from studio.gateway.errors import GatewayError, anthropic_error, classify, openai_error, openai_error_body
from studio.gateway.incoming import drop_requested, parsed, request_json
from studio.gateway.json_answer import JSONAnswer
from studio.gateway.runners import PIPELINE_PREFIX, dropped_header, runner
from studio.gateway.streaming import Reply, StreamedAnswer
from studio.providers import capabilities
from studio.providers.hub import CallContext
from studio.spec.calls import CallRequest

CHAT_TYPES = ("llm", "vision")
SERVED_TYPES = CHAT_TYPES + ("embedding",)  # what /v1/models lists and retrieves
_NOT_PARAMS = {"model", "messages", "stream", "stream_options", "max_completion_tokens"}


def encode_vector(vector: list[float], encoding: str) -> list[float] | str:
    """A vector as OpenAI sends it: floats, or with "base64" (the openai SDK's default, which it
    decodes itself) the float32 values little-endian, base64-encoded."""
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def register(router, get_studio: Callable[[], Any]) -> None:
    """Add the routes to a Starlette router (studio/gateway/api_app.py builds it)."""
    def model_doc(ident: str, name: str, created: datetime | None, owner: str, anthropic: bool) -> dict:
        """A model as the caller's SDK reads it: the anthropic SDK (it sends `anthropic-version`)
        wants type, display_name and created_at; the openai SDK object, created and owned_by."""
        if anthropic:
            when = (created or datetime.fromtimestamp(0, timezone.utc)).astimezone(timezone.utc)
            return {"type": "model", "id": ident, "display_name": name, "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return {"id": ident, "object": "model", "created": int(created.timestamp()) if created else 0, "owned_by": owner}

    def spec_doc(m, anthropic: bool) -> dict:
        return model_doc(m.id, m.name, m.created, m.provider, anthropic)

    def pipeline_doc(p, anthropic: bool) -> dict:
        return model_doc(PIPELINE_PREFIX + p.id, p.name or p.id, None, "iom-studio", anthropic)

    async def list_models(request: Request) -> JSONAnswer:
        s, anthropic = get_studio(), "anthropic-version" in request.headers
        data = [spec_doc(m, anthropic) for m in s.models.all() if m.model_type in SERVED_TYPES]
        data += [pipeline_doc(p, anthropic) for p in s.pipelines.all()]
        if anthropic:
            return JSONAnswer({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                               "last_id": data[-1]["id"] if data else None})
        return JSONAnswer({"object": "list", "data": data})

    async def get_model(request: Request) -> JSONAnswer:
        s, model_id = get_studio(), request.path_params["model_id"]
        anthropic = "anthropic-version" in request.headers
        try:
            if model_id.startswith(PIPELINE_PREFIX):
                p = await asyncio.to_thread(s.pipelines.get, model_id[len(PIPELINE_PREFIX):])
                return JSONAnswer(pipeline_doc(p, anthropic))
            spec = await asyncio.to_thread(s.models.get, model_id)
            if spec.model_type not in SERVED_TYPES:  # as the list has it: no endpoint here calls it
                raise GatewayError(404, "model_not_found", f"{spec.id} is a {spec.model_type} model, which this API does "
                                                     f"not serve; /v1/models lists the models it does.")
            return JSONAnswer(spec_doc(spec, anthropic))
        except Exception as e:  # noqa: BLE001 - classify re-raises what it does not know
            return (anthropic_error if anthropic else openai_error)(classify(e))

    async def chat_completions(request: Request):
        try:
            body = await request_json(request)
            model, input, params, stream, include_usage, unknown = parsed(parse_chat, body)
            run, dropped = runner(get_studio(), model, input, params, drop_requested(request), request_id=request_id(request),
                                  unknown={k: body[k] for k in unknown}, speaks="openai",
                                  refusal="{names} is not a Chat Completions parameter the studio can send to {model}")
            headers = dropped_header(dropped)
            if stream:
                return StreamedAnswer(run, ChunkFrames(model, include_usage), headers, choices=True)
            return JSONAnswer(completion(model, await run(None)), headers=headers)
        except Exception as e:  # noqa: BLE001
            return openai_error(classify(e))

    async def embeddings(request: Request):
        try:
            body = await request_json(request)
            if not isinstance(body, dict) or not isinstance(body.get("model"), str) or body.get("input") is None:
                raise UserError("the request needs a 'model' (a registry embedding model) and an 'input'.")
            s = get_studio()
            spec = await asyncio.to_thread(s.models.get, body["model"])
            if spec.model_type != "embedding":
                raise UserError(f"{spec.id} is a {spec.model_type} model; /v1/embeddings needs an embedding model.")
            encoding = body.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                raise UserError(f"encoding_format {encoding!r} is not one of 'float' and 'base64'; send one of them.")
            if body.get("dimensions") is not None:
                raise UserError(f"'dimensions' is not supported by {spec.id}; remove it.")
            result = await s.providers.call(spec, CallRequest(model_id=spec.id, input={"input": body["input"]}),
                                            context=CallContext(call_id=request_id(request)))
            vectors = result.output.get("vectors") or []
            return JSONAnswer({
                "object": "list", "model": spec.id,
                "data": [{"object": "embedding", "index": i, "embedding": encode_vector(v, encoding)}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": result.usage.input_tokens, "total_tokens": result.usage.input_tokens}})
        except Exception as e:  # noqa: BLE001
            return openai_error(classify(e))

    async def not_found(request: Request):
        rest = request.path_params["rest"]
        if rest.startswith("messages/"):  # e.g. messages/count_tokens: in the shape the anthropic SDK reads
            return anthropic_error(GatewayError(404, "not_found", f"there is no {request.method} /v1/{rest} on this "
                                                                  f"server; /v1/messages is"))
        return openai_error(GatewayError(404, "not_found", f"there is no {request.method} /v1/{rest} on this server; "
                                                           f"see /v1/models, /v1/chat/completions, /v1/responses, "
                                                           f"/v1/embeddings and /v1/messages"))

    router.add_route("/v1/models", list_models, methods=["GET"])
    router.add_route("/v1/models/{model_id:path}", get_model, methods=["GET"])
    router.add_route("/v1/chat/completions", chat_completions, methods=["POST"])
    router.add_route("/v1/embeddings", embeddings, methods=["POST"])
    anthropic_api.register(router, get_studio)
    responses_api.register(router, get_studio)
    router.add_route("/v1/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


def parse_chat(body: Any) -> tuple[str, dict, dict, bool, bool, list[str]]:
    """(model, canonical input, params, stream, include_usage, unknown keys) from an OpenAI body."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise UserError("the request needs a JSON object with a 'model' (a registry id or pipeline/<id>).")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise UserError("the request needs 'messages', a non-empty list of {role, content} objects.")
    unknown = [k for k in body if k not in _NOT_PARAMS and k not in capabilities.OPENAI_PARAMS and body[k] is not None]
    params = {k: body[k] for k in capabilities.OPENAI_PARAMS if k in body and body[k] is not None}
    if body.get("max_completion_tokens") is not None:
        params["max_tokens"] = body["max_completion_tokens"]
    input = {"messages": [_message(m) for m in messages]}
    return (body["model"], input, params, bool(body.get("stream")),
            bool((body.get("stream_options") or {}).get("include_usage")), unknown)


def _message(m: dict) -> dict:
    """OpenAI's message as the canonical one (the same shape; `developer` is a system turn, which
    OpenAI's chat takes as the same)."""
    out = {k: m[k] for k in ("role", "content", "tool_calls", "tool_call_id", "name") if m.get(k) is not None}
    if out.get("role") == "developer":
        out["role"] = "system"
    return out


def _usage(r: Reply) -> dict:
    u: dict[str, Any] = {"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens,
                         "total_tokens": r.input_tokens + r.output_tokens}
    if r.cached_tokens:
        u["prompt_tokens_details"] = {"cached_tokens": r.cached_tokens}
    if r.reasoning_tokens is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": r.reasoning_tokens}
    return u


def _logprobs(r: Reply) -> dict | None:
    return {"content": r.logprobs, "refusal": None} if r.logprobs is not None else None


def completion(model: str, r: Reply) -> dict:
    choices = []
    for index, c in enumerate([r, *r.more]):
        message: dict[str, Any] = {"role": "assistant", "content": c.text if (c.text or not c.tool_calls) else None}
        if c.tool_calls:
            message["tool_calls"] = c.tool_calls
        choices.append({"index": index, "message": message, "finish_reason": c.finish, "logprobs": _logprobs(c)})
    return {"id": f"chatcmpl-{secrets.token_hex(12)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": choices, "usage": _usage(r)}


class ChunkFrames:
    """OpenAI's `chat.completion.chunk` stream; the text of each choice after the first opens
    with its role, as OpenAI's own stream does."""

    def __init__(self, model: str, include_usage: bool):
        self.model, self.include_usage = model, include_usage
        self.ident, self.created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        self.live: set[int] = set()  # the choices whose text went out as it came
        # The frame of a piece of the first choice's text, around the text's JSON: what `chunk`
        # writes for it, built once, since a streamed answer sends one per token.
        self._text_frame = self.chunk({"content": "\0"}).rsplit(jsonwrite.dumps_text("\0"), 1)  # the text comes last

    def chunk(self, delta: dict | None, finish: str | None = None, index: int = 0, logprobs: dict | None = None,
              **extra) -> str:
        choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        doc = {"id": self.ident, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
               "choices": [] if delta is None else [choice], **extra}
        return f"data: {jsonwrite.dumps_text(doc)}\n\n"

    def opening(self) -> str:
        return self.chunk({"role": "assistant", "content": ""})

    def text(self, index: int, text: str) -> str:
        if not index:
            self.live.add(0)
            head, tail = self._text_frame
            return head + jsonwrite.dumps_text(text) + tail
        opens = index not in self.live
        self.live.add(index)
        return self.chunk({"role": "assistant", "content": text} if opens else {"content": text}, index=index)

    def closing(self, r: Reply) -> str:
        # each choice's text went out live, or goes now, whole (a pipeline whose output is not
        # streamed text); then its log-probabilities, tool calls and finish reason, under its index
        out = []
        for index, c in enumerate([r, *r.more]):
            if index not in self.live and (index or c.text):
                out.append(self.text(index, c.text))
            if c.logprobs is not None:
                out.append(self.chunk({}, index=index, logprobs=_logprobs(c)))
            for i, call in enumerate(c.tool_calls):
                out.append(self.chunk({"tool_calls": [{"index": i, **call}]}, index=index))
            out.append(self.chunk({}, c.finish, index=index))
        if self.include_usage:
            out.append(self.chunk(None, usage=_usage(r)))
        out.append("data: [DONE]\n\n")
        return "".join(out)

    def failure(self, err: GatewayError) -> str:
        return f"data: {jsonwrite.dumps_text(openai_error_body(err))}\n\ndata: [DONE]\n\n"

    def refusal(self, err: GatewayError) -> Response:
        return openai_error(err)
