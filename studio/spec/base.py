"""Shared pydantic base: camelCase on the wire (the prototype's format), snake_case in Python."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


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


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def slugify(text: str) -> str:
    """Lower-case slug: letters, digits, dot, dash, underscore; other runs become one dash."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug or "unnamed"


def check_slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid id: use lower-case letters, digits, '.', '-', '_' "
            "and '/' between parts, e.g. 'openai/gpt-4o-mini'"
        )
    return value
