"""`GET /v1/models` and `POST /v1/chat/completions` on the studio's own server.

Thin by design: it maps OpenAI's HTTP shapes onto the same hub and engine the UI and the CLI
use, so every call is routed, recorded and priced the same way.

- `model` is a registry id (an llm or vision model), or `pipeline/<id>` for a saved pipeline.
- A pipeline's input is the last user message: a JSON object is used as the run's input,
  any other text becomes `{"text": …}`. Its reply is the output's `text`, else its JSON.
- `stream: true` answers with server-sent chat.completion.chunk events and `[DONE]`;
  `stream_options.include_usage` adds the usage chunk OpenAI sends.
- Errors come back in OpenAI's shape, {"error": {"message", "type", "code"}}, one sentence.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from studio import jsonread
from studio.errors import NotFound, UserError
from studio.providers.errors import ErrorKind, ProviderError
from studio.secrets import redact
from studio.spec.calls import CallRequest

PIPELINE_PREFIX = "pipeline/"
CALL_PARAMS = ("temperature", "top_p", "stop", "seed", "max_tokens")
_STATUS = {ErrorKind.RATE_LIMITED: 429, ErrorKind.TIMEOUT: 504, ErrorKind.BAD_REQUEST: 400,
           ErrorKind.INVALID_INPUT: 400, ErrorKind.CONTEXT_LENGTH: 400, ErrorKind.KEY_MISSING: 400,
           ErrorKind.INCOMPLETE: 400, ErrorKind.CONTENT_BLOCKED: 400}


def register(app, get_studio: Callable[[], Any]) -> None:
    async def list_models() -> dict:
        s = get_studio()
        data = [{"id": m.id, "object": "model", "created": int(m.created.timestamp()), "owned_by": m.provider}
                for m in s.models.all() if m.model_type in ("llm", "vision")]
        data += [{"id": PIPELINE_PREFIX + p.id, "object": "model", "created": 0, "owned_by": "iom-studio"}
                 for p in s.pipelines.all()]
        return {"object": "list", "data": data}

    async def chat_completions(request: Request):
        try:
            body = jsonread.loads(await request.body() or b"null", "the request body")
        except UserError as e:
            return _error(400, "invalid_request_error", str(e))
        try:
            call = _parse(body)
            make = _pipeline_runner if call["model"].startswith(PIPELINE_PREFIX) else _model_runner
            runner = await asyncio.to_thread(make, get_studio(), call)  # reads the registry from disk
            if call["stream"]:
                return StreamingResponse(_sse(call, runner), media_type="text/event-stream")
            text, finish, usage = await runner(None)
            return JSONResponse(_completion(call["model"], text, finish, usage))
        except ProviderError as e:
            return _error(_STATUS.get(e.kind, 502), e.kind.value, str(e), e.retry_after_s)
        except NotFound as e:
            return _error(404, "model_not_found", str(e))
        except UserError as e:
            return _error(400, "invalid_request_error", str(e))

    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])


def _parse(body: Any) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise UserError("the request needs a JSON object with a 'model' (a registry id or pipeline/<id>).")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise UserError("the request needs 'messages', a non-empty list of {role, content} objects.")
    for m in messages:
        if isinstance(m.get("content"), list):  # OpenAI's content parts: keep the text parts
            m["content"] = "".join(p.get("text", "") for p in m["content"] if isinstance(p, dict))
    params = {k: body[k] for k in CALL_PARAMS if body.get(k) is not None}
    if body.get("max_completion_tokens") is not None:
        params["max_tokens"] = body["max_completion_tokens"]
    return {"model": body["model"], "messages": messages, "params": params, "stream": bool(body.get("stream")),
            "include_usage": bool((body.get("stream_options") or {}).get("include_usage"))}


def _model_runner(studio, call: dict):
    spec = studio.models.get(call["model"])
    if spec.model_type not in ("llm", "vision"):
        raise UserError(f"{spec.id} is a {spec.model_type} model; chat completions need an llm or vision model.")
    messages = [{"role": m.get("role", "user"), "content": str(m.get("content") or "")} for m in call["messages"]]
    request = CallRequest(model_id=spec.id, input={"messages": messages}, params=call["params"])

    async def run(on_text):
        result = await studio.providers.call(spec, request.model_copy(update={"stream": on_text is not None}),
                                             on_text=on_text)
        u = result.usage
        return result.output.get("text", ""), result.finish_reason or "stop", (u.input_tokens, u.output_tokens)

    return run


def _pipeline_runner(studio, call: dict):
    from studio.engine import RunOptions

    pipeline = studio.pipelines.get(call["model"][len(PIPELINE_PREFIX):])
    last = next((m for m in reversed(call["messages"]) if m.get("role", "user") == "user"), call["messages"][-1])
    content = str(last.get("content") or "")
    try:
        inputs = json.loads(content)
    except ValueError:
        inputs = None
    if not isinstance(inputs, dict):
        inputs = {"text": content}

    async def run(on_text):
        record = await studio.engine.run(pipeline, inputs, RunOptions(
            on_text=(lambda _node, text: on_text(text)) if on_text else None))
        if record.status != "succeeded":
            raise UserError(record.error or f"the pipeline run {record.status}.")
        out = record.outputs
        text = out["text"] if isinstance(out, dict) and isinstance(out.get("text"), str) and len(out) == 1 \
            else json.dumps(out, ensure_ascii=False)
        return text, "stop", (record.input_tokens, record.output_tokens)

    return run


def _completion(model: str, text: str, finish: str, usage: tuple[int, int]) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": finish}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}}


async def _sse(call: dict, runner):
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        doc = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": call["model"],
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(doc, ensure_ascii=False)}\n\n"

    queue: asyncio.Queue = asyncio.Queue()
    task = asyncio.ensure_future(runner(queue.put_nowait))
    task.add_done_callback(lambda _t: queue.put_nowait(None))
    yield chunk({"role": "assistant", "content": ""})
    sent = False
    try:
        while (text := await queue.get()) is not None:
            sent = True
            yield chunk({"content": text})
        text, finish, usage = task.result()
        if not sent and text:
            yield chunk({"content": text})  # a pipeline whose output is not streamed text
        yield chunk({}, finish)
        if call["include_usage"]:
            doc = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": call["model"],
                   "choices": [], "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                                            "total_tokens": sum(usage)}}
            yield f"data: {json.dumps(doc)}\n\n"
    except (ProviderError, UserError) as e:
        kind = e.kind.value if isinstance(e, ProviderError) else "invalid_request_error"
        yield f"data: {json.dumps({'error': {'message': redact(str(e)), 'type': kind, 'code': kind}})}\n\n"
    finally:
        if not task.done():
            task.cancel()
    yield "data: [DONE]\n\n"


def _error(status: int, kind: str, message: str, retry_after_s: float | None = None) -> JSONResponse:
    headers = {"retry-after": str(max(1, round(retry_after_s)))} if retry_after_s else None
    return JSONResponse({"error": {"message": redact(message), "type": kind, "code": kind}},
                        status_code=status, headers=headers)
