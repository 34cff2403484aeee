"""Redaction: remove known secret values from any text before it is shown or logged."""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "••••"

# Shapes of well-known key formats, masked even when the value was never registered.
_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_-]{8,}|sk-[A-Za-z0-9_-]{16,}|AIza[0-9A-Za-z_-]{20,}|hf_[A-Za-z0-9]{16,})"
)
_AUTH_HEADER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{8,})")


class Redactor:
    """Remembers every secret value the process has handled and masks it in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, value: str | None) -> None:
        if value and len(value) >= 4:
            with self._lock:
                self._values.add(value)

    def text(self, text: str) -> str:
        if not text:
            return text
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        text = _KEY_SHAPES.sub(MASK, text)
        return _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)

    def data(self, data: Any) -> Any:
        """Redact strings anywhere inside JSON-like data (dicts, lists)."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {k: (MASK if _is_secret_header(k) else self.data(v)) for k, v in data.items()}
        if isinstance(data, list):
            return [self.data(v) for v in data]
        return data


def _is_secret_header(name: Any) -> bool:
    return isinstance(name, str) and name.lower() in {
        "authorization", "x-api-key", "x-goog-api-key", "api-key", "apikey", "api_key",
    }


redactor = Redactor()
redact = redactor.text
redact_data = redactor.data
