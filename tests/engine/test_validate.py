"""Validation before a run: every problem at once, each on the node or edge it belongs to."""

from __future__ import annotations

import pytest

from studio.engine import PipelineInvalid, RunOptions, validate_pipeline
from studio.spec import load_pipeline
from tests.engine.conftest import openai_model


def where(problems) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in problems:
        found.setdefault(p.where, []).append(p.message)
    return found


async def test_all_problems_at_once_on_the_right_ids(engine, registry, fake):
    openai_model(registry, fake, "t/m", "/v1/chat/completions", capabilities=["chat"])
    registry.save(registry.get("t/m").model_copy(update={"id": "t/num", "output_schema": {
        "type": "object", "properties": {"score": {"type": "number"}}}}))
    p = load_pipeline({"format": "iom.pipeline", "version": 1, "id": "bad", "name": "Bad", "nodes": [
        {"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
        {"id": "ghost", "kind": "model", "model": "no/such-model", "prompt": "{{ text }}"},
        {"id": "tpl", "kind": "model", "model": "t/m", "prompt": "{{ text "},
        {"id": "needs", "kind": "model", "model": "t/m", "prompt": "{{ text }} {{ audience }}", "policy": {"fallback": ["gone/x"]}},
        {"id": "loop1", "kind": "transform", "template": "{{ text }}"},
        {"id": "loop2", "kind": "transform", "template": "{{ text }}"},
        {"id": "router", "kind": "router"},
        {"id": "jp", "kind": "transform", "expression": "foo[?"},
        {"id": "num", "kind": "model", "model": "t/num", "prompt": "{{ text }}"},
        {"id": "sink", "kind": "model", "model": "t/m", "prompt": "{{ text }}"},
        {"id": "cap", "kind": "capability", "choose": {"capability": "teleport"}},
        {"id": "out", "kind": "output"}],
        "edges": [
            {"id": "e1", "source": "in", "target": "ghost"}, {"id": "e2", "source": "in", "target": "tpl"},
            {"id": "e3", "source": "in", "target": "needs"},
            {"id": "e4", "source": "loop1", "target": "loop2"}, {"id": "e5", "source": "loop2", "target": "loop1"},
            {"id": "e6", "source": "in", "target": "nowhere"},
            {"id": "e7", "source": "in", "target": "num"},
            {"id": "e8", "source": "num", "sourcePort": "score", "target": "sink", "targetPort": "images"},
            {"id": "e9", "source": "out", "target": "in"}]})
    problems = where(validate_pipeline(p, registry))
    assert "not in the registry" in problems["ghost"][0]
    assert any("prompt template does not parse" in m for m in problems["tpl"])
    assert any("'audience'" in m for m in problems["needs"]) and any("gone/x" in m for m in problems["needs"])
    assert any("cycle" in m for m in problems["loop1"]) and any("cycle" in m for m in problems["loop2"])
    assert "without routes" in problems["router"][0]
    assert "not valid JMESPath" in problems["jp"][0]
    assert "which does not exist" in problems["e6"][0]
    assert "number output 'score' into the array input 'images'" in problems["e8"][0]
    assert "teleport" in problems["cap"][0]
    assert "ends on input node" in problems["e9"][0]
    assert "in" not in problems
    assert problems["out"] == ["is an output with nothing connected to it; connect the node whose result you want "
                               "to it, or delete it"]  # a run would succeed and show nothing
    with pytest.raises(PipelineInvalid, match="pipeline bad is not valid: .*more: 'iom pipelines validate bad' lists "
                                              "them\\); fix it before running"):
        await engine.run(p, {"text": "x"})
    assert fake.requests == []


def test_every_sample_pipeline_is_valid(iom_home, memory_keyring):
    from studio.core import Studio

    s = Studio(iom_home)
    try:
        assert {p.id: [str(x) for x in validate_pipeline(p, s.models)] for p in s.pipelines.all()} == {
            p.id: [] for p in s.pipelines.all()}
    finally:
        s.close()


async def test_a_reused_validation_still_sees_every_edit(engine, registry, fake):
    """The engine keeps the last answer for an unchanged pipeline over unchanged specs: a node
    edited in place (as the canvas does) or a model removed from the registry is checked anew."""
    from tests.engine.conftest import OUT, TEXT_IN, chat_reply, pipeline
    from tests.fakes.provider_server import Reply

    openai_model(registry, fake, "t/m", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("ok")))
    p = pipeline([TEXT_IN, {"id": "m", "kind": "model", "model": "t/m", "prompt": "{{ text }}"}, OUT],
                 [("e1", "in", "m", "text", "text"), ("e2", "m", "out", "text", "reply")])
    assert engine.validate(p) == [] and engine.validate(p) == []
    assert (await engine.run(p, {"text": "hi"})).status == "succeeded"
    p.nodes[1].model = "no/such-model"  # edited in place
    assert "no/such-model" in str(engine.validate(p))
    with pytest.raises(PipelineInvalid):
        await engine.run(p, {"text": "hi"})
    p.nodes[1].model = "t/m"
    assert engine.validate(p) == []
    registry.delete("t/m")  # the registry changed under the same pipeline
    assert "t/m" in str(engine.validate(p))


