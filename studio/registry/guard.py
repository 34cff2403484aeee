"""Refuse to save or export a document that holds a secret.

A key typed into a header, a param or a description would otherwise reach a file, an export
and the page. What counts as a secret is what the audit trail's redaction masks
(studio/secrets/redact.py): a value the studio has read from the keyring or the environment,
a well-known key shape, a bearer token, a URL's password, and any value of a field named like
a secret (api_key, Authorization, password …). The user is told where it is and how to store
it properly instead; a masked copy is never written in its place.
"""

from __future__ import annotations

import re
from typing import Any

from studio.errors import UserError
from studio.secrets.redact import is_secret_field, redactor

# What a secret-named field may hold without holding a secret: a `{{key}}` placeholder that
# the call fills in, and the scheme word before it ("Bearer {{key}}").
_NO_VALUE = re.compile(r"(?i)\{\{[^{}]*\}\}|\b(bearer|token|basic)\b")


def _holds_a_value(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_NO_VALUE.sub("", value).strip())
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _secret_at(data: Any, path: tuple = ()) -> tuple | None:
    """The path of the first part the redaction would mask, or None."""
    if isinstance(data, str):
        return path if redactor.text(data) != data else None
    if isinstance(data, dict):
        for k, v in data.items():
            if is_secret_field(k) and _holds_a_value(v):
                return (*path, k)
            found = _secret_at(v, (*path, k))
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = _secret_at(v, (*path, i))
            if found is not None:
                return found
    return None


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _where(doc: dict, path: tuple) -> str:
    """'node 'b', field 'params.api_key'' for a pipeline's node or edge; else the field's path."""
    if len(path) > 2 and path[0] in ("nodes", "edges") and isinstance(path[1], int):
        part = doc[path[0]][path[1]]
        ident = part.get("id") if isinstance(part, dict) else None
        return f"{path[0][:-1]} {ident!r}, field '{_dotted(path[2:])}'"
    return f"'{_dotted(path)}'"


def refuse_secrets(doc: dict, what: str, *, undone: str = "Nothing was saved.") -> None:
    """One sentence naming where the first secret is; `undone` says what did not happen."""
    path = _secret_at(doc)
    if path is not None:
        raise UserError(
            f"{what} holds what looks like an API key in {_where(doc, path)}; store the key "
            "with 'iom keys set NAME' (or in Settings) and refer to it by name (keyRef, or "
            f"{{{{key}}}} in a header) instead. {undone}"
        )
