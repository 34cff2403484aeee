"""A node's output cached on disk under IOM_HOME/cache, so it survives restarts.

The key is a hash of the node's effective spec (model id and version, params, prompt and
system templates) and its resolved input. Only deterministic calls are cached unless the
node asks (policy.cache = True): temperature 0, or a seed, or a built-in local model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from studio.atomic import write_bytes


def cache_key(*, model_id: str, model_version: str, params: dict, prompt: str | None, system: str | None,
              call_input: Any) -> str:
    payload = {"model": model_id, "version": model_version, "params": params, "prompt": prompt,
               "system": system, "input": call_input}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def deterministic(api: str, params: dict) -> bool:
    if api == "local":
        return True
    if params.get("seed") is not None:
        return True
    temperature = params.get("temperature")
    return temperature is not None and float(temperature) == 0.0


class OutputCache:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def put(self, key: str, entry: dict) -> None:
        """Atomic but not fsynced: a cache a power cut may lose, written once per cached call."""
        write_bytes(self._path(key), json.dumps(entry, ensure_ascii=False, default=str).encode("utf-8"),
                    durable=False)
