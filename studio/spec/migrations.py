"""Load pipeline JSON of any known version; refuse future versions with a clear message.

Version 0 is the untagged early shape (no "format"/"version"): node positions inline in each
node, `connections` with `from`/`to`, model nodes as `{"type": "model", "modelId": …}`.
Each migration takes the dict of version N and returns the dict of version N+1, and refuses
a field it cannot carry rather than drop it.

An untagged document is not taken for version 0 by the missing tags alone: the JSON Schema
gives "format" and "version" defaults, so a file written to it (or by hand) may leave them
out. Its shape decides: the prototype's own keys mean version 0, anything else is read as
the current version.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import ValidationError

from studio.errors import UserError
from studio.spec.base import slugify
from studio.spec.pipeline import CURRENT_VERSION, FORMAT_TAG, Pipeline


def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """The prototype's version-0 layout: `nodes` with `type`/`modelId`/`position`, and
    `connections` (or `edges`) with `from`/`to`. Each part of the wrong type is one sentence,
    and so is any field the prototype did not have (it would be lost)."""
    _refuse_dropped("the pipeline", doc, _V0_TOP)
    positions: dict[str, Any] = {}
    nodes = []
    raw_nodes = _list_of_objects(doc, "nodes")
    for raw in raw_nodes:
        raw = dict(raw)
        if "id" not in raw:
            raise UserError("every node of a version-0 pipeline needs an 'id'; add one and import again.")
        if "position" in raw:
            positions[str(raw["id"])] = raw.pop("position")
        kind = raw.pop("type", raw.pop("kind", "model"))
        node = {"id": str(raw.pop("id")), "kind": kind}
        if "modelId" in raw:
            node["model"] = raw.pop("modelId")
        for key in ("label", "prompt", "params", "template", "model"):
            if key in raw:
                node[key] = raw.pop(key)
        _refuse_dropped(f"node {node['id']!r}", raw, ())
        nodes.append(node)
    edges = []
    key = "connections" if "connections" in doc else "edges"
    for i, conn in enumerate(_list_of_objects(doc, key)):
        _refuse_dropped(f"connection {i + 1}", conn, _V0_CONNECTION)
        edges.append({
            "id": str(conn.get("id", f"e{i + 1}")),
            "source": str(conn.get("from", conn.get("source"))),
            "target": str(conn.get("to", conn.get("target"))),
        })
    name = doc.get("name") if isinstance(doc.get("name"), str) and doc.get("name").strip() else "Imported pipeline"
    ident = doc.get("id") if isinstance(doc.get("id"), str) and doc.get("id") else slugify(name)
    return {
        "format": FORMAT_TAG,
        "version": 1,
        "id": ident,
        "name": name,
        "description": doc.get("description", ""),
        "nodes": nodes,
        "edges": edges,
        "ui": {"positions": positions},
    }


_V0_TOP = ("format", "version", "id", "name", "description", "nodes", "connections", "edges")
_V0_CONNECTION = ("id", "from", "to", "source", "target")
# What only the prototype wrote: its node and connection keys, and the `connections` list
_V0_NODE_MARKS = ("type", "modelId", "position")
_V0_EDGE_MARKS = ("from", "to")


def _refuse_dropped(what: str, part: dict[str, Any], known: tuple[str, ...]) -> None:
    """A version-0 migration carries only the prototype's fields: any other would be lost."""
    extra = sorted(str(k) for k in part if k not in known)
    if extra:
        raise UserError(
            f"{what} has {extra[0]!r}{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}, which the old "
            f"version-0 format this untagged file is read as cannot hold; add \"format\": \"{FORMAT_TAG}\" and "
            f"\"version\": {CURRENT_VERSION} at its top if it is in the current format, and import again."
        )


def _is_v0_shape(doc: dict[str, Any]) -> bool:
    """Whether an untagged document is in the prototype's own shape: `connections`, or a node
    or edge with a key only the prototype wrote. `nodes`/`edges` of the wrong type decide
    nothing here; the reader of either version says what is wrong with them."""
    if "connections" in doc:
        return True
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if isinstance(nodes, list) and any(isinstance(n, dict) and any(k in n for k in _V0_NODE_MARKS) for n in nodes):
        return True
    return isinstance(edges, list) and any(isinstance(e, dict) and any(k in e for k in _V0_EDGE_MARKS) for e in edges)


def _list_of_objects(doc: dict[str, Any], key: str) -> list[dict]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UserError(f"the pipeline's {key!r} must be a list of objects; fix it and import again.")
    return value


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


def detect_version(doc: dict[str, Any]) -> int:
    """The tagged version; an untagged document's comes from its shape (`_is_v0_shape`)."""
    if "format" not in doc and "version" not in doc:
        return 0 if _is_v0_shape(doc) else CURRENT_VERSION
    if doc.get("format") != FORMAT_TAG:
        raise UserError(
            f"this is not an IoM pipeline (format is {doc.get('format')!r}, expected {FORMAT_TAG!r})."
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UserError(f"the pipeline's version must be a whole number, not {version!r}.")
    return version


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """Run the migration chain up to the current version."""
    if not isinstance(doc, dict):
        raise UserError("a pipeline must be a JSON object; this file holds something else.")
    version = detect_version(doc)
    if version > CURRENT_VERSION:
        raise UserError(
            f"this pipeline is format version {version}, newer than this studio reads "
            f"(up to {CURRENT_VERSION}); update IoM Studio to open it."
        )
    while version < CURRENT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise UserError(f"pipeline format version {version} is not known; it cannot be upgraded.")
        doc = step(doc)
        version = doc["version"]
    return doc


def load_pipeline(doc: Any) -> Pipeline:
    """Any known version of the pipeline JSON → the current Pipeline, or one clear UserError."""
    from studio.jsonread import check_shape

    check_shape(doc, "the pipeline")
    upgraded = upgrade(doc)  # a foreign format or a newer version is said first
    _looks_like_a_pipeline(doc)
    try:
        return Pipeline.model_validate(upgraded)
    except ValidationError as e:
        raise UserError(f"the pipeline is not valid: {describe_validation_error(e)}") from None


_MODEL_FIELDS = ("api", "endpoint", "modelType", "keyRef", "provider")


def _looks_like_a_pipeline(doc: Any) -> None:
    """Every pipeline has `nodes` (an empty canvas too); every other field has a default, so a
    model's file (or `{}`) would otherwise load, and import, as an empty pipeline under its id."""
    if isinstance(doc, dict) and "nodes" not in doc:
        if any(field in doc for field in _MODEL_FIELDS):
            raise UserError("this is a model, not a pipeline (it has no 'nodes'); import it with "
                            "'iom models import' or Registry → Import.")
        raise UserError("this is not a pipeline: it has no 'nodes' (export one from the studio to see the shape).")


def describe_validation_error(e: ValidationError) -> str:
    """The first fault of a pydantic error, as 'field.path: message' (plus a count of others)."""
    errors = e.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top)"
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}"
