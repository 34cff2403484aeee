"""The shipped registry entries of the local models and the offline sample pipelines:
schemas that match what the models really return, and pipelines wired to real fields."""

from __future__ import annotations

import json
from graphlib import TopologicalSorter

import jsonschema
import pytest
from jinja2.sandbox import SandboxedEnvironment

from studio.atomic import dumps_stable
from studio.providers.local import LOCAL_MODELS
from studio.registry.samples import sample_models, samples_dir
from studio.spec import load_pipeline
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.model import KNOWN_CAPABILITIES
from tests.providers import local_texts as T

LOCAL_SPECS = [s for s in sample_models() if s.provider == "local"]
OFFLINE_PIPELINES = ["review-triage", "text-insights"]
TEXTS = [*T.BY_LANGUAGE.values(), T.EN_POSITIVE, T.EN_NEGATIVE, T.EN_ARTICLE, "Great!", "12345", ""]


def _validator(schema):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _pipeline_doc(pipeline_id):
    return json.loads((samples_dir() / "pipelines" / f"{pipeline_id}.json").read_text("utf-8"))


def test_every_shipped_model_schema_is_a_valid_json_schema():
    """Checked straight from the files, local models or not (ModelSpec checks each distinct
    schema once per process)."""
    for path in sorted((samples_dir() / "models").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        for field in ("inputSchema", "outputSchema"):
            schema = doc.get(field)
            if schema is not None:
                jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)


def test_every_local_model_has_one_registry_entry_and_back():
    assert sorted(s.model for s in LOCAL_SPECS) == sorted(LOCAL_MODELS)
    assert len({s.id for s in LOCAL_SPECS}) == len(LOCAL_SPECS)


@pytest.mark.parametrize("spec", LOCAL_SPECS, ids=lambda s: s.id)
def test_entry_is_free_private_offline_and_stored_stably(spec):
    assert spec.api == "local" and spec.key_ref is None and spec.endpoint is None
    assert spec.prices.per_call == 0 and spec.priced  # free is a known price, not "unpriced"
    assert spec.security_policy == "private" and spec.latency_ms is not None
    assert spec.capabilities and set(spec.capabilities) <= set(KNOWN_CAPABILITIES)
    assert spec.description == LOCAL_MODELS[spec.model].description
    path = samples_dir() / "models" / (spec.id.replace("/", "__") + ".json")
    assert path.read_text("utf-8") == dumps_stable(spec.to_json_dict())


@pytest.mark.parametrize("spec", LOCAL_SPECS, ids=lambda s: s.id)
def test_real_outputs_fit_the_entry_schemas(spec):
    model = LOCAL_MODELS[spec.model]
    inputs, outputs = _validator(spec.input_schema), _validator(spec.output_schema)
    for text in TEXTS:
        request = {"text": text}
        assert not list(inputs.iter_errors(request))
        out = model.run(request, dict(spec.default_params))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in outputs.iter_errors(out)]
        assert not errors, (text[:40], errors)
        if spec.model_type == "classifier":
            jsonschema.validate(out, CANONICAL_SCHEMAS["classifier"][1])
        if "text" in spec.output_schema.get("properties", {}):
            assert isinstance(out["text"], str)


@pytest.mark.parametrize("spec", LOCAL_SPECS, ids=lambda s: s.id)
def test_schemas_reject_what_the_models_would_not_return(spec):
    out = LOCAL_MODELS[spec.model].run({"text": T.EN_REVIEW}, {})
    assert not _validator(spec.output_schema).is_valid({**out, "unexpected": 1})
    required = spec.output_schema["required"]
    assert not _validator(spec.output_schema).is_valid({k: v for k, v in out.items() if k != required[0]})
    assert not _validator(spec.input_schema).is_valid({"prompt": "no text field"})


def test_every_sample_pipeline_loads_and_names_only_sample_models():
    known = {s.id for s in sample_models()}
    files = sorted((samples_dir() / "pipelines").glob("*.json"))
    assert {f.stem for f in files} >= set(OFFLINE_PIPELINES)
    for f in files:
        pipeline = load_pipeline(json.loads(f.read_text("utf-8")))
        assert pipeline.id == f.stem
        assert pipeline.model_ids() <= known, (f.name, pipeline.model_ids() - known)


