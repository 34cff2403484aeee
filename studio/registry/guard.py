"""Refuse to save a document that holds something shaped like an API key.

A key typed into a header or a description would otherwise reach a file, an export and the
page. The user is told where it is and how to store it properly instead.
"""

from __future__ import annotations

import re
from typing import Any

from studio.errors import UserError
from studio.secrets.redact import redactor

_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_-]{8,}|sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{20,}|hf_[A-Za-z0-9]{16,}|Bearer\s+[A-Za-z0-9._-]{12,})"
)


def _strings(data: Any, path: str = ""):
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, f"{path}[{i}]")


def refuse_secrets(doc: dict, what: str) -> None:
    for where, text in _strings(doc):
        if _KEY_SHAPES.search(text) or redactor.text(text) != text:
            raise UserError(
                f"{what} holds what looks like an API key in '{where}'; store the key with "
                "'iom keys set NAME' (or in Settings) and refer to it by name (keyRef, or "
                "{{key}} in a header) instead. Nothing was saved."
            )
