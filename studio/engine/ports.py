"""Typed ports of pipeline nodes and the check that refuses an incompatible connection.

Pure Python (no NiceGUI), shared by the engine's validation and the canvas: the canvas asks
`check_connection` before it adds an edge and shows the returned sentence when the answer is
no; `validate_pipeline` checks every saved edge with the same rules. Port semantics follow `studio.spec.pipeline`:
"out" is a node's whole output object, "in" merges an object into the target's input, any
other name is one field. Types are JSON-schema type names; a port with no known type takes
anything. Coercions the engine performs (text into messages, a list into text, an integer
where a number goes) are accepted here; every other mismatch is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from jinja2 import TemplateSyntaxError, meta

from studio.engine.templates import environment

from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.model import ModelSpec
from studio.spec.pipeline import Node, Pipeline

WHOLE_OUT = "out"
WHOLE_IN = "in"
# Nodes whose input is whatever arrives: a named field is created by connecting to it.
FREE_FORM_TARGETS = ("output", "merge")

# source type -> target types it may feed (besides the same type and untyped ports)
_COERCIONS: dict[str, set[str]] = {
    "integer": {"number"},
    "string": {"array"},  # text becomes a one-message conversation / a one-item list
    "array": {"string"},  # a list is joined into text
}



@dataclass(frozen=True)
class Port:
    name: str
    type: str | None  # JSON-schema type; None = any

    def to_view(self) -> dict:
        return {"name": self.name, "type": self.type or "any"}


@lru_cache(maxsize=512)
def template_variables(template: str | None) -> tuple[str, ...]:
    """The free variables of a Jinja2 template, sorted; () for none or a template that does not parse."""
    if not template:
        return ()
    try:
        return tuple(sorted(meta.find_undeclared_variables(environment().parse(template))))
    except (TemplateSyntaxError, RecursionError, MemoryError):
        return ()


def template_error(template: str | None) -> str | None:
    """One sentence if the template does not parse, else None."""
    if not template:
        return None
    try:
        environment().parse(template)
    except TemplateSyntaxError as e:
        return f"the template does not parse (line {e.lineno}: {e.message}); fix it before running."
    return None


def schema_type(schema: dict | None) -> str | None:
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    if isinstance(t, str):
        return t
    return None


def _properties(schema: dict | None) -> list[Port]:
    props = (schema or {}).get("properties") or {}
    return [Port(name, schema_type(sub)) for name, sub in props.items()]


def answer_schema(spec: ModelSpec) -> dict:
    """The output a model's node offers. A model registered without an output schema still
    answers: in its type's canonical shape (an LLM's `text`, an embedding's `vectors`), or, for
    a generic HTTP model, in its output field (`text` unless set); so those fields are offered,
    the ones every answer of that kind carries, instead of no field at all."""
    if _properties(spec.output_schema):
        return spec.output_schema
    canonical = CANONICAL_SCHEMAS.get(spec.model_type, ({}, {}))[1]
    props = canonical.get("properties") or {}
    required = {name: props.get(name, {}) for name in canonical.get("required") or []}
    if not required:
        required = {spec.http.output_field if spec.http else "text": {}}
    return {"type": "object", "properties": required}


def _model_schemas(node: Node, models: dict[str, ModelSpec]) -> tuple[dict | None, dict | None]:
    spec = models.get(node.model or "")
    if spec is not None:
        return spec.input_schema, answer_schema(spec)
    if node.kind == "capability":
        return CANONICAL_SCHEMAS["llm"]
    return None, None


def _merge(*groups: list[Port]) -> list[Port]:
    seen: dict[str, Port] = {}
    for group in groups:
        for p in group:
            seen.setdefault(p.name, p)
    return list(seen.values())


def input_ports(node: Node, models: dict[str, ModelSpec], pipeline: Pipeline | None = None) -> list[Port]:
    """Where edges may end on this node ("in" first). An input node has none."""
    if node.kind == "input":
        return []
    used = [Port(e.target_port, None) for e in (pipeline.edges if pipeline else []) if e.target == node.id and e.target_port != WHOLE_IN]
    variables = [Port(v, None) for v in template_variables(node.prompt) + template_variables(node.template) + template_variables(node.system)]
    if node.kind in ("model", "capability"):
        in_schema, _ = _model_schemas(node, models)
        return _merge([Port(WHOLE_IN, "object")], _properties(in_schema), variables, used)
    return _merge([Port(WHOLE_IN, "object")], variables, used)


def output_ports(node: Node, models: dict[str, ModelSpec]) -> list[Port]:
    """Where edges may start on this node ("out" first). An output node has none."""
    if node.kind == "output":
        return []
    if node.kind == "input":
        return _merge([Port(WHOLE_OUT, "object")], _properties(node.input_schema))
    if node.kind == "router":
        return _merge([Port(WHOLE_OUT, "object")], [Port(r.port, "object") for r in node.routes])
    if node.kind in ("model", "capability"):
        _, out_schema = _model_schemas(node, models)
        return _merge([Port(WHOLE_OUT, "object")], _properties(out_schema))
    if node.kind == "merge" and node.merge == "text":
        return [Port(WHOLE_OUT, "object"), Port("text", "string")]
    if node.kind == "transform" and node.template and not node.expression:
        return [Port(WHOLE_OUT, "object"), Port("text", "string")]  # a template renders {"text": ...}
    return [Port(WHOLE_OUT, "object")]


def types_fit(source: str | None, target: str | None) -> bool:
    if source is None or target is None or source == target:
        return True
    return target in _COERCIONS.get(source, set())


def _reaches(pipeline: Pipeline, start: str, goal: str) -> bool:
    nexts: dict[str, list[str]] = {}
    for e in pipeline.edges:
        nexts.setdefault(e.source, []).append(e.target)
    stack, seen = [start], set()
    while stack:
        n = stack.pop()
        if n == goal:
            return True
        if n in seen:
            continue
        seen.add(n)
        stack.extend(nexts.get(n, []))
    return False


def field_for(pipeline: Pipeline, target: str, target_port: str, source_port: str) -> str:
    """The target port an edge really uses. A single field (not a whole object) dropped on the
    "in" port of an output or merge node becomes a field of that name, so `text` -> `in`
    gives the output a `text` field instead of failing as "string into object"."""
    dst = pipeline.node(target)
    if dst is None or dst.kind not in FREE_FORM_TARGETS or target_port != WHOLE_IN or source_port == WHOLE_OUT:
        return target_port
    taken = {e.target_port for e in pipeline.edges if e.target == target}
    name, i = source_port, 2
    while name in taken:
        name, i = f"{source_port}_{i}", i + 1
    return name


def check_connection(pipeline: Pipeline, models: dict[str, ModelSpec], source: str, source_port: str,
                     target: str, target_port: str) -> str | None:
    """None when the edge may be added, else one sentence saying why not."""
    src, dst = pipeline.node(source), pipeline.node(target)
    if src is None or dst is None:
        return "that node no longer exists; reload the pipeline."
    if source == target:
        return "a node cannot feed itself."
    if dst.kind == "input":
        return f"'{dst.label or dst.id}' is an input node: it takes no incoming connection."
    if src.kind == "output":
        return f"'{src.label or src.id}' is an output node: nothing can start from it."
    outs = {p.name: p for p in output_ports(src, models)}
    ins = {p.name: p for p in input_ports(dst, models, pipeline)}
    if dst.kind in FREE_FORM_TARGETS and target_port not in ins:
        ins[target_port] = Port(target_port, None)  # a new field of the output / merged object
    if source_port not in outs:
        return f"'{src.label or src.id}' has no output port '{source_port}'."
    if target_port not in ins:
        return f"'{dst.label or dst.id}' has no input port '{target_port}'."
    if any(e.source == source and e.source_port == source_port and e.target == target and e.target_port == target_port
           for e in pipeline.edges):
        return "those two ports are already connected."
    if target_port != WHOLE_IN and any(e.target == target and e.target_port == target_port for e in pipeline.edges):
        return f"input '{target_port}' of '{dst.label or dst.id}' is already fed; delete that edge first."
    s_type, t_type = outs[source_port].type, ins[target_port].type
    if not types_fit(s_type, t_type):
        return (f"{s_type} output '{source_port}' cannot feed the {t_type} input '{target_port}' "
                f"of '{dst.label or dst.id}'; add a transform node in between.")
    if _reaches(pipeline, target, source):
        return "that connection would make a cycle; pipelines run as acyclic graphs."
    return None
