"""Ollama discovery: the models an Ollama server has installed (`GET /api/tags`), as specs
ready to register. Users with a local Ollama should not have to type each model in by hand.
No NiceGUI here: the CLI and the registry page share it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import httpx

from studio.errors import UserError
from studio.registry.samples import sample_models
from studio.spec.model import ModelSpec

DEFAULT_OLLAMA = "http://127.0.0.1:11434"
EMBED_FAMILIES = {"bert", "nomic-bert"}


@dataclass
class Found:
    """One installed model: what Ollama says about it and the spec we would register."""

    name: str
    size_bytes: int
    family: str
    parameter_size: str
    quantization: str
    spec: ModelSpec
    registered: bool

    def to_json_dict(self) -> dict:
        return {"name": self.name, "id": self.spec.id, "sizeBytes": self.size_bytes, "family": self.family,
                "parameterSize": self.parameter_size, "quantization": self.quantization,
                "modelType": self.spec.model_type, "registered": self.registered}


def ollama_base(url: str | None = None) -> str:
    """The argument, else OLLAMA_HOST (which may lack a scheme, as Ollama allows), else the default."""
    base = (url or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA).strip().rstrip("/")
    if not re.match(r"^https?://", base):
        base = "http://" + base
    return base


def model_id(name: str) -> str:
    """`qwen2.5:7b` -> `ollama/qwen2.5-7b`; the tag `latest` adds nothing to the id."""
    name = name.removesuffix(":latest").lower()
    return "ollama/" + (re.sub(r"[^a-z0-9._-]+", "-", name).strip("-.") or "model")


def _template(embed: bool) -> ModelSpec:
    wanted = "ollama-embed" if embed else "ollama-chat"
    return next(s for s in sample_models() if s.provider == "ollama" and s.api == wanted)


def spec_for(base: str, entry: dict) -> ModelSpec:
    """A spec for the existing Ollama adapter, shaped like the sample Ollama models."""
    name = entry["name"]
    details = entry.get("details") or {}
    families = {details.get("family") or "", *(details.get("families") or [])}
    embed = bool(families & EMBED_FAMILIES) or "embed" in name.lower()
    tpl = _template(embed)
    size = details.get("parameter_size") or ""
    return tpl.model_copy(update={
        "id": model_id(name), "name": f"{name} (Ollama)", "model": name,
        "endpoint": f"{base}/api/{'embed' if embed else 'chat'}",
        "description": f"Found on the Ollama server at {base}" + (f"; {size} parameters" if size else "") + ".",
        "owner": "", "tags": ["ollama", "local", *([details["family"]] if details.get("family") else [])],
        "context_window": None if not embed else tpl.context_window,
    })


def discover_ollama(url: str | None, registered_ids: set[str], timeout_s: float = 3.0) -> list[Found]:
    """Ask the server for its installed models; one sentence when nothing answers."""
    base = ollama_base(url)
    try:
        r = httpx.get(f"{base}/api/tags", timeout=timeout_s)
    except httpx.InvalidURL as e:
        raise UserError(f"{base} is not a usable address ({e}); give one like http://127.0.0.1:11434.") from None
    except httpx.HTTPError:
        raise UserError(f"no Ollama server answers at {base}; start it ('ollama serve') or give its address "
                        "with --url or OLLAMA_HOST.") from None
    try:
        doc = r.json() if r.status_code == 200 else None
    except ValueError:
        doc = None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list):
        raise UserError(f"the server at {base} did not answer like Ollama (GET /api/tags gave HTTP {r.status_code}); "
                        "check the address.")
    found = []
    for m in models:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m["name"]:
            continue
        details = m.get("details") if isinstance(m.get("details"), dict) else {}
        spec = spec_for(base, {**m, "details": details})
        found.append(Found(m["name"], int(m.get("size") or 0), str(details.get("family") or ""),
                           str(details.get("parameter_size") or ""), str(details.get("quantization_level") or ""),
                           spec, spec.id in registered_ids))
    return sorted(found, key=lambda f: f.name)
