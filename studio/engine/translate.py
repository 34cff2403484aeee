"""Translation between nodes: how one node's output becomes the next node's input.

This is the one place the coercion rules live.

Edge value
    sourcePort "out" takes the source's whole output object; any other name takes that field
    (for a router, the name of a taken route passes the router's input on). Then `mapping`
    picks from that value — a JSON Pointer when it starts with "/" (e.g. "/text"), else a
    JMESPath expression — and `template` (sandboxed Jinja2, the value's fields as variables,
    the whole value as `value`) renders it to text.

Target
    targetPort "in" merges an object into the target's input (matching names connect by
    themselves: an input node's `text` arrives as `text`); a value that is not an object
    arriving at "in" becomes the field `text`. Any other name sets that one field.

Coercions (applied where the target expects a type)
    - text → messages: "hi" becomes [{"role": "user", "content": "hi"}]
    - text → list: a string where a list goes (e.g. `images`) becomes a one-item list
    - list → text: a list of strings joins with blank lines; other values become JSON
    - number → text, object → text: JSON text
    - integer → number: as is
    Nothing else is coerced: a mismatch is a validation error before the run.

Model input
    An LLM node with a `prompt` renders it with its input as variables into the canonical
    `prompt` (and `system` likewise); `images` pass through. Without a prompt, `messages`,
    `prompt` or `text` (as the prompt) are used. Other model types take the input fields
    their input schema names. Node params whose names are input-schema properties (e.g.
    `targetLanguage` of a translation model) fill those fields; the rest go to the provider
    as call params.
"""

from __future__ import annotations

import json
from typing import Any

import jmespath

from studio.engine.templates import render
from studio.errors import UserError, jmespath_fault
from studio.spec.model import ModelSpec
from studio.spec.pipeline import Edge, Node

LLM_TYPES = ("llm", "vision")


def resolve_pointer(value: Any, pointer: str, *, where: str) -> Any:
    """RFC 6901 JSON Pointer ("/a/0/b"; "~1" is "/", "~0" is "~")."""
    current = value
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise UserError(f"{where}: the mapping {pointer!r} finds nothing in the value it gets; fix the mapping.")
    return current


def apply_mapping(value: Any, mapping: str, *, where: str) -> Any:
    if mapping.startswith("/"):
        return resolve_pointer(value, mapping, where=where)
    try:
        return jmespath.search(mapping, value)
    except jmespath.exceptions.JMESPathError as e:
        raise UserError(f"{where}: the mapping {mapping!r} is not valid JMESPath ({jmespath_fault(e)}).") from None


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def edge_value(edge: Edge, source_output: Any) -> Any:
    """The value an edge carries, before it lands on the target."""
    where = f"edge {edge.id}"
    if edge.source_port == "out":
        value = source_output
    elif isinstance(source_output, dict) and edge.source_port in source_output:
        value = source_output[edge.source_port]
    else:
        raise UserError(f"{where}: node {edge.source!r} produced no field {edge.source_port!r}; "
                        "connect another port or change the source.")
    if edge.mapping:
        value = apply_mapping(value, edge.mapping, where=where)
    if edge.template:
        variables = dict(value) if isinstance(value, dict) else {}
        value = render(edge.template, {**variables, "value": value}, where=where)
    return value


def land(inputs: dict[str, Any], edge: Edge, value: Any) -> None:
    """Put an edge's value into the target's input dict."""
    if edge.target_port == "in":
        if isinstance(value, dict):
            inputs.update(value)
        else:
            inputs["text"] = as_text(value)
    else:
        inputs[edge.target_port] = value


def _coerce_to(value: Any, schema: dict | None) -> Any:
    wanted = (schema or {}).get("type")
    if wanted == "string" and not isinstance(value, str):
        return as_text(value)
    if wanted == "array" and isinstance(value, str):
        return [value]
    return value


def model_input(node: Node, spec: ModelSpec, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(canonical input, call params) for a model node, per the rules in this module's docstring."""
    props: dict[str, Any] = (spec.input_schema or {}).get("properties") or {}
    params = dict(node.params)
    where = f"node {node.id}"
    if spec.model_type in LLM_TYPES:
        call: dict[str, Any] = {}
        if node.prompt:
            call["prompt"] = render(node.prompt, inputs, where=where)
        elif "messages" in inputs:
            msgs = inputs["messages"]
            call["messages"] = [{"role": "user", "content": msgs}] if isinstance(msgs, str) else msgs
        elif "prompt" in inputs:
            call["prompt"] = as_text(inputs["prompt"])
        elif "text" in inputs:
            call["prompt"] = as_text(inputs["text"])
        else:
            raise UserError(f"{where}: the model needs a prompt; give the node a prompt template or connect a text.")
        system = render(node.system, inputs, where=where) if node.system else inputs.get("system")
        if system:
            call["system"] = as_text(system)
        if inputs.get("images"):
            images = inputs["images"]
            call["images"] = [images] if isinstance(images, str) else list(images)
        return call, params
    call = {}
    for name, sub in props.items():
        if name in params:
            call[name] = params.pop(name)
        elif name in inputs:
            call[name] = _coerce_to(inputs[name], sub)
    if not props:
        call = dict(inputs)
    if "text" in props and "text" not in call and node.prompt:
        call["text"] = render(node.prompt, inputs, where=where)
    return call, params
