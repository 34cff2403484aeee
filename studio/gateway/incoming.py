"""What every gateway route reads from a request, whichever API it speaks: its JSON body and
whether the caller asked for parameters a model cannot carry to be dropped."""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request

from studio import jsonread
from studio.errors import UserError
from studio.gateway.errors import GatewayError


async def request_json(request: Request) -> Any:
    """The body through the studio's one JSON reader (size, depth, encoding, huge numbers)."""
    try:
        return jsonread.loads(await request.body() or b"null", "the request body")
    except UserError as e:
        raise GatewayError(400, "invalid_request_error", str(e)) from None


def drop_requested(request: Request) -> bool:
    """LiteLLM-style `drop_params`: a header per request, or a setting for the whole server."""
    header = request.headers.get("x-iom-drop-params", "").strip().lower()
    return header in ("1", "true", "yes") or os.environ.get("IOM_GATEWAY_DROP_PARAMS", "") in ("1", "true")
