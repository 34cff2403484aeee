"""Shared pydantic base: camelCase on the wire (the prototype's format), snake_case in Python."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*")


class SpecModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=True,
    )

    def to_json_dict(self) -> dict:
        """The form written to disk and exported: aliases, no None-valued optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_this_second: tuple[int, datetime] = (0, datetime.fromtimestamp(0, timezone.utc))


def utcnow_exact() -> datetime:
    """Now in UTC to the microsecond: when a node started and ended (the run's timeline draws
    bars of a few milliseconds; `utcnow`'s whole seconds drew none, or one of 1000 ms)."""
    return datetime.now(timezone.utc)


def utcnow() -> datetime:
    """Now in UTC, to the second (what records store). A run asks twice per node, so the
    datetime of the current second is built once and handed out again (datetimes are immutable)."""
    global _this_second
    second = int(time.time())
    if _this_second[0] != second:
        _this_second = (second, datetime.fromtimestamp(second, timezone.utc))
    return _this_second[1]


def slugify(text: str) -> str:
    """Lower-case slug: letters, digits, dot, dash, underscore; other runs become one dash."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug or "unnamed"


ID_MAX = 128  # the whole id
ID_PART_MAX = 100  # each part between slashes: a file or folder name, with room for ".json" on any file system


def is_studio_own(name: str) -> bool:
    """IOM_* key names are the studio's own (the gateway token lives under IOM_GATEWAY_TOKEN in
    the keyring service that holds the provider keys): no model's keyRef, `iom keys set` or
    delete reaches them."""
    return name.upper().startswith("IOM_")


def check_slug(value: str, what: str) -> str:
    """Ids name files, so they match their pattern over the whole string (`fullmatch`: `$`
    would let a trailing newline through) and fit every file system's name limits."""
    shown = value if len(value) <= 60 else value[:57] + "..."
    if not isinstance(value, str) or not SLUG_RE.fullmatch(value):
        raise ValueError(
            f"{what} {shown!r} is not a valid id: use only lower-case letters, digits, '.', '-', '_' "
            "and '/' between parts (no spaces or line breaks), e.g. 'openai/gpt-4o-mini'"
        )
    if len(value) > ID_MAX or any(len(part) > ID_PART_MAX for part in value.split("/")):
        raise ValueError(
            f"{what} {shown!r} is too long: at most {ID_MAX} characters, and {ID_PART_MAX} between slashes"
        )
    return value


_VALID_SCHEMAS: set[str] = set()  # JSON texts of schemas known valid: checked here, or shipped


def remember_valid_schema(value: Any) -> None:
    """A schema known valid without the meta-schema check: one the studio ships (the samples;
    tests/foundation/test_samples_valid.py checks each in full), so reading it, or a copy, or
    a model using the same schema, does not import jsonschema (~70 ms) and check it."""
    text = _schema_text(value)
    if text is not None:
        _remember_valid(text)


def _schema_text(value: Any) -> str | None:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None


def check_json_schema(value: dict | None) -> dict | None:
    """A field that must hold a JSON Schema: refused with where it is wrong (ports, forms and
    validation read `properties`/`required`/`type`, so a non-schema would fail later)."""
    if value is None:
        return value
    text = _schema_text(value)  # most models share a few schemas (the canonical llm pair): each is checked once
    if text is not None and text in _VALID_SCHEMAS:
        return value
    import jsonschema

    validator = jsonschema.validators.validator_for(value, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(value)
    except jsonschema.SchemaError as e:
        where = "/".join(str(part) for part in e.absolute_path) or "(top level)"
        raise ValueError(f"is not a valid JSON Schema at {where}: {e.message[:200]}") from None
    _check_refs(value, validator)
    if text is not None:
        _remember_valid(text)
    return value


# Keywords whose values are data, not schemas: a {"$ref": ...} inside them is not a reference.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "example"})


def _refs(node: Any, path: tuple = ()) -> Any:
    """(path, ref) of every `$ref` in a schema."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield path, node["$ref"]
        for key, child in node.items():
            if key not in _DATA_KEYWORDS:
                yield from _refs(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _refs(child, (*path, i))


def _check_refs(schema: dict, validator: Any) -> None:
    """Every `$ref` must point inside the schema itself: one that points nowhere failed every
    run later with no sentence, and the studio fetches nothing a schema names (a file, a URL)."""
    refs = list(_refs(schema))
    if not refs:
        return
    import referencing
    import referencing.exceptions
    import referencing.jsonschema

    draft = referencing.jsonschema.specification_with(validator.META_SCHEMA["$schema"])
    resource = referencing.Resource.from_contents(schema, default_specification=draft)
    resolver = referencing.Registry().with_resource("urn:iom:schema", resource).resolver("urn:iom:schema")
    for path, ref in refs:
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            where = "/".join(str(p) for p in path) or "(top level)"
            raise ValueError(f"is not a usable JSON Schema at {where}: $ref {ref[:80]!r} points nowhere in the "
                             "schema (only references inside the schema itself, like '#/$defs/Name', are followed)") from None


def _remember_valid(text: str) -> None:
    if len(_VALID_SCHEMAS) < 1024:
        _VALID_SCHEMAS.add(text)
