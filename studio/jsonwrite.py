"""JSON the studio sends over HTTP (gateway answers and stream frames, provider request
bodies): compact UTF-8 through orjson, about ten times faster than `json.dumps` on the small
documents a call sends several of. What orjson will not write (integers past 64 bits, lone
surrogates, keys that are not strings) goes through `json.dumps`, escaped to ASCII so that it
is still valid UTF-8. orjson writes not-a-number as `null` (`NaN` is not JSON)."""

from __future__ import annotations

import json
from typing import Any

try:  # NiceGUI brings orjson where it has wheels (see pyproject.toml)
    import orjson
except ImportError:  # pragma: no cover - platforms without orjson wheels
    orjson = None


def dumps(value: Any) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_text(value: Any) -> str:
    return dumps(value).decode("utf-8")
