"""The gateway and the local API as one lean ASGI app: a Starlette router with the `/v1` and
`/api` routes and nothing else.

The page server (NiceGUI's FastAPI app) wraps every request in gzip and two
BaseHTTPMiddleware layers (redirect prefix, cache headers); an API call needs none of them and
they cost about a millisecond each time. The Guard (studio/security/guard.py) checks a request
first and sends `/v1` and `/api` paths here, everything else to the pages."""

from __future__ import annotations

import secrets
from typing import Any, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from studio.gateway.errors import GatewayError, openai_error


def build_api_app(get_studio: Callable[[], Any]) -> Router:
    from studio.gateway import openai_api, studio_api

    router = Router()
    openai_api.register(router, get_studio)
    studio_api.register(router, get_studio)

    async def not_found(request: Request):
        return openai_error(GatewayError(404, "not_found", f"there is no {request.method} {request.url.path} on "
                                                           f"this server."))

    router.add_route("/api/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return router


class BuiltOnFirstRequest:
    """The web app's API: the router of `build_api_app`, built on the first `/v1` or `/api`
    request. Importing the gateway (both wire formats, the local API) is then not part of the
    start, which serves pages first; that first request takes the import once."""

    def __init__(self, get_studio: Callable[[], Any]):
        self._get_studio = get_studio
        self._router: Router | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._router is None:
            self._router = build_api_app(self._get_studio)
        send = with_request_id(scope, send)
        try:
            await self._router(scope, receive, send)
        except HTTPException as e:  # a method a route does not take (OPTIONS, TRACE): Starlette raises it in an app
            method, path = scope.get("method", ""), scope.get("path", "")
            answer = openai_error(GatewayError(e.status_code, "invalid_request_error",
                                               f"{method} is not answered at {path}; see the API's reference."))
            await answer(scope, receive, send)


def with_request_id(scope: Scope, send: Send) -> Send:
    """Give the request an id, said in every answer's `x-request-id` (the openai SDK's
    `_request_id`) and `request-id` (the anthropic SDK's). The call the request makes is
    recorded under the same id (a pipeline's run, too: `iom runs show ID`), so an id in a
    client's log finds the call in the analytics and the audit trail."""
    ident = secrets.token_hex(16)
    scope.setdefault("state", {})[REQUEST_ID] = ident
    header = ident.encode("ascii")

    async def send_with_id(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", header),
                                               (b"request-id", header)]}
        await send(message)
    return send_with_id


REQUEST_ID = "iom_request_id"


def request_id(request: Request) -> str | None:
    """The id `with_request_id` gave this request (None outside the web app's API)."""
    return request.scope.get("state", {}).get(REQUEST_ID)