@pytest.mark.parametrize("pipeline_id", OFFLINE_PIPELINES)
def test_offline_pipelines_use_only_local_models_and_real_ports(pipeline_id):
    pipeline = load_pipeline(_pipeline_doc(pipeline_id))
    specs = {s.id: s for s in sample_models()}
    assert pipeline.model_ids() and all(specs[m].provider == "local" for m in pipeline.model_ids())
    assert set(pipeline.ui["positions"]) == {n.id for n in pipeline.nodes}
    nodes = {n.id: n for n in pipeline.nodes}
    for e in pipeline.edges:
        src, dst = nodes[e.source], nodes[e.target]
        if src.kind == "model":
            assert e.source_port == "out" or e.source_port in specs[src.model].output_schema["properties"], e
        if src.kind == "input":
            assert e.source_port in src.input_schema["properties"], e
        if dst.kind == "model":
            assert e.target_port == "in" or e.target_port in specs[dst.model].input_schema["properties"], e
    for n in pipeline.nodes:
        if n.template:
            SandboxedEnvironment().parse(n.template)


def _walk(pipeline_id, inputs):
    """Follow the sample's edges with the port rules of studio/spec/pipeline.py, calling the
    local models directly. A check that the wiring carries real fields, not the engine."""
    pipeline = load_pipeline(_pipeline_doc(pipeline_id))
    specs = {s.id: s for s in sample_models()}
    order = TopologicalSorter({n.id: set() for n in pipeline.nodes})
    for e in pipeline.edges:
        order.add(e.target, e.source)
    results: dict[str, dict] = {}
    for node_id in order.static_order():
        node = pipeline.node(node_id)
        received: dict = {}
        for e in (e for e in pipeline.edges if e.target == node_id):
            value = results[e.source] if e.source_port == "out" else results[e.source][e.source_port]
            if e.target_port == "in":
                received.update(value)
            else:
                received[e.target_port] = value
        if node.kind == "input":
            results[node_id] = dict(inputs)
        elif node.kind == "model":
            spec = specs[node.model]
            results[node_id] = LOCAL_MODELS[spec.model].run(received, {**spec.default_params, **node.params})
        elif node.kind == "transform":
            results[node_id] = {"text": SandboxedEnvironment().from_string(node.template).render(**received)}
        else:  # merge, output
            results[node_id] = received
    return results


def test_review_triage_wiring_produces_a_report():
    report = _walk("review-triage", {"text": T.FR_REVIEW})["out"]
    assert report["language"] == "French" and report["sentimentReliable"] is False
    assert report["sentiment"] in ("positive", "negative", "neutral")
    assert -1 <= report["sentimentScore"] <= 1
    assert len(report["keywords"].split(", ")) == 5
    assert report["summary"] and len(report["summary"]) < len(T.FR_REVIEW)
    english = _walk("review-triage", {"text": T.EN_NEGATIVE})["out"]
    assert (english["language"], english["sentiment"], english["sentimentReliable"]) == ("English", "negative", True)


@pytest.mark.parametrize("text", ["Nice.", "Too expensive.", "Not bad.", "I love it"])
def test_review_triage_does_not_name_a_language_or_claim_reliability_for_a_few_words(text):
    # langdetect called "Nice." Romanian at 1.0, and the report said sentimentReliable: yes.
    report = _walk("review-triage", {"text": text})["out"]
    assert (report["language"], report["sentimentReliable"]) == ("Undetermined", False)


def test_text_insights_wiring_renders_the_markdown_report():
    out = _walk("text-insights", {"text": T.EN_ARTICLE})["out"]
    report = out["report"]
    stats = out["stats"]
    assert report.startswith(f"## Text insights\n\n**Length:** {stats['words']} words in {stats['sentences']} sentences")
    assert f"**Readability:** Flesch reading ease {stats['readingEase']} ({stats['readingLevel']})" in report
    keywords_line = next(line for line in report.splitlines() if line.startswith("**Keywords:**"))
    assert "solar" in keywords_line.lower() and keywords_line.count(",") == 7
    bullets = [line[2:] for line in report.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3 and all(b in T.EN_ARTICLE for b in bullets)
    chinese = _walk("text-insights", {"text": T.ZH_TEXT})["out"]["report"]
    assert "no formula for this language" in chinese and "人工智能" in chinese
