"""Validation before a run: every problem at once, each pinned to its node or edge id."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import jmespath

from studio.engine import templates
from studio.engine.choose import allowed
from studio.engine.graph import Graph
from studio.engine.pipeline_io import gateway_problems
from studio.engine.ports import Port, input_ports, output_ports, template_variables, types_fit
from studio.errors import jmespath_fault
from studio.spec.model import ModelSpec
from studio.spec.pipeline import Pipeline


@dataclass(frozen=True)
class Problem:
    where: str  # a node or edge id ("pipeline" for the whole)
    message: str

    def to_dict(self) -> dict:
        return {"where": self.where, "message": self.message}

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def validate_pipeline(pipeline: Pipeline, models) -> list[Problem]:
    """`models` is the ModelRegistry (anything with `all()`; `unreadable()` where it has it)."""
    return validate_against(pipeline, models.all(), getattr(models, "unreadable", dict))


def validate_against(pipeline: Pipeline, registered: list[ModelSpec],
                     unreadable: Callable[[], dict[str, str]] = dict) -> list[Problem]:
    """Every problem of the pipeline over these registered model specs, each on its node or edge;
    `unreadable()` (model id -> why its file cannot be read, asked only when a node names a model
    that is not registered) says so of a node naming one."""
    unreadable = functools.cache(unreadable)
    problems: list[Problem] = []
    add = lambda where, msg: problems.append(Problem(where, msg))  # noqa: E731
    specs = {s.id: s for s in registered}

    seen: set[str] = set()
    for n in pipeline.nodes:
        if n.id in seen:
            add(n.id, "two nodes share this id; give each node its own id")
        seen.add(n.id)
    edge_ids: set[str] = set()
    for e in pipeline.edges:
        if e.id in edge_ids:
            add(e.id, "two edges share this id")
        edge_ids.add(e.id)
    if not any(n.kind == "output" for n in pipeline.nodes):
        add("pipeline", "the pipeline has no output node; add one so the run has a result")

    for n in pipeline.nodes:
        _check_node(n, specs, unreadable, add)
    for sentence in gateway_problems(pipeline, specs):
        add("pipeline", sentence)

    graph = Graph.of(pipeline)
    nodes = {n.id: n for n in pipeline.nodes}
    in_ports = {n.id: {p.name: p for p in input_ports(n, specs)} for n in pipeline.nodes}
    for e in pipeline.edges:
        in_ports.get(e.target, {}).setdefault(e.target_port, Port(e.target_port, None))
    out_ports = {n.id: {p.name: p for p in output_ports(n, specs)} for n in pipeline.nodes}
    for e in pipeline.edges:
        src, dst = nodes.get(e.source), nodes.get(e.target)
        if src is None or dst is None:
            missing = e.source if src is None else e.target
            add(e.id, f"connects to node {missing!r}, which does not exist; delete the edge or add the node")
            continue
        if any(n.kind == "model" and n.model not in specs for n in (src, dst)):
            continue  # an unknown model's ports are unknown: its node already carries the problem
        _check_edge(e, src, dst, out_ports[src.id], in_ports[dst.id], add)
        _check_edge_template(e, src, out_ports[src.id], add)
    for node_id in graph.cycle_nodes():
        add(node_id, "is part of a cycle; pipelines run as acyclic graphs, so remove one edge of the loop")

    for n in pipeline.nodes:
        if n.kind in ("model", "capability", "router") and n.id in graph.incoming:
            _check_required_inputs(nodes, out_ports, n, specs, graph, add)
        if n.kind == "output" and not graph.incoming.get(n.id):  # a run would succeed and show nothing
            add(n.id, "is an output with nothing connected to it; connect the node whose result you want to it, "
                      "or delete it")
    return problems


def _check_node(n, specs, unreadable, add) -> None:
    if n.kind == "model":
        if not n.model:
            add(n.id, "is a model node without a model; pick one from the registry")
        elif n.model not in specs:
            damaged = unreadable().get(n.model)
            add(n.id, f"names model {n.model!r}, whose file {damaged}" if damaged else
                f"names model {n.model!r}, which is not in the registry; register it or pick another")
    if n.kind == "capability":
        if n.choose is None:
            add(n.id, "is a capability node without a capability to choose by; set one")
        elif not any(n.choose.capability in s.capabilities for s in specs.values()):
            add(n.id, f"asks for capability {n.choose.capability!r}, which no registered model offers")
    for ref in n.policy.fallback:
        if ref not in specs:
            add(n.id, f"falls back to {ref!r}, which is not in the registry; remove it or register it")
        elif n.kind == "capability" and n.choose is not None and not allowed(n.choose, specs[ref]):
            policy = specs[ref].security_policy
            add(n.id, f"falls back to {ref!r}, a {policy} model, but it allows only "
                f"{' or '.join(n.choose.allowed_policies)} models; remove the fallback or allow {policy} models")
    if n.kind == "router" and not n.routes:
        add(n.id, "is a router without routes; add at least one")
    for field_name in ("prompt", "system", "template"):
        error = templates.syntax_error(getattr(n, field_name))
        if error:  # (a transform's template: not "its template template")
            add(n.id, f"its {field_name if field_name == 'template' else field_name + ' template'} {error}")
    for r in n.routes:
        error = templates.syntax_error(r.when, expression=True)
        if error:
            add(n.id, f"the condition of route {r.port!r} {error}")
    if n.kind == "transform" and not (n.template or n.expression):
        add(n.id, "is a transform with neither a template nor an expression; give it one")
    if n.expression:
        try:
            jmespath.compile(n.expression)
        except jmespath.exceptions.JMESPathError as e:
            add(n.id, f"its expression is not valid JMESPath ({jmespath_fault(e)})")


def _check_edge(e, src, dst, outs, ins, add) -> None:
    if e.mapping and not e.mapping.startswith("/"):
        try:
            jmespath.compile(e.mapping)
        except jmespath.exceptions.JMESPathError as err:
            add(e.id, f"its mapping is not valid JMESPath ({jmespath_fault(err)})")
    error = templates.syntax_error(e.template)
    if error:
        add(e.id, f"its template {error}")
    if dst.kind == "input":
        add(e.id, f"ends on input node {dst.id!r}, which takes no incoming edge")
        return
    if src.kind == "output":
        add(e.id, f"starts on output node {src.id!r}, which feeds nothing")
        return
    if e.source_port not in outs and src.kind not in ("transform", "merge"):
        add(e.id, f"starts on port {e.source_port!r}, which node {src.id!r} does not have")
        return
    if e.mapping or e.template:
        return  # the value is reshaped on the way; its type is the mapping's business
    s_type = outs[e.source_port].type if e.source_port in outs else None
    t_type = ins[e.target_port].type if e.target_port in ins else None
    if not types_fit(s_type, t_type):
        add(e.id, f"carries {s_type} output {e.source_port!r} into the {t_type} input {e.target_port!r} "
                  f"of {dst.id!r}; add a transform node or a mapping in between")


def _check_required_inputs(nodes, out_ports, n, specs, graph, add) -> None:
    """Each required input field (or prompt variable) must be fed by some edge."""
    spec = specs.get(n.model or "")
    provided: set[str] = set()
    open_ended = False
    for e in graph.incoming.get(n.id, []):
        if e.target_port != "in":
            provided.add(e.target_port)
            continue
        src = nodes.get(e.source)
        if src is None:
            continue
        ports = [name for name in out_ports[src.id] if name != "out"]
        if e.source_port == "out" and not e.mapping and not e.template:
            if src.kind in ("input", "model") and ports:
                provided.update(ports)
            else:
                open_ended = True  # a transform's or merge's object: fields known only at run time
        else:
            provided.add("text")
    if open_ended:
        return
    # the system template and router conditions are rendered from the same inputs as the prompt
    needed = _needed(n.system) | set().union(*(_needed(r.when, expression=True) for r in n.routes))
    if n.kind == "router":
        pass  # it has no prompt: its conditions are what it needs
    elif n.prompt:
        needed |= _needed(n.prompt)
    elif spec is not None and spec.model_type not in ("llm", "vision"):
        needed |= set((spec.input_schema or {}).get("required") or []) - set(n.params)
    elif spec is not None and not provided & {"messages", "prompt", "text"}:
        add(n.id, "gets no prompt: give it a prompt template or connect a text, prompt or messages field")
    for name in sorted(needed - provided):
        add(n.id, f"needs input {name!r}, which no edge provides; connect one")


def _check_edge_template(e, src, outs, add) -> None:
    """An edge template sees the value it carries as `value`, and that value's fields: a name
    that is neither renders empty (or fails the run after the nodes before it were paid for).
    Checked only where the fields are known before the run."""
    if not e.template or e.mapping:
        return
    if e.source_port == "out":
        fields = sorted(name for name in outs if name != "out")
        if src.kind not in ("input", "model") or not fields:
            return  # a transform's, merge's or router's object: its fields are known only at run time
    else:
        port = outs.get(e.source_port)
        if port is None or port.type in (None, "object"):
            return
        fields = []
    for name in sorted(_needed(e.template) - {"value", *fields}):
        has = f"the fields {', '.join(map(repr, fields))} and 'value'" if fields else "only 'value'"
        add(e.id, f"its template needs {name!r}, which the value from {src.id!r} does not have (it has {has}); "
                  "use one of those")


def _needed(template: str | None, *, expression: bool = False) -> set[str]:
    """The variables a template (or a condition) cannot do without: its free variables less the
    sandbox's globals and those it copes without (`_optional_variables`)."""
    if not template:
        return set()
    source = "{{ " + template + " }}" if expression else template
    return set(template_variables(source)) - set(templates.environment().globals) - _optional_variables(source)


def _optional_variables(template: str) -> set[str]:
    """Variables used as `x or …` / `x | default(…)` / `if x` / `x is defined`: a template that
    copes without them."""
    import re

    found = set(re.findall(r"\{\{\s*(\w+)\s+or\b", template))
    found |= set(re.findall(r"\{\{\s*(\w+)\s*\|\s*default", template))
    found |= set(re.findall(r"\{%\s*if\s+(\w+)", template))
    found |= set(re.findall(r"\b(\w+)\s+is\s+(?:not\s+)?defined\b", template))
    return found
