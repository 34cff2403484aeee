"""The server's door: one pure ASGI middleware in front of everything it serves — pages, the
socket.io connection the pages live on (HTTP polling and websocket alike), the gateway and the
local API.

In order: the Host must be one of ours (DNS rebinding), the Origin must be our own page or
none (CSRF, cross-site websockets), `/v1/*` and `/api/*` need the gateway token (401 in
OpenAI's error shape) and a JSON body must say `application/json` (415: a page's "simple"
`text/plain` request never reaches a handler). With `IOM_UI_TOKEN=required` every page needs a
session cookie that the login page sets once the token is given. No page may be framed by
another site (X-Frame-Options, CSP frame-ancestors): a framed page is of our origin, so its
socket passes the Origin check, and a lured click in the frame would press our buttons.

It is the first thing every request meets (studio/ui/app.py puts it ahead of NiceGUI's own
middleware); API paths that pass go straight to the lean API app, pages to NiceGUI.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from html import escape
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from studio.security.policy import HOST_REFUSED, ORIGIN_REFUSED, AccessPolicy
from studio.security.token import cached_verdict, gateway_token, token_matches

API_PREFIXES = ("/v1/", "/api/")
COOKIE = "iom_session"
TOKEN_HELP = ("a valid gateway token is needed: send 'Authorization: Bearer <token>' (the SDKs' api_key); "
              "'iom gateway token' prints it, and Settings shows it.")
JSON_HELP = "a request body must be JSON sent with 'Content-Type: application/json'."
LOGIN_HELP = "this studio needs its token: paste the gateway token ('iom gateway token' prints it)."
NOT_FRAMED = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]


def session_value(token: str) -> str:
    """What the UI's cookie holds: derived from the token, so the cookie never reveals it."""
    return hmac.new(token.encode(), b"iom-ui-session", hashlib.sha256).hexdigest()


class Guard:
    def __init__(self, app, *, policy: AccessPolicy, home: Callable[[], Path], keys: Callable[[], object],
                 ui_token: bool = False, api_app=None):
        self.app = app
        self.api_app = api_app or app  # API paths, once checked (studio/gateway/api_app.py)
        self.policy = policy
        self.home = home
        self.keys = keys
        self.ui_token = ui_token

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host, origin, path = headers.get("host"), headers.get("origin"), scope.get("path", "")
        api = path == "/v1" or path.startswith(API_PREFIXES)
        if not self.policy.host_allowed(host):
            return await self._refuse(scope, send, 403, HOST_REFUSED, api, "forbidden_host")
        if not self.policy.origin_allowed(origin, host):
            return await self._refuse(scope, send, 403, ORIGIN_REFUSED, api, "forbidden_origin")
        if scope["type"] == "http" and not api:
            send = _not_framed(send)
        if api:
            if not await self._token_ok(_presented_token(headers)):
                return await self._refuse(scope, send, 401, TOKEN_HELP, True, "invalid_api_key")
            if scope["type"] == "http" and scope.get("method") in ("POST", "PUT", "PATCH") \
                    and not headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
                return await self._refuse(scope, send, 415, JSON_HELP, True, "unsupported_media_type")
            return await self.api_app(scope, receive, send)
        elif self.ui_token:
            handled = await self._ui_gate(scope, receive, send, headers, path)
            if handled:
                return
        await self.app(scope, receive, send)

    async def _token_ok(self, given: str) -> bool:
        verdict = cached_verdict(self.home(), given)
        if verdict is not None:
            return verdict
        return await asyncio.to_thread(token_matches, self.home(), given, self.keys())

    # ---- the UI behind the token --------------------------------------------------------------
    async def _ui_gate(self, scope, receive, send, headers, path) -> bool:
        """True when the request was answered here (login page, redirect, refusal)."""
        token = await asyncio.to_thread(gateway_token, self.home(), self.keys())
        expected = session_value(token)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if path == "/login" and scope["type"] == "http":
            if scope.get("method") == "POST":
                form = parse_qs((await _read_body(receive)).decode("utf-8", "replace"))
                given = (form.get("token") or [""])[0].strip()
                target = _safe_next((form.get("next") or ["/"])[0])
                if given and hmac.compare_digest(given.encode(), token.encode()):
                    await _redirect(send, target, cookie=expected)
                else:
                    await _login_page(send, target, error="That is not this studio's token.")
            else:
                await _login_page(send, _safe_next((query.get("next") or ["/"])[0]))
            return True
        if _cookie(headers.get("cookie", ""), COOKIE) and hmac.compare_digest(
                _cookie(headers.get("cookie", ""), COOKIE).encode(), expected.encode()):
            return False
        given = (query.get("token") or [""])[0]
        if scope["type"] == "http" and given and hmac.compare_digest(given.encode(), token.encode()):
            rest = {k: v for k, v in query.items() if k != "token"}
            await _redirect(send, path + ("?" + urlencode(rest, doseq=True) if rest else ""), cookie=expected)
            return True
        if scope["type"] == "http" and scope.get("method") == "GET" and not path.startswith("/_nicegui"):
            await _redirect(send, "/login?next=" + quote(path, safe="/"))
            return True
        await self._refuse(scope, send, 401, LOGIN_HELP, False, "login_required")
        return True

    # ---- answers ------------------------------------------------------------------------------
    async def _refuse(self, scope, send, status: int, message: str, api: bool, code: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        headers = []
        if api:
            body, kind = json.dumps(_api_error(scope.get("path", ""), status, message, code)).encode(), b"application/json"
            ident = secrets.token_hex(16).encode("ascii")  # every API answer names its request, a refusal too
            headers = [(b"x-request-id", ident), (b"request-id", ident)]
        else:
            body, kind = message.encode(), b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})


