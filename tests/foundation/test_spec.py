"""The data model: ModelSpec checks, pipeline format, migrations, the committed schema."""

import json

import pytest
from pydantic import ValidationError

from studio.errors import UserError
from studio.spec import ModelSpec, Pipeline, load_pipeline
from studio.spec.schema import SCHEMA_PATH, render


def _spec(**kw):
    base = dict(id="acme/m1", name="M1", provider="http", api="http", endpoint="http://127.0.0.1:9/x")
    return ModelSpec.model_validate({**base, **kw})


def test_model_spec_round_trips_through_camel_case_json():
    spec = _spec(model_type="classifier", capabilities=["sentiment"], prices={"perCall": 0.001}, keyRef="ACME_KEY")
    doc = spec.to_json_dict()
    assert doc["modelType"] == "classifier" and doc["keyRef"] == "ACME_KEY" and doc["prices"] == {"perCall": 0.001}
    assert ModelSpec.model_validate(doc) == spec


@pytest.mark.parametrize("bad_id", ["Open AI/x", "/x", "x/", "x//y", "../etc/passwd", ""])
def test_model_id_must_be_a_slug(bad_id):
    with pytest.raises(ValidationError, match="not a valid id"):
        _spec(id=bad_id)


def test_input_schema_is_checked_against_the_metaschema():
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        _spec(input_schema={"type": "objekt"})
    with pytest.raises(ValidationError, match="not a valid JSON Schema at properties/n"):
        _spec(input_schema={"type": "object", "properties": {"n": {"type": "number", "minimum": "zero"}}})


def test_remote_models_need_an_endpoint_and_a_key_reference_is_a_name():
    with pytest.raises(ValidationError, match="needs an endpoint"):
        ModelSpec(id="a/b", name="b", provider="openai", api="openai-chat")
    with pytest.raises(ValidationError, match="name of a key"):
        _spec(key_ref="sk abc def")


def test_unknown_prices_mean_unpriced_not_free():
    assert not _spec().priced
    assert _spec(prices={"inputPerToken": 0, "outputPerToken": 0}).priced
    assert _spec(api="openai-chat", provider="openai").incomplete
    assert not _spec(api="openai-chat", provider="openai", model="gpt-4o-mini").incomplete


def test_a_price_too_large_to_be_real_is_refused_in_one_sentence():
    """1e12 USD per million tokens, or 1e400 (read as infinity), was saved as a price."""
    assert _spec(prices={"inputPerToken": 0.01, "outputPerToken": 6e-4, "perCall": 1000}).priced  # the bounds
    for prices in ({"inputPerToken": 1e6}, {"outputPerToken": 0.0100001}, {"cachedInputPerToken": float("inf")},
                   {"perCall": 1000.01}, json.loads('{"perCall": 1e400}')):
        with pytest.raises(ValidationError, match="this price is too large: at most .*check it for a typo"):
            _spec(prices=prices)
    with pytest.raises(ValidationError, match=r"at most 10,000 USD per million tokens \(0.01 USD per token\)"):
        _spec(prices={"inputPerToken": 1e6})


def test_pipeline_missing_model_still_loads():
    p = load_pipeline({"format": "iom.pipeline", "version": 1, "id": "p", "name": "P",
                       "nodes": [{"id": "n", "kind": "model", "model": "nobody/nothing"}]})
    assert p.node("n").model == "nobody/nothing"
    assert "nobody/nothing" in p.model_ids()


def test_version_zero_pipeline_migrates_and_layout_moves_to_ui():
    v0 = {
        "name": "Old flow",
        "nodes": [
            {"id": "a", "type": "input", "position": {"x": 1, "y": 2}},
            {"id": "b", "type": "model", "modelId": "openai/gpt-4o-mini", "position": {"x": 3, "y": 4}},
        ],
        "connections": [{"from": "a", "to": "b"}],
    }
    p = load_pipeline(v0)
    assert (p.format, p.version, p.id) == ("iom.pipeline", 1, "old-flow")
    assert p.node("b").model == "openai/gpt-4o-mini"
    assert p.edges[0].source == "a" and p.edges[0].target == "b"
    assert p.ui["positions"] == {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 4}}
    assert "position" not in json.dumps(p.model_dump(exclude={"ui"}))