async def test_a_run_reads_the_models_it_names_not_the_whole_registry(engine, registry, fake):
    """A run without a capability node reads only the models its nodes name or fall back to
    (each afresh: an edit to its file shows in the next run); the rest of the registry, however
    large or broken, costs it nothing. A missing or unreadable one is named by validation."""
    from tests.engine.conftest import OUT, TEXT_IN, chat_reply, pipeline
    from tests.fakes.provider_server import Reply

    spec = openai_model(registry, fake, "t/m", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("ok")))
    (registry.home / "models" / "t" / "broken.json").write_text("{ not json", "utf-8")  # someone else's broken file
    p = pipeline([TEXT_IN, {"id": "m", "kind": "model", "model": "t/m", "prompt": "{{ text }}",
                            "policy": {"fallback": ["t/spare"]}}, OUT],
                 [("e1", "in", "m", "text", "text"), ("e2", "m", "out", "text", "reply")])
    every_model = registry.all
    registry.all = lambda: pytest.fail("a run without a capability node scanned the whole registry")
    try:
        with pytest.raises(PipelineInvalid, match="t/spare"):  # the fallback is read too: it is missing
            await engine.run(p, {"text": "hi"})
        openai_model(registry, fake, "t/spare", "/v1/chat/completions")
        assert (await engine.run(p, {"text": "hi"})).nodes["m"].cost_usd > 0
        registry.save(spec.model_copy(update={"prices": None}))  # the model's file edited: seen at once
        fresh = RunOptions(use_cache=False)  # the output cache keys on the spec's time, in whole seconds
        assert (await engine.run(p, {"text": "hi"}, fresh)).nodes["m"].cost_usd is None
        (registry.home / "models" / "t" / "m.json").write_text("{ not json", "utf-8")
        with pytest.raises(PipelineInvalid, match="t/m"):
            await engine.run(p, {"text": "hi"})
    finally:
        registry.all = every_model


