"""Shared pydantic base: camelCase on the wire (the prototype's format), snake_case in Python."""

from __future__ import annotations

import hashlib
import json
import os
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
    """Now in UTC, to the second (what specs and settings store; call and run records take
    `utcnow_exact`, which orders a run's calls within a second). The datetime of the current
    second is built once and handed out again (datetimes are immutable)."""
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


# Digests of the JSON texts of schemas known valid: checked here, shipped, or checked by another
# process on this data dir (see `remember_checked_schemas_in`). A digest, not the text: a 2 MB
# schema was kept whole as a key.
_VALID_SCHEMAS: set[str] = set()
_CHECKED_FILE: list[str] = []  # the file that keeps them for other processes, when one is set


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def remember_checked_schemas_in(path: os.PathLike | str) -> None:
    """Keep the digest of each schema checked valid in `path` (one a line), and trust those it
    holds already: the meta-schema check of a 20,000-property schema took ~5 s, and every CLI
    command (a new process) that read the registry paid it again. A schema is then checked once
    per data dir, when it is first saved or read; an edited one has another digest and is checked."""
    _CHECKED_FILE[:] = [os.fspath(path)]
    try:
        with open(_CHECKED_FILE[0], encoding="ascii") as f:
            lines = f.read().split()
    except (OSError, ValueError):
        return
    for line in lines[:4096]:
        if re.fullmatch(r"[0-9a-f]{32}", line):
            _VALID_SCHEMAS.add(line)


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
    if text is not None and _digest(text) in _VALID_SCHEMAS:
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
        _remember_valid(text, keep=True)
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


def _remember_valid(text: str, keep: bool = False) -> None:
    """`keep`: also in the data dir's file (a schema checked here; shipped ones need not be)."""
    digest = _digest(text)
    if len(_VALID_SCHEMAS) >= 4096 or digest in _VALID_SCHEMAS:
        return
    _VALID_SCHEMAS.add(digest)
    if keep and _CHECKED_FILE:
        try:  # one short append: lines from processes writing at once do not interleave
            with open(_CHECKED_FILE[0], "a", encoding="ascii") as f:
                f.write(digest + "\n")
        except OSError:  # a read-only data dir: the check is only made again next time
            pass