def _current_shape_doc() -> dict:
    """A pipeline in the current shape that uses the fields the version-0 migration lacks."""
    return {
        "id": "untagged", "name": "Untagged", "tags": ["t"],
        "gateway": {"input": "last_user"},
        "nodes": [
            {"id": "in", "kind": "input", "inputSchema": {"type": "object"}},
            {"id": "a", "kind": "model", "model": "fake/a", "prompt": "{{ text }}", "system": "Be terse",
             "policy": {"retries": 0, "onError": "default", "default": {"text": "DEFAULT"}}},
            {"id": "r", "kind": "router", "routes": [{"port": "yes", "when": "text == 'x'"}]},
            {"id": "out", "kind": "output"},
        ],
        "edges": [
            {"id": "e1", "source": "in", "target": "a"},
            {"id": "e2", "source": "a", "sourcePort": "text", "target": "r", "targetPort": "text",
             "template": "{{ value }}"},
            {"id": "e3", "source": "r", "sourcePort": "yes", "target": "out"},
        ],
    }


def test_untagged_pipeline_in_the_current_shape_is_read_as_current_and_keeps_every_field():
    """The committed schema lets "format" and "version" be left out (they have defaults): such a
    file is the current version, not the prototype's version 0 (whose migration dropped most of it)."""
    import jsonschema

    doc = _current_shape_doc()
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text("utf-8")))
    assert "format" not in json.loads(SCHEMA_PATH.read_text("utf-8"))["required"]
    p = load_pipeline(doc)
    tagged = load_pipeline({"format": "iom.pipeline", "version": 1, **doc})
    assert p == tagged
    assert p.node("a").system == "Be terse" and p.node("a").policy.on_error == "default"
    assert p.edges[1].source_port == "text" and p.edges[1].template == "{{ value }}"
    assert p.gateway is not None and p.tags == ["t"] and p.node("r").routes


def test_version_zero_migration_refuses_a_field_it_would_drop():
    v0 = {"name": "Old", "connections": [{"from": "a", "to": "b"}],
          "nodes": [{"id": "a", "type": "input"},
                    {"id": "b", "type": "model", "modelId": "m/x", "system": "Be terse"}]}
    with pytest.raises(UserError, match=r"^node 'b' has 'system', which the old version-0 format .* cannot hold; "
                                        r'add "format": "iom.pipeline" and "version": 1'):
        load_pipeline(v0)
    with pytest.raises(UserError, match=r"^connection 1 has 'mapping'"):
        load_pipeline({**v0, "nodes": v0["nodes"][:1], "connections": [{"from": "a", "to": "b", "mapping": "/x"}]})
    with pytest.raises(UserError, match=r"^the pipeline has 'tags'"):
        load_pipeline({**v0, "nodes": v0["nodes"][:1], "tags": ["x"]})


def test_future_version_and_foreign_format_are_refused_in_one_sentence():
    with pytest.raises(UserError, match="version 7, newer than this studio reads .* update IoM Studio"):
        load_pipeline({"format": "iom.pipeline", "version": 7, "id": "p", "name": "P"})
    with pytest.raises(UserError, match="not an IoM pipeline"):
        load_pipeline({"format": "something-else", "version": 1})
    with pytest.raises(UserError, match=r"nodes\.0\.kind"):
        load_pipeline({"format": "iom.pipeline", "version": 1, "id": "p", "name": "P", "nodes": [{"id": "n", "kind": "wizard"}]})


def test_committed_pipeline_schema_matches_the_code():
    committed = SCHEMA_PATH.read_text("utf-8")
    assert committed == render(), "run 'python -m studio.spec.schema' and commit the result"


def test_sample_pipelines_validate_against_the_committed_schema():
    import jsonschema

    from studio.registry.samples import samples_dir

    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    files = sorted((samples_dir() / "pipelines").glob("*.json"))
    assert len(files) >= 4
    for f in files:
        doc = json.loads(f.read_text("utf-8"))
        jsonschema.validate(doc, schema)
        assert Pipeline.model_validate(doc).id == f.stem
