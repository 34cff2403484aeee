"""Stopword lists per language, read from the lists YAKE ships (already installed with the
studio), without importing YAKE itself (numpy, networkx: slow to import)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

from studio.providers.local.languages import base_code

# langdetect's code → YAKE's file suffix where they differ.
_YAKE_SUFFIX = {"cs": "cz"}
_cache: dict[str, frozenset[str]] = {}
_lock = threading.Lock()


def _lists_dir() -> Path | None:
    spec = importlib.util.find_spec("yake")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "core" / "StopwordsList"


def yake_code(language: str) -> str | None:
    """The suffix of YAKE's stopword list for `language`, or None if YAKE has none."""
    code = _YAKE_SUFFIX.get(base_code(language), base_code(language))
    folder = _lists_dir()
    if folder is None or not (folder / f"stopwords_{code}.txt").is_file():
        return None
    return code


def stopwords(language: str) -> frozenset[str]:
    """Lower-cased stopwords of `language`; empty when no list exists for it."""
    key = base_code(language)
    if key in _cache:
        return _cache[key]
    with _lock:
        if key not in _cache:
            _cache[key] = _read(yake_code(key))
    return _cache[key]


def _read(code: str | None) -> frozenset[str]:
    folder = _lists_dir()
    if code is None or folder is None:
        return frozenset()
    raw = (folder / f"stopwords_{code}.txt").read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # two of YAKE's lists are not UTF-8
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())
