"""Templates and router conditions run within limits (output size, loop steps, time — the
node's timeout included), and whatever goes wrong inside one is that node's error in one
sentence: never a hang, never a traceback."""

from __future__ import annotations

import pytest

from studio.engine import RunOptions, templates
from studio.engine.templates import evaluate, render
from studio.errors import UserError
from tests.engine.conftest import OUT, TEXT_IN, pipeline

HOSTILE = {
    "{{ 'a' * 300000000 }}": "repeating a value 300,000,000 times",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}": "1,000,000 loop steps",
    "{% for x in ('a' * 100000)|list %}{% for y in ('b' * 100000)|list %}{% endfor %}{% endfor %}": "loop steps",
    "{{ range(10**9) }}": "a range bound of 1,000,000,000",
    "{{ 'x'.center(10**9) }}": "a width of 1,000,000,000",
    "{{ 'x'|center(10**9) }}": "a width of 1,000,000,000",
    "{{ '%0999999999d' % 1 }}": "format width",
    "{{ 2 ** 100000 }}": "more than 10,000 digits",
    "{% set n = namespace(s='ab') %}{% for i in range(40) %}{% set n.s = n.s ~ n.s %}{% endfor %}": "longer than 1,000,000",
    "{% for i in range(900000) %}xx{% endfor %}": "produced more than 1,000,000 characters",
    "{% set l = [0] %}{% for i in range(40) %}{% set _ = l.extend(l) %}{% endfor %}{{ l|length }}": "grew past 1,000,000",
    "{{ 1/0 }}": "ZeroDivisionError",
    "{{ text < 3 }}": "TypeError",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}": "recursed too deeply",
    "{{ text.nope() }}": "failed",
}


@pytest.mark.parametrize("source", HOSTILE)
def test_a_hostile_template_is_one_sentence_naming_the_node(source):
    with pytest.raises(UserError) as err:
        render(source, {"text": "hello"}, where="node t")
    message = str(err.value)
    assert message.startswith("node t: the template") and HOSTILE[source] in message
    assert "\n" not in message


def test_ordinary_templates_still_work():
    assert render("{% for i in range(3) %}{{ i }}{% endfor %} {{ text|upper }} {{ 5000000|filesizeformat }}",
                  {"text": "hi"}, where="n") == "012 HI 5.0 MB"
    assert evaluate("text|length > 1 and score >= 0.5", {"text": "hi", "score": 0.7}, where="n") is True
    with pytest.raises(UserError, match="node r: the condition failed .ZeroDivisionError"):
        evaluate("1/0 > 2", {}, where="node r")


async def test_the_nodes_timeout_bounds_its_template(engine, monkeypatch):
    monkeypatch.setattr(templates, "STEP_LIMIT", 10**9)  # only time can stop this loop
    slow = {"id": "t", "kind": "transform", "policy": {"timeoutS": 0.3},
            "template": "{% for i in range(999999) %}{% for j in range(999999) %}{% endfor %}{% endfor %}"}
    p = pipeline([TEXT_IN, slow, OUT], [("e1", "in", "t"), ("e2", "t", "out")])
    record = await engine.run(p, {"text": "x"}, RunOptions(use_cache=False))
    assert record.status == "failed"
    assert "node t: the template was stopped because it ran longer than 0.3 s" in record.nodes["t"].error


async def test_an_edge_template_and_a_router_condition_fail_their_node_cleanly(engine):
    edge_bomb = pipeline([TEXT_IN, {"id": "t", "kind": "transform", "template": "{{ text }}"}, OUT],
                         [("e1", "in", "t"), ("e2", "t", "out")])
    edge_bomb.edges[0].template = "{{ 'a' * 300000000 }}"
    record = await engine.run(edge_bomb, {"text": "x"}, RunOptions(use_cache=False))
    assert record.status == "failed" and "repeating a value" in record.error
    router = pipeline([TEXT_IN, {"id": "r", "kind": "router", "routes": [{"port": "big", "when": "text < 3"},
                                                                        {"port": "small"}]}, OUT],
                      [("e1", "in", "r"), ("e2", "r", "out", "small", "in")])
    record = await engine.run(router, {"text": "x"}, RunOptions(use_cache=False))
    assert record.status == "failed" and "node r: the condition failed (TypeError" in record.nodes["r"].error


async def test_a_dry_run_without_input_warns_and_never_raises(engine, registry):
    p = pipeline([TEXT_IN, {"id": "t", "kind": "transform", "template": "{{ (text|length) < 3 }}"}, OUT],
                 [("e1", "in", "t"), ("e2", "t", "out")])
    plan = await engine.run(p, {}, RunOptions(dry_run=True))
    assert any("required input 'text' of node 'in' is missing" in w for w in plan["warnings"])


def test_a_template_that_folds_to_a_huge_constant_is_not_built_while_checking_ports():
    from studio.engine.ports import template_error, template_variables

    # Jinja would compute 'a' * 300000000 while compiling; the bounded sandbox never folds it
    assert template_variables("{{ 'a' * 300000000 }} {{ text }}") == ("text",)
    assert template_error("{{ 'a' * 300000000 }}") is None


@pytest.mark.parametrize("properties", [[1, 2], {"text": 5}, {"text": {"type": 7}}, "x"])
def test_an_input_schema_that_is_not_a_schema_is_refused_when_the_pipeline_loads(properties):
    from studio.spec import load_pipeline

    doc = {"format": "iom.pipeline", "version": 1, "id": "p", "name": "P", "edges": [],
           "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": properties}}]}
    with pytest.raises(UserError, match="nodes.0.inputSchema: is not a valid JSON Schema at properties"):
        load_pipeline(doc)


async def test_an_input_too_long_for_a_prompt_is_named_with_its_size_and_the_limit(engine, registry, fake):
    """A 5 MB `text` through `{{ text }}` was refused with '…produced more than 1,000,000
    characters; make it do less work', which did not say the input was the cause."""
    from tests.engine.conftest import openai_model

    openai_model(registry, fake, "t/a", "/a/v1/chat/completions")
    p = pipeline([TEXT_IN, {"id": "summarize", "kind": "model", "model": "t/a", "prompt": "Summarise: {{ text }}"}, OUT],
                 [("e1", "in", "summarize", "text", "text"), ("e2", "summarize", "out")])
    record = await engine.run(p, {"text": "a" * 5_000_000}, RunOptions(use_cache=False))
    error = record.nodes["summarize"].error
    assert record.status == "failed" and "\n" not in error
    assert "node summarize" in error and "input 'text' is 5,000,000 characters" in error and "1,000,000" in error, error
    assert "pass a shorter 'text'" in error and "less work" not in error, error
    # an input the template does not use is not blamed
    with pytest.raises(UserError, match="produced more than 1,000,000 characters"):
        render("{% for i in range(900000) %}xx{% endfor %}", {"text": "a" * 5_000_000}, where="node t")
