"""A pipeline's named inputs and outputs as seen from outside (the gateway's `inputPort` and
`reply`), so a gateway block naming one that does not exist is caught by validation, not by
the first chat that reaches it."""

from __future__ import annotations

import jmespath

from studio.engine.ports import WHOLE_IN, WHOLE_OUT, output_ports
from studio.spec.pipeline import Pipeline


def declared_inputs(pipeline: Pipeline) -> list[str]:
    """The fields the input nodes' schemas name, in order (a run's input is one object for all)."""
    names: list[str] = []
    for n in pipeline.nodes:
        if n.kind == "input":
            names += [k for k in ((n.input_schema or {}).get("properties") or {}) if k not in names]
    return names


def declared_outputs(pipeline: Pipeline, specs: dict) -> set[str] | None:
    """The top-level fields of the run's result; None when only a run can tell (open-ended nodes)."""
    outs = [n for n in pipeline.nodes if n.kind == "output"]
    if len(outs) != 1:
        return {n.id for n in outs} or None  # several output nodes: the result is keyed by their ids
    names: set[str] = set()
    nodes = {n.id: n for n in pipeline.nodes}
    for e in pipeline.edges:
        if e.target != outs[0].id:
            continue
        if e.target_port != WHOLE_IN:
            names.add(e.target_port)
            continue
        src = nodes.get(e.source)
        if src is None or e.source_port != WHOLE_OUT or e.mapping or e.template:
            return None
        fields = _fields_of(src, pipeline, specs)
        if fields is None:
            return None
        names |= fields
    return names or None


def _fields_of(src, pipeline: Pipeline, specs: dict) -> set[str] | None:
    if src.kind == "merge" and src.merge == "object":
        ports = {e.target_port for e in pipeline.edges if e.target == src.id}
        return None if not ports or WHOLE_IN in ports else ports
    if src.kind == "transform" and src.expression:
        try:
            tree = jmespath.compile(src.expression).parsed
        except jmespath.exceptions.JMESPathError:
            return None
        if tree.get("type") == "multi_select_dict":
            return {kv["value"] for kv in tree["children"]}
        return None
    fields = {p.name for p in output_ports(src, specs) if p.name != WHOLE_OUT}
    return fields or None


def gateway_problems(pipeline: Pipeline, specs: dict) -> list[str]:
    """Sentences for a gateway block whose inputPort or reply names nothing real."""
    g = pipeline.gateway
    if g is None:
        return []
    found = []
    inputs = declared_inputs(pipeline)
    if g.input_port and inputs and g.input_port not in inputs:
        found.append(f"gateway.inputPort {g.input_port!r} is not an input of pipeline {pipeline.id!r}; "
                     f"use one of {', '.join(repr(i) for i in inputs)}")
    if g.input_port and g.input != "messages":
        found.append(f"gateway.inputPort is only used with gateway.input 'messages' in pipeline {pipeline.id!r}; "
                     "set input to 'messages' or remove inputPort")
    outputs = declared_outputs(pipeline, specs)
    if g.reply and outputs is not None and g.reply not in outputs:
        found.append(f"gateway.reply {g.reply!r} is not an output of pipeline {pipeline.id!r}; "
                     f"use one of {', '.join(repr(o) for o in sorted(outputs))}")
    return found