async def test_a_capability_nodes_fallbacks_are_held_to_the_access_policies_it_allows(engine, registry, fake, monkeypatch):
    """A node that allows only public models chose among public ones, but its fallback sent the
    same input to a private model when the public one failed, and the run said "succeeded"."""
    from tests.fakes.provider_server import Reply

    openai_model(registry, fake, "t/pub", "/pub", capabilities=["chat"])
    openai_model(registry, fake, "t/priv", "/priv", security_policy="private")
    fake.reply("/pub", Reply(status=400, json={"error": {"message": "context length exceeded", "type": "invalid_request_error"}}))
    p = load_pipeline({"format": "iom.pipeline", "version": 1, "id": "pol", "name": "Pol", "nodes": [
        {"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
        {"id": "c", "kind": "capability", "choose": {"capability": "chat", "allowedPolicies": ["public"]},
         "prompt": "{{ text }}", "policy": {"fallback": ["t/priv"], "retries": 0}},
        {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "c", "targetPort": "text"},
                  {"id": "e2", "source": "c", "sourcePort": "text", "target": "out", "targetPort": "text"}]})
    assert where(validate_pipeline(p, registry))["c"] == [
        "falls back to 't/priv', a private model, but it allows only public models; remove the fallback or allow "
        "private models"]
    with pytest.raises(PipelineInvalid):
        await engine.run(p, {"text": "secret data"})
    assert fake.requests == []
    # and where validation is not asked (its problems left out here), the run still holds to it
    import studio.engine.executor as executor

    monkeypatch.setattr(executor, "validate_against", lambda *a: [])
    engine._validated.clear()  # the engine keeps what it found for a pipeline it saw
    record = await engine.run(p, {"text": "secret data"})
    assert record.status == "failed" and [r.path for r in fake.requests] == ["/pub"]


def test_a_transforms_broken_template_is_named_once(registry):
    p = load_pipeline({"format": "iom.pipeline", "version": 1, "id": "t", "name": "T", "nodes": [
        {"id": "in", "kind": "input"}, {"id": "x", "kind": "transform", "template": "{{ text "}, {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "target": "x"}, {"id": "e2", "source": "x", "target": "out"}]})
    said = where(validate_pipeline(p, registry))["x"]
    assert any(m.startswith("its template does not parse") for m in said) and not any("template template" in m for m in said)


async def test_a_pipeline_run_where_its_models_are_missing_names_every_one(engine):
    """An exported pipeline run in another data dir said only "names model 'fake/a' … (and 2
    more)": the other missing models were not named."""
    from tests.engine.conftest import OUT, TEXT_IN, pipeline

    nodes = [TEXT_IN, *({"id": n, "kind": "model", "model": f"fake/{n}", "prompt": "{{ text }}"} for n in "abc"), OUT]
    p = pipeline(nodes, [("e1", "in", "a"), ("e2", "in", "b"), ("e3", "in", "c"), ("e4", "a", "out", "text", "text")])
    with pytest.raises(PipelineInvalid) as caught:
        await engine.run(p, {"text": "x"})
    assert all(f"'fake/{n}'" in str(caught.value) for n in "abc") and "more" not in str(caught.value), caught.value


def test_unknown_variables_in_system_edge_templates_and_conditions_are_caught_like_the_prompts(registry, fake):
    """Only `prompt` was checked: a typo in `system` ran with no system prompt at all, and one in
    an edge template or a router condition failed the run after the paid calls before it."""
    openai_model(registry, fake, "t/m", "/v1/chat/completions", capabilities=["chat"])
    doc = {"format": "iom.pipeline", "version": 1, "id": "typos", "name": "Typos", "nodes": [
        {"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
        {"id": "a", "kind": "model", "model": "t/m", "prompt": "{{ text }}", "system": "{{ sysvar }}"},
        {"id": "r", "kind": "router", "routes": [{"port": "big", "when": "undefined_var > 3"},
                                                 {"port": "ok", "when": "text == 'x' or tone is defined"}]},
        {"id": "b", "kind": "model", "model": "t/m", "prompt": "{{ text }}"},
        {"id": "out", "kind": "output"}],
        "edges": [
            {"id": "e1", "source": "in", "target": "a"}, {"id": "e2", "source": "in", "target": "r"},
            {"id": "e3", "source": "a", "target": "b", "template": "{{ nosuch.deeper }}", "targetPort": "text"},
            {"id": "e4", "source": "a", "sourcePort": "text", "target": "out", "template": "{{ value }}!"},
            {"id": "e5", "source": "r", "sourcePort": "big", "target": "out", "template": "{{ anything }}"}]}
    problems = where(validate_pipeline(load_pipeline(doc), registry))
    assert problems["a"] == ["needs input 'sysvar', which no edge provides; connect one"]
    assert problems["r"] == ["needs input 'undefined_var', which no edge provides; connect one"]
    assert len(problems["e3"]) == 1 and problems["e3"][0].startswith(
        "its template needs 'nosuch', which the value from 'a' does not have (it has the fields ")
    assert set(problems) == {"a", "r", "e3"}  # 'value', `is defined` and a router's open object pass
    fixed = {**doc, "edges": [dict(e, template="{{ text }}") if e["id"] == "e3" else e for e in doc["edges"]]}
    fixed["nodes"] = [dict(n, system="{{ text }}") if n["id"] == "a" else
                      dict(n, routes=[{"port": "big", "when": "text | length > 3"}]) if n["id"] == "r" else n
                      for n in doc["nodes"]]
    assert validate_pipeline(load_pipeline(fixed), registry) == []
