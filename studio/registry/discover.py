"""Ollama discovery: the models an Ollama server has installed (`GET /api/tags`), as specs
ready to register. Users with a local Ollama should not have to type each model in by hand.
No NiceGUI here: the CLI and the registry page share it."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from studio.errors import UserError
from studio.formats import data_size
from studio.registry.samples import sample_models
from studio.spec.base import ID_PART_MAX
from studio.spec.model import ModelSpec

DEFAULT_OLLAMA = "http://127.0.0.1:11434"
EMBED_FAMILIES = {"bert", "nomic-bert"}


@dataclass
class Found:
    """One installed model: what Ollama says about it and the spec we would register.
    A field Ollama sent in an unexpected shape is unknown: "" for text, 0 for the size."""

    name: str
    size_bytes: int  # 0 when unknown (no installed model is empty)
    family: str
    parameter_size: str
    quantization: str
    spec: ModelSpec
    registered: bool

    def to_json_dict(self) -> dict:
        return {"name": self.name, "id": self.spec.id, "sizeBytes": self.size_bytes or None, "family": self.family,
                "parameterSize": self.parameter_size, "quantization": self.quantization,
                "modelType": self.spec.model_type, "registered": self.registered}

    @property
    def size_label(self) -> str:
        return data_size(self.size_bytes) if self.size_bytes else "unknown"


@dataclass
class Discovery:
    """What the server listed: the models we can register, and one sentence per entry left out."""

    found: list[Found] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def ollama_base(url: str | None = None) -> str:
    """The argument, else OLLAMA_HOST (which may lack a scheme, as Ollama allows), else the default."""
    base = (url or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA).strip().rstrip("/")
    if not re.match(r"^https?://", base):
        base = "http://" + base
    return base


def model_id(name: str) -> str:
    """`qwen2.5:7b` -> `ollama/qwen2.5-7b`; the tag `latest` adds nothing to the id. May be
    too long or empty (`ollama/`): `assign_ids` makes the ids actually registered."""
    return "ollama/" + _slug(name)


def _slug(name: str) -> str:
    name = name.removesuffix(":latest").lower()
    return re.sub(r"[^a-z0-9._-]+", "-", name).strip("-.")


def _suffixed(slug: str, name: str, digits: int = 6) -> str:
    """The slug, cut to fit an id part, plus a few hex digits of the name's hash: the same
    name gets the same id on every run, and two names almost never share one."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:digits]
    return f"{slug[:ID_PART_MAX - digits - 1].rstrip('-.')}-{digest}"


def assign_ids(names: list[str]) -> dict[str, str]:
    """A distinct id for each name (`llama3:8b`, `llama3-8b` and `Llama3:8B` all slug to
    `llama3-8b`). The first name (lower-case ones first, as Ollama's own are, then in name
    order) gets its plain id; a later one with the same slug, or one too long for an id, gets
    a suffix from its hash. The same listing gives the same ids on every run.
    Names with no letters or digits get none (see `unusable_name`)."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(set(names), key=lambda n: (n != n.lower(), n)):
        slug = _slug(name)
        if not slug:
            continue
        digits = 6
        part = slug if len(slug) <= ID_PART_MAX else _suffixed(slug, name, digits)
        while part in taken:
            part = _suffixed(slug, name, digits)
            digits += 2
        taken.add(part)
        ids[name] = "ollama/" + part
    return ids


def unusable_name(entry) -> str | None:
    """Why a listing entry cannot become a model, in one sentence; None when it can. A name
    with a line break or NUL would garble the table and the spec, and one with no letters or
    digits makes no id (Ollama itself allows neither)."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        return "skipped an entry of the listing that has no model name."
    shown = name if len(name) <= 60 else name[:57] + "..."
    if not name.isprintable():
        return f"skipped Ollama model {shown!r}: its name has a line break or other control character."
    if not _slug(name):
        return f"skipped Ollama model {shown!r}: its name has no letters or digits to make an id from."
    return None


def _text(value) -> str:
    """A text field as Ollama documents it; anything else (a list, a number, null) is unknown."""
    return value if isinstance(value, str) else ""


