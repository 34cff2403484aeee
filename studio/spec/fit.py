"""Does a value fit a JSON Schema? Asked on every call (a model's input and output) and every
run (a pipeline's input), so the answer has to be cheap.

jsonschema walks a schema anew for each value (~25 µs for the chat input on loopback, several
times that in a busy server); fastjsonschema compiles a schema once into Python code that
answers the same question in ~1 µs. It knows the older drafts, though, and the studio's
schemas are 2020-12: a compiled check is used only for schemas made of keywords whose meaning
is the same in both (`_PLAIN`), with formats off as jsonschema has them by default. Any other
schema — `$ref`, `prefixItems`, `unevaluatedProperties`, … — is checked by jsonschema, and so
is every misfit, to name the field that best explains it.
"""

from __future__ import annotations

from typing import Any, Callable

from studio.memo import per_object

# Keywords read alike by draft 7 and 2020-12 (and annotations, which check nothing).
_PLAIN = frozenset({
    "type", "properties", "required", "enum", "const", "anyOf", "allOf", "oneOf", "not", "items",
    "additionalProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "format",
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly",
})
_SCHEMA_URIS = {None, "https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"}


def is_plain(schema: Any) -> bool:
    """True when every keyword, at every depth, is one of `_PLAIN` (so a draft-7 check agrees)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or any(key not in _PLAIN for key in schema):
        return False
    # Python's == takes True for 1: enum and const are left to jsonschema unless they hold text
    if "enum" in schema and not (isinstance(schema["enum"], list) and all(isinstance(v, str) for v in schema["enum"])):
        return False
    if "const" in schema and not isinstance(schema["const"], str):
        return False
    if "properties" in schema and not (isinstance(schema["properties"], dict)
                                       and all(map(is_plain, schema["properties"].values()))):
        return False
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema and not (isinstance(schema[key], list) and all(map(is_plain, schema[key]))):
            return False
    for key in ("not", "additionalProperties"):
        if key in schema and not is_plain(schema[key]):
            return False
    if "items" in schema and not (isinstance(schema["items"], (dict, bool)) and is_plain(schema["items"])):
        return False  # a list of item schemas means tuples in draft 7 and nothing in 2020-12
    return True


def _compiled(schema: dict) -> Callable[[Any], bool] | None:
    """fastjsonschema's check of a plain schema as a yes/no function, else None."""
    body = {k: v for k, v in schema.items() if k != "$schema"}
    if schema.get("$schema") not in _SCHEMA_URIS or not is_plain(body):
        return None
    import fastjsonschema

    try:
        check = fastjsonschema.compile(body, use_formats=False)
    except Exception:  # noqa: BLE001 - a schema it cannot compile is jsonschema's to check
        return None

    def fits(value: Any) -> bool:
        try:
            check(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True
    return fits


_fast = per_object(_compiled)  # built once per schema object


@per_object
def _validator(schema: dict) -> Any:
    """jsonschema's validator, built once per schema object, and only for a schema that has no
    compiled check or a value that misfits: importing jsonschema alone takes ~70 ms, which a
    start whose schemas are all plain does not pay."""
    import jsonschema

    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)


def schema_problem(value: Any, schema: dict) -> str | None:
    """None when `value` fits `schema`; else "<field path>: <what is wrong>" for the error that
    best explains the misfit."""
    fast = _fast(schema)
    if fast(value) if fast is not None else _validator(schema).is_valid(value):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None  # the compiled check and jsonschema disagree: jsonschema has the last word
    return f"{'/'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"
