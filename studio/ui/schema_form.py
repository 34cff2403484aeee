"""A form generated from a model's input JSON Schema (the console's "Form" tab).

Only the top level of an object schema becomes fields: strings (text area, or a select for
enums), numbers, integers, booleans, and lists of strings; anything nested is edited as JSON
in its own box. A list of images (the canonical `images`: URLs or data: URLs) also takes image
files, each made a data: URL here (`image_data_url`). The pure half (`fields_for`,
`collect_input`, `image_data_url`) is tested without a page.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from studio.errors import UserError
from studio.formats import data_size
from studio.spec.chat import example_sentence

# Fields people mostly type prose into get a multi-line box.
_LONG_TEXT = {"prompt", "text", "content", "system", "input", "query", "document"}
# Lists of strings that are images (URLs or data: URLs), as the canonical llm/vision input names them.
_IMAGE_LISTS = {"images", "image_urls"}

# Anthropic's limit for one image (5 MB; OpenAI and Gemini take 20 MB), the strictest of the
# providers that take images: a bigger file would be refused by the call anyway.
MAX_IMAGE_BYTES = 5_000_000
# The types every image-taking provider accepts (OpenAI, Anthropic, Gemini), by their first bytes.
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
IMAGE_TYPES = "PNG, JPEG, GIF or WebP"
IMAGE_ACCEPT = ".png,.jpg,.jpeg,.gif,.webp,image/png,image/jpeg,image/gif,image/webp"


# Order of fields on the form: what people type most first, JSON boxes last.
_RANK = {"longtext": 0, "text": 1, "enum": 2, "number": 3, "integer": 3, "boolean": 4, "strings": 5, "images": 5,
         "json": 6}


@dataclass
class FormField:
    name: str
    kind: str  # "text", "longtext", "enum", "number", "integer", "boolean", "strings", "images", "json"
    required: bool = False
    options: list[Any] | None = None
    description: str = ""
    default: Any = None


def _kind(name: str, prop: dict) -> tuple[str, list | None]:
    if "enum" in prop:
        return "enum", list(prop["enum"])
    t = prop.get("type")
    if t == "string":
        return ("longtext" if name in _LONG_TEXT else "text"), None
    if t in ("number", "integer", "boolean"):
        return t, None
    if t == "array" and (prop.get("items") or {}).get("type") == "string":
        return ("images" if name in _IMAGE_LISTS else "strings"), None
    if "anyOf" in prop and any(a.get("type") == "string" for a in prop["anyOf"] if isinstance(a, dict)):
        return ("longtext" if name in _LONG_TEXT else "text"), None  # e.g. embedding input: str | [str]
    return "json", None


def fields_for(schema: dict) -> list[FormField]:
    """The fields of an object schema, required ones first; [] when it has no properties."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return []
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        kind, options = _kind(name, prop)
        fields.append(FormField(name, kind, name in required, options, prop.get("description", ""), prop.get("default")))
    return sorted(fields, key=lambda f: (not f.required, _RANK.get(f.kind, 9)))


def collect_input(fields: list[FormField], values: dict[str, Any]) -> dict[str, Any]:
    """Form values → the call's input; empty fields are left out. UserError on bad JSON boxes."""
    doc: dict[str, Any] = {}
    for f in fields:
        v = values.get(f.name)
        if v is None or v == "" or v == []:
            continue
        if f.kind == "json":
            try:
                v = json.loads(v) if isinstance(v, str) else v
            except json.JSONDecodeError as e:
                raise UserError(f"The field {f.name} is not valid JSON (line {e.lineno}: {e.msg}).") from None
        elif f.kind in ("strings", "images") and isinstance(v, str):
            v = [s.strip() for s in v.split("\n") if s.strip()]
            if not v:
                continue
        elif f.kind == "integer":
            v = int(v)
        elif f.kind == "number":
            v = float(v)
        doc[f.name] = v
    return doc


def form_values_of(fields: list[FormField], doc: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `collect_input`: a call's input as the form's values (a list one item a
    line, JSON as text), for the fields the form has; what it has not is left to the raw JSON."""
    values: dict[str, Any] = {}
    for f in fields:
        v = doc.get(f.name)
        if v is None:
            values[f.name] = None if f.kind in ("number", "integer", "enum", "boolean") else ""
        elif f.kind == "json":
            values[f.name] = json.dumps(v, ensure_ascii=False)
        elif f.kind in ("strings", "images") and isinstance(v, list):
            values[f.name] = "\n".join(str(x) for x in v)
        else:
            values[f.name] = v
    return values


def input_problem(schema: dict, doc: Any, model_type: str = "custom") -> str | None:
    """One sentence if `doc` does not fit `schema` (checked before the call, for quick feedback)."""
    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    except jsonschema.SchemaError:
        return None  # the hub reports a broken schema with its own sentence
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the input"
    return (f"The input does not fit the model's input schema at {where}: {error.message}; "
            f"{example_sentence(model_type, schema)}.")


def split_images(items: Any) -> tuple[str, list[str]]:
    """An images list as the form holds it: the links one a line (the text box) and the data:
    URLs apart (shown as thumbnails, too long to read or edit as text)."""
    items = items.split("\n") if isinstance(items, str) else items if isinstance(items, list) else []
    items = [s.strip() for s in items if isinstance(s, str) and s.strip()]
    return "\n".join(s for s in items if not s.startswith("data:")), [s for s in items if s.startswith("data:")]


def image_data_url(name: str, data: bytes) -> str:
    """An uploaded file as a data: URL, its type read from its first bytes (a name or a browser's
    guess can be wrong); UserError naming the file if it is not an image a provider takes or is
    larger than MAX_IMAGE_BYTES."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UserError(image_refusal(name, len(data), "max-file-size"))
    mime = next((m for magic, m in _IMAGE_MAGIC if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise UserError(image_refusal(name, len(data), "accept"))
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_refusal(name: str, size: int, why: str) -> str:
    """The sentence for a file refused as an image: too big ("max-file-size", as the browser's
    uploader says it before sending), not an image ("accept"), or refused by the uploader itself."""
    if why == "max-file-size":
        shown, limit = data_size(size), data_size(MAX_IMAGE_BYTES)
        if shown == limit:  # "5.0 MB, more than the 5.0 MB" says nothing
            shown, limit = f"{size:,} bytes", f"{MAX_IMAGE_BYTES:,} bytes"
        return f"{name} is {shown}, more than the {limit} an image may be; use a smaller or more compressed image."
    if why == "accept":
        return f"{name} is not an image the models take; use a {IMAGE_TYPES} file."
    return f"{name} was not added ({why}); add it again."