def _size(value) -> int:
    """Bytes as a whole number; a string ("4.7GB"), a negative or a non-finite number is unknown (0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(0, int(value))


def _template(embed: bool) -> ModelSpec:
    wanted = "ollama-embed" if embed else "ollama-chat"
    return next(s for s in sample_models() if s.provider == "ollama" and s.api == wanted)


def spec_for(base: str, entry: dict, spec_id: str | None = None) -> ModelSpec:
    """A spec for the existing Ollama adapter, shaped like the sample Ollama models. Fields of
    an unexpected type count as unknown. Validated, so a bad spec fails here, not on saving."""
    name = entry["name"]
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    family = _text(details.get("family"))
    families = details.get("families") if isinstance(details.get("families"), list) else []
    embed = bool({family, *map(_text, families)} & EMBED_FAMILIES) or "embed" in name.lower()
    tpl = _template(embed)
    size = _text(details.get("parameter_size"))
    spec = tpl.model_copy(update={
        "id": spec_id or model_id(name), "name": f"{name} (Ollama)", "model": name,
        "endpoint": f"{base}/api/{'embed' if embed else 'chat'}",
        "description": f"Found on the Ollama server at {base}" + (f"; {size} parameters" if size else "") + ".",
        "owner": "", "tags": ["ollama", "local", *([family] if family else [])],
        "context_window": None if not embed else tpl.context_window,
    })
    return ModelSpec.model_validate(spec.model_dump())


# Where the person gives another address: the CLI's flag, unless a page says its own field.
CLI_ADDRESS = "with --url or OLLAMA_HOST"


def discover_ollama(url: str | None, registered: Iterable[ModelSpec], timeout_s: float = 3.0,
                    address_hint: str = CLI_ADDRESS) -> list[Found]:
    """The models `scan_ollama` found, without the sentences about entries it left out."""
    return scan_ollama(url, registered, timeout_s, address_hint).found


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def server_of(url: str | None) -> str | None:
    """Which server an address or endpoint names (scheme, host, port, any path before /api or
    /v1), so `http://localhost:11434/api/chat` and `http://127.0.0.1:11434` are the same one."""
    if not url:
        return None
    try:
        parts = urlsplit(url if re.match(r"^https?://", url, re.I) else "http://" + url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    host = "loopback" if host in _LOOPBACK else host
    prefix = re.split(r"/(?:api|v1)(?:/|$)", parts.path)[0].rstrip("/")
    return f"{parts.scheme.lower()}://{host}:{port}{prefix}"


def _same_name(a: str | None, b: str) -> bool:
    """Ollama's `llama3.2` is its `llama3.2:latest`."""
    return bool(a) and a.removesuffix(":latest") == b.removesuffix(":latest")


def _elsewhere_id(spec_id: str, base: str, name: str, claimed: set[str]) -> str:
    """An id for a model whose plain id a model of another server (or another model) holds
    already: the plain id plus this server's host and port (`ollama/llama3.2-gpu-box-11434`),
    or a hash of both when that is taken or too long."""
    slug = spec_id.removeprefix("ollama/")
    part = f"{slug}-{_slug(urlsplit(base).netloc)}".strip("-.")
    digits = 6
    while len(part) > ID_PART_MAX or "ollama/" + part in claimed:
        part = _suffixed(slug, f"{base} {name}", digits)
        digits += 2
    return "ollama/" + part


def scan_ollama(url: str | None, registered: Iterable[ModelSpec], timeout_s: float = 3.0,
                address_hint: str = CLI_ADDRESS) -> Discovery:
    """Ask the server for its installed models; one sentence when nothing answers (saying
    `address_hint` for where to give another address). An entry that cannot become a model is
    left out with one sentence, never a crash of the rest.
    A model counts as registered when a registered model has its name at this same server (it
    is shown under that model's id); a same-named model of another server is not it, and the one
    here gets an id of its own (see `_elsewhere_id`)."""
    base = ollama_base(url)
    models = _listing(base, timeout_s, address_hint)
    result = Discovery()
    usable = []
    for m in models:
        problem = unusable_name(m)
        if problem:
            result.skipped.append(problem)
        else:
            usable.append(m)
    ids = assign_ids([m["name"] for m in usable])
    registered = list(registered)
    here = [s for s in registered if server_of(s.endpoint) == server_of(base)]
    taken = {s.id for s in registered}
    claimed = taken | set(ids.values())
    for m in usable:
        same = next((s for s in here if _same_name(s.model, m["name"])), None)
        spec_id = same.id if same else ids[m["name"]]
        if not same and spec_id in taken:
            spec_id = _elsewhere_id(spec_id, base, m["name"], claimed)
            claimed.add(spec_id)
        try:
            spec = spec_for(base, m, spec_id)
        except ValueError as e:
            result.skipped.append(f"skipped Ollama model {m['name'][:60]!r}: {str(e).splitlines()[0]}")
            continue
        details = m.get("details") if isinstance(m.get("details"), dict) else {}
        result.found.append(Found(m["name"], _size(m.get("size")), _text(details.get("family")),
                                  _text(details.get("parameter_size")), _text(details.get("quantization_level")),
                                  spec, same is not None))
    result.found.sort(key=lambda f: f.name)
    return result


def _listing(base: str, timeout_s: float, address_hint: str = CLI_ADDRESS) -> list:
    """The `models` list of `GET /api/tags`, or one sentence saying why there is none."""
    try:
        r = httpx.get(f"{base}/api/tags", timeout=timeout_s)
    except httpx.InvalidURL as e:
        raise UserError(f"{base} is not a usable address ({e}); give one like http://127.0.0.1:11434.") from None
    except httpx.HTTPError:
        raise UserError(f"no Ollama server answers at {base}; start it ('ollama serve') or give its address "
                        f"{address_hint}.") from None
    try:
        doc = r.json() if r.status_code == 200 else None
    except ValueError:
        doc = None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list):
        raise UserError(f"the server at {base} did not answer like Ollama (GET /api/tags gave HTTP {r.status_code}); "
                        "check the address.")
    return models
