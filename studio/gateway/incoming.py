"""What every gateway route reads from a request, whichever API it speaks: its JSON body and
whether the caller asked for parameters a model cannot carry to be dropped."""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from starlette.requests import Request

from studio import jsonread
from studio.errors import UserError
from studio.gateway.errors import GatewayError

T = TypeVar("T")

WRONG_SHAPE = ("a field of the request has the wrong type ({what}); check the request's fields against the API's "
               "reference (a string where an object or a list belongs, or the like).")


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


def parsed(parse: Callable[[Any], T], body: Any) -> T:
    """`parse(body)`, where a field of the wrong type (`stream_options: "yes"`, `tools: "x"`)
    that the parser did not foresee is a 400 in one sentence: it was a bare 500 with a
    traceback, which both SDKs then sent twice more."""
    try:
        return parse(body)
    except (UserError, GatewayError):
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as e:
        what = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise GatewayError(400, "invalid_request_error", WRONG_SHAPE.format(what=what)) from None