# Anthropic's error types by status, for its SDK's clients of /v1/messages
_ANTHROPIC_TYPES = {401: "authentication_error", 403: "permission_error"}


def _api_error(path: str, status: int, message: str, code: str) -> dict:
    """The error body in the shape the caller's SDK reads: Anthropic's under /v1/messages, else OpenAI's."""
    if path.startswith("/v1/messages"):
        return {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "invalid_request_error"), "message": message}}
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _not_framed(send):
    """`send`, with every page answer's headers forbidding other sites to frame it."""
    async def sending(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *NOT_FRAMED]}
        await send(message)
    return sending


def _presented_token(headers: dict[str, str]) -> str:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get("x-api-key", "").strip()  # what the Anthropic SDK sends


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _safe_next(target: str) -> str:
    """Only a path on this server (no scheme, no //host): the login never sends anyone away.
    Control characters are refused, not stripped: a browser drops a tab or newline from a URL, so
    "/<TAB>/evil.example" would land on //evil.example (and CR/LF broke the redirect's header)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _read_body(receive, limit: int = 64 << 10) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body") or len(body) > limit:
            return body[:limit]


async def _redirect(send, location: str, cookie: str | None = None) -> None:
    headers = [(b"location", location.encode("latin-1", "replace")), (b"content-length", b"0")]
    if cookie:
        headers.append((b"set-cookie", f"{COOKIE}={cookie}; HttpOnly; SameSite=Strict; Path=/".encode()))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _login_page(send, target: str, error: str = "") -> None:
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>IoM Studio — sign in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:15vh auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.5rem 0;font-size:1rem}}button{{padding:.5rem 1rem;font-size:1rem}}
.err{{color:#b00020}}</style></head><body><h1>IoM Studio</h1><p>{escape(LOGIN_HELP)}</p>
{f'<p class="err" role="alert">{escape(error)}</p>' if error else ''}
<form method="post" action="/login"><input type="hidden" name="next" value="{escape(target)}">
<input type="password" name="token" autocomplete="current-password" aria-label="Gateway token" autofocus>
<button type="submit">Sign in</button></form></body></html>""".encode()
    await send({"type": "http.response.start", "status": 200 if not error else 401,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
