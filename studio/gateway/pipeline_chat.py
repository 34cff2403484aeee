"""A pipeline as a chat model: which part of the chat becomes the run's input, and which part
of the run's result becomes the reply, as the pipeline's `gateway` block declares (see
studio/spec/pipeline.py GatewayMapping). Both endpoints use it, so they cannot drift apart."""

from __future__ import annotations

import json
from typing import Any

from studio.engine.pipeline_io import declared_inputs
from studio.errors import UserError
from studio.spec.pipeline import GatewayMapping, Pipeline


def chat_inputs(pipeline: Pipeline, input: dict[str, Any]) -> dict[str, Any]:
    """The run's input from a canonical chat input ({"messages": [...]})."""
    g = pipeline.gateway or GatewayMapping()
    messages = input.get("messages") or []
    if g.input == "messages":
        port = g.input_port or next(iter(declared_inputs(pipeline)), "messages")
        return {port: list(messages)}  # both endpoints already put a system prompt first
    content = _last_user_text(pipeline, messages)
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    if g.input == "json":
        raise UserError(f"pipeline/{pipeline.id} takes a JSON object as the last user message, and this one is "
                        f"not; send e.g. {_example(pipeline)}.")
    return {"text": content}


def reply_text(pipeline: Pipeline, outputs: Any) -> str:
    """The assistant text: the declared reply output (a string as is, anything else as JSON);
    without one, a lone {"text"} is the text and any other result its JSON."""
    g = pipeline.gateway
    if g is not None and g.reply:
        if not isinstance(outputs, dict) or g.reply not in outputs:
            have = ", ".join(repr(k) for k in outputs) if isinstance(outputs, dict) else "no named outputs"
            raise UserError(f"pipeline {pipeline.id!r} names output {g.reply!r} as its reply, but the run produced "
                            f"{have}; fix gateway.reply in the pipeline.")
        value = outputs[g.reply]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if isinstance(outputs, dict) and len(outputs) == 1 and isinstance(outputs.get("text"), str):
        return outputs["text"]
    return json.dumps(outputs, ensure_ascii=False)


def reply_stream(pipeline: Pipeline) -> tuple[bool, str | None]:
    """(stream at all, only this node): with a declared reply, only a model node whose text
    *is* that output streams; other text would not be the reply, so it arrives whole at the end."""
    g = pipeline.gateway
    if g is None or not g.reply:
        return True, None
    outs = {n.id for n in pipeline.nodes if n.kind == "output"}
    nodes = {n.id: n for n in pipeline.nodes}
    for e in pipeline.edges:
        src = nodes.get(e.source)
        if (e.target in outs and e.target_port == g.reply and e.source_port == "text" and not e.mapping
                and not e.template and src is not None and src.kind in ("model", "capability")):
            return True, src.id
    return False, None


def _last_user_text(pipeline: Pipeline, messages: list[dict]) -> str:
    """The last user message's text, its text parts a line apart (as the adapters join them for a
    provider that takes text alone). A part that is not text (an image) has no place in a text
    input: refused, not dropped without a word (an image alone ran the pipeline on "")."""
    last = next((m for m in reversed(messages) if m.get("role", "user") == "user"), messages[-1] if messages else {})
    content = last.get("content")
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict)]
        other = [p.get("type") for p in parts if p.get("type", "text") != "text"]
        if other:
            what = "an image" if "image_url" in other else f"a {other[0]!r} part"
            raise UserError(f"pipeline/{pipeline.id} takes the text of the last user message, which holds {what} "
                            "it cannot take; send text only, or give the pipeline a gateway block with "
                            "\"input\": \"messages\" to hand it the whole chat, images included.")
        content = "\n".join(p.get("text") or "" for p in parts if p.get("text"))
    return str(content or "")


def _example(pipeline: Pipeline) -> str:
    names = declared_inputs(pipeline) or ["text"]
    return json.dumps({name: "…" for name in names[:2]}, ensure_ascii=False)
