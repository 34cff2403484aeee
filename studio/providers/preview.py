"""The exact HTTP request a call would send, without sending it: for dry runs that show a
person what will leave their machine before it does.

The model's own adapter builds the request as it would for a real call, through an httpx
client whose transport keeps the request and answers nothing; so the preview can never
drift from what a call sends. The key is never read: a placeholder naming it stands in, so a
preview is safe to show on a page or print.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from studio.providers.adapters import adapter_for
from studio.providers.adapters.base import Exchange
from studio.providers.transport import DirectClient
from studio.spec.chat import expand_shorthand
from studio.spec.model import ModelSpec


class _Kept(Exception):
    """Raised by the transport once it has the request: the call stops there."""


def key_placeholder(spec: ModelSpec) -> str:
    return f"<{spec.key_ref}>"


async def wire_request(spec: ModelSpec, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """{method, url, headers, body} of the first request a call of `spec` would send; None for
    a built-in model (it runs in the studio and sends nothing)."""
    if spec.api == "local":
        return None
    kept: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        kept.append(request)
        raise _Kept()

    async def ignore(_text: str) -> None:
        return None

    client = DirectClient(httpx.MockTransport(keep), 60.0)  # the client the hub's calls go through
    exchange = Exchange(spec=spec, input=expand_shorthand(spec.model_type, input), params={**spec.default_params, **params},
                        key=key_placeholder(spec) if spec.key_ref else None, stream=False, client=client, emit=ignore)
    try:
        await adapter_for(spec.api).call(exchange)
    except Exception:  # noqa: BLE001 — _Kept, or the adapter's own wrapping of it
        pass
    if not kept:
        return None
    request = kept[0]
    raw = request.content.decode("utf-8", "replace")
    try:
        body: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        body = raw
    return {"method": request.method, "url": str(request.url),
            "headers": {k: v for k, v in request.headers.items() if k.lower() not in _TRANSPORT_HEADERS},
            "body": body}


_TRANSPORT_HEADERS = {"host", "accept-encoding", "connection", "content-length", "user-agent", "accept"}
