"""The floor for bench_gateway.py: a proxy that does nothing but pass an OpenAI chat request to
the upstream and its answer back, on the stack the studio serves with (uvicorn with uvloop and
httptools where installed, Starlette, aiohttp's client). No auth, validation, translation or
record: what any Python gateway on this machine pays before it does its work.

    UPSTREAM=http://127.0.0.1:PORT python bench/bare_proxy.py LISTEN_PORT
"""

from __future__ import annotations

import os
import sys

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ["UPSTREAM"]
_session: aiohttp.ClientSession | None = None


async def chat(request: Request) -> Response:
    global _session
    if _session is None:
        _session = aiohttp.ClientSession()
    body = await request.body()
    reply = await _session.post(UPSTREAM + "/v1/chat/completions", data=body,
                                headers={"content-type": "application/json"})
    if not reply.headers.get("content-type", "").startswith("text/event-stream"):
        data = await reply.read()
        reply.release()
        return Response(data, status_code=reply.status, media_type="application/json")

    async def pieces():
        try:
            async for chunk in reply.content.iter_any():
                yield chunk
        finally:
            reply.release()
    return StreamingResponse(pieces(), status_code=reply.status, media_type="text/event-stream")


async def models(request: Request) -> Response:
    return Response(b'{"object":"list","data":[]}', media_type="application/json")


app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
