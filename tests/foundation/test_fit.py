"""The compiled schema check (studio/spec/fit.py) agrees with jsonschema 2020-12 wherever it
is used, and leaves every other schema to jsonschema."""

from __future__ import annotations

import itertools

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.fit import _fast, _validator, is_plain, schema_problem

SCHEMAS = [
    {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}, {"type": ["string", "null"]},
    {"type": "integer", "minimum": 1, "maximum": 3}, {"type": "number", "exclusiveMinimum": 0},
    {"minimum": 1}, {"maxLength": 2}, {"minLength": 1, "type": "string"}, {"format": "email"},
    {"enum": ["a", "b"]}, {"const": "x"}, {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False},
    {"type": "object", "minProperties": 1, "maxProperties": 1},
    {"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"allOf": [{"type": "number"}, {"minimum": 0}]}, {"not": {"type": "string"}}, True, False,
    *[s for pair in CANONICAL_SCHEMAS.values() for s in pair if isinstance(s, dict)],
]
VALUES = [None, True, False, 0, 1, 2, 3, 1.0, 1.5, -1, 10**20, "", "a", "ab", "abc", "x", "@", [], [1], [1, 2, 3],
          [True], ["a"], {}, {"a": 1}, {"a": 1.0}, {"a": True}, {"a": 1, "b": 2}, {"b": 1},
          {"messages": [{"role": "user", "content": "Hi"}]}, {"messages": [{"role": "robot"}]}, {"prompt": 3},
          {"text": "t", "finishReason": "stop"}, {"text": 1}, {"input": ["a", "b"]}]


@pytest.mark.parametrize("schema", [s for s in SCHEMAS if isinstance(s, dict)], ids=lambda s: str(s)[:40])
def test_the_compiled_check_agrees_with_jsonschema(schema):
    validator, fast = _validator(schema), _fast(schema)
    assert fast is not None, "each of these is plain: the compiled check must be in use"
    for value in VALUES:
        assert fast(value) == validator.is_valid(value), (schema, value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["messages", "prompt", "role", "content", "text", "system", "images", "a"]),
                        inner, max_size=3), max_leaves=12))
@settings(max_examples=300, deadline=None)
def test_the_canonical_schemas_agree_on_any_json(value):
    for schema in itertools.chain.from_iterable(CANONICAL_SCHEMAS.values()):
        if isinstance(schema, dict):
            validator, fast = _validator(schema), _fast(schema)
            assert (fast(value) if fast else validator.is_valid(value)) == validator.is_valid(value)


@pytest.mark.parametrize("schema", [
    {"$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}}, {"prefixItems": [{"type": "string"}]},
    {"type": "array", "items": [{"type": "string"}]}, {"enum": [1, 2]}, {"const": 1}, {"pattern": "^a"},
    {"type": "object", "unevaluatedProperties": False}, {"properties": {"a": {"dependentRequired": {}}}},
])
def test_schemas_the_drafts_read_differently_are_left_to_jsonschema(schema):
    assert not is_plain(schema)
    assert _fast(schema) is None


def test_a_misfit_is_named_by_jsonschema():
    llm_in = CANONICAL_SCHEMAS["llm"][0]
    assert schema_problem({"messages": [{"role": "user", "content": "Hi"}]}, llm_in) is None
    problem = schema_problem({"messages": [{"role": "robot", "content": "Hi"}]}, llm_in)
    assert problem.startswith("messages/0/role:") and "robot" in problem
    assert schema_problem(True, {"enum": [1]}) == "(top level): True is not one of [1]"
    assert jsonschema.Draft202012Validator({"enum": [1]}).is_valid(1)
