"""Starlette's JSONResponse, rendered by studio/jsonwrite.py (orjson) instead of `json.dumps`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from studio import jsonwrite


class JSONAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return jsonwrite.dumps(content)
