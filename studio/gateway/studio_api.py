"""The studio's own local API, for its CLI: reads of the analytics database, which the web app
holds while it runs, and applying its retention setting (studio/analytics/remote.py is the other side). Guarded like the gateway:
the allowed Host and Origin checks of the server, and the gateway token (studio/security/guard.py
checks both before this route runs)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from studio import jsonread
from studio.analytics.remote import READ_PATH, RETENTION_PATH, serve_read, serve_retention
from studio.errors import UserError
from studio.gateway.json_answer import JSONAnswer


def register(router, get_studio: Callable[[], Any]) -> None:
    async def analytics_read(request: Request):
        studio = get_studio()
        try:
            body = jsonread.loads(await request.body() or b"null", "the request body")
        except UserError as e:
            return _error(400, str(e))
        if not isinstance(body, dict):
            return _error(400, "the request needs a JSON object with 'query' and 'args'.")
        try:
            text = await asyncio.to_thread(serve_read, studio.analytics, body.get("query"), body.get("args", []),
                                           body.get("committed") is True)
        except UserError as e:
            return _error(400, str(e))
        return Response(text, media_type="application/json")

    router.add_route(READ_PATH, analytics_read, methods=["POST"])

    async def analytics_retention(request: Request):
        """`iom analytics --retention` beside the web app: the web app holds the database, so it applies it."""
        try:
            text = await asyncio.to_thread(serve_retention, get_studio().analytics)
        except UserError as e:
            return _error(400, str(e))
        return Response(text, media_type="application/json")

    router.add_route(RETENTION_PATH, analytics_retention, methods=["POST"])


def _error(status: int, message: str) -> JSONAnswer:
    return JSONAnswer({"error": {"message": message, "type": "invalid_request_error"}}, status_code=status)
