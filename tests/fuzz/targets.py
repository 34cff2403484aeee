"""What the property-based fuzzing drives, shared by tests/fuzz (2,000 examples per entry point
in every test run) and bench/soak_fuzz.py (10,000+ per entry point, counting instead of failing).

Each target takes one generated value and feeds it to a public entry point that takes user
data. A `UserError` (one sentence for the person) is a correct answer; any other exception is
a bug — a traceback the person would see.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from studio import jsonread
from studio.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PIPELINES = [json.loads(p.read_text("utf-8")) for p in sorted((ROOT / "samples" / "pipelines").glob("*.json"))]

# ---- values --------------------------------------------------------------------------------
ODD_TEXT = st.sampled_from(["", " ", "\n", "\x00", "é", "😀", "\u202e", "\ud800", "a" * 3000, "{{", "}}", "null",
                            "../../etc/passwd", "a/b/c", "UPPER/Case", "x\n", "0", "-1", "1e999", "NaN"])
text = st.text(max_size=20) | ODD_TEXT
scalars = st.none() | st.booleans() | st.integers() | st.integers(min_value=10**50, max_value=10**60) | \
    st.floats(allow_nan=True, allow_infinity=True) | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=12)
deep = st.integers(min_value=1, max_value=3000).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900)))
wild = json_values | deep

TEMPLATES = st.sampled_from([
    "{{ text }}", "{{ 1/0 }}", "{{ text < 3 }}", "{{ 'a' * 300000000 }}", "{{ range(10**9) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{{ text.nope() }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{{ value|tojson }}", "{{ x['y'] }}", "{{", "{% if %}",
    "{{ text|int + 1 }}", "{{ ''.join(text) }}", "{{ 2 ** 10000 }}", "{{ text[::-1]|upper }}", "{{ {}.__class__ }}",
    "{{ cycler }}", "{{ lipsum(10**6) }}", "{% for x in text %}{{ x }}{% endfor %}", "{{ (text ~ text) * 3 }}",
]) | st.text(alphabet="{}%#()[]|.~*+-/<> 0123abcxyz'\"", max_size=30)
CONDITIONS = st.sampled_from(["text", "1/0", "text < 3", "score > 0.5", "label == 'positive'", "'a' * 10**9",
                              "", "((", "x.y.z", "range(10**10)|length"]) | text

# ---- documents -------------------------------------------------------------------------------
MODEL_KEYS = ["id", "name", "provider", "api", "endpoint", "model", "modelType", "keyRef", "inputSchema",
              "outputSchema", "prices", "capabilities", "defaultParams", "latencyMs", "contextWindow", "tags",
              "security", "costPerToken", "apiKey", "description", "created", "health"]
model_like = st.dictionaries(st.sampled_from(MODEL_KEYS) | text, wild, max_size=8)
prototype_like = st.fixed_dictionaries(
    {"name": text | wild, "endpoint": st.sampled_from(["https://api.openai.com/v1/chat/completions",
                                                       "http://localhost:11434/api/generate", "ftp://x", "", "::"]) | wild},
    optional={"modelType": st.sampled_from(["llm", "embedding", "classifier", "x"]) | wild,
              "costPerToken": st.floats() | wild, "apiKey": text | wild, "model": text | wild,
              "inputSchema": wild, "outputSchema": wild, "latency": wild, "tags": wild})

IDS = st.sampled_from(["in", "out", "a", "b", "r", "m", "stats", "sentiment"]) | text | st.integers()
PORTS = st.sampled_from(["out", "in", "text", "label", "compound", "value", "*"]) | text
NODE_KINDS = st.sampled_from(["input", "output", "model", "transform", "router", "merge", "capability", "bogus"]) | wild
node = st.fixed_dictionaries({"id": IDS, "kind": NODE_KINDS}, optional={
    "model": st.sampled_from(["local/sentiment-vader", "local/text-stats", "local/keywords-yake", "no/such"]) | wild,
    "template": TEMPLATES | wild, "prompt": TEMPLATES, "expression": CONDITIONS | wild,
    "routes": st.lists(st.fixed_dictionaries({"port": PORTS}, optional={"when": CONDITIONS}), max_size=3) | wild,
    "inputSchema": wild | st.just({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    | st.fixed_dictionaries({"type": st.just("object") | wild, "properties": wild | st.dictionaries(text, wild, max_size=2)},
                            optional={"required": wild}),
    "policy": wild | st.fixed_dictionaries({}, optional={"timeoutS": wild, "retries": wild, "onError": wild,
                                                         "fallback": wild}),
    "merge": st.sampled_from(["object", "list", "text"]) | wild, "capability": wild, "params": wild})
edge = st.fixed_dictionaries({"id": IDS, "source": IDS, "target": IDS}, optional={
    "sourcePort": PORTS, "targetPort": PORTS, "template": TEMPLATES, "mapping": CONDITIONS | text})
pipeline_like = st.fixed_dictionaries({
    "format": st.sampled_from(["iom.pipeline", "other"]) | wild,
    "version": st.sampled_from([0, 1, 2, 99]) | wild, "id": st.sampled_from(["fuzz", "a/b"]) | text | wild,
    "name": text | wild, "nodes": st.lists(node, max_size=6) | wild, "edges": st.lists(edge, max_size=8) | wild})
v0_like = st.fixed_dictionaries({"name": text | wild, "models": wild, "connections": wild},
                                optional={"id": text | wild, "nodes": wild, "edges": wild, "version": st.just(0) | wild})


@st.composite
def mutated_sample(draw) -> Any:
    """A sample pipeline with a few of its fields replaced by hostile values: deep paths
    that random documents rarely reach."""
    doc = copy.deepcopy(draw(st.sampled_from(SAMPLE_PIPELINES)))
    for _ in range(draw(st.integers(1, 3))):
        target = doc
        path = []
        while isinstance(target, (dict, list)) and target and draw(st.booleans()):
            key = draw(st.sampled_from(list(target.keys()) if isinstance(target, dict) else list(range(len(target)))))
            path.append(key)
            if not isinstance(target[key], (dict, list)):
                break
            target = target[key]
        if isinstance(target, dict):
            key = draw(st.sampled_from(list(target.keys()) + ["template", "when", "mapping", "extra"]))
            target[key] = draw(TEMPLATES | CONDITIONS | wild)
        elif isinstance(target, list) and target:
            target[draw(st.integers(0, len(target) - 1))] = draw(wild | node | edge)
    return doc


pipelines = pipeline_like | mutated_sample() | v0_like | wild
run_inputs = st.dictionaries(st.sampled_from(["text", "language", "audience"]) | text, wild, max_size=3) | wild

# ---- targets ---------------------------------------------------------------------------------


class Targets:
    """The entry points, over one Studio in `home` (samples seeded, offline models only)."""

    def __init__(self, home: Path):
        from studio.core import Studio

        self.studio = Studio(home)
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.run_until_complete(self.studio.aclose())
        self.loop.close()
        self.studio.close()

    def model_import(self, doc: Any) -> None:
        """Registry import (native or the prototype's format), as `iom models import` and the UI do."""
        self.studio.models.import_doc(doc, source="fuzz.json", replace=True)

    def pipeline_cycle(self, doc: Any) -> None:
        """Load (with migrations), validate, dry-run without and with input, as the canvas and iom run do."""
        from studio.engine import RunOptions
        from studio.engine.validate import validate_pipeline
        from studio.spec import load_pipeline

        pipeline = load_pipeline(doc)
        for problem in validate_pipeline(pipeline, self.studio.models):
            str(problem.to_dict())
        for inputs in ({}, {"text": "Great room, cold breakfast."}):
            try:
                self.loop.run_until_complete(self.studio.engine.run(pipeline, inputs, RunOptions(dry_run=True)))
            except UserError:
                pass

    def pipeline_run(self, doc: Any, inputs: Any = None) -> None:
        """A real run (offline models only) of a loaded pipeline with generated input."""
        from studio.engine import RunOptions
        from studio.spec import load_pipeline

        pipeline = load_pipeline(doc)
        if any(n.model and not str(n.model).startswith("local/") for n in pipeline.nodes):
            return
        if not isinstance(inputs, dict):
            inputs = {"text": inputs if isinstance(inputs, str) else json.dumps(inputs, default=str)[:200]}
        record = self.loop.run_until_complete(self.studio.engine.run(pipeline, inputs, RunOptions(use_cache=False)))
        json.dumps(record.model_dump(mode="json"), ensure_ascii=False)

    def sample_run(self, inputs: Any) -> None:
        """The offline sample with generated input, as `iom run review-triage --input …`."""
        from studio.engine import RunOptions

        pipeline = self.studio.pipelines.get("review-triage")
        if not isinstance(inputs, dict):
            raise UserError("the input must be a JSON object.")
        self.loop.run_until_complete(self.studio.engine.run(pipeline, inputs, RunOptions(use_cache=False)))

    @staticmethod
    def json_reader(data: bytes) -> None:
        jsonread.loads(data, "the input")

    @staticmethod
    def cli_input(data: bytes) -> None:
        from studio.cli.invoke import parse_input

        parse_input(data.decode("utf-8", "surrogateescape"))


def json_bytes() -> st.SearchStrategy[bytes]:
    """Bytes a person could hand over: JSON of wild values (sometimes broken), and raw bytes."""
    def encode(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return wild.map(encode) | st.binary(max_size=200) | wild.map(encode).map(lambda b: b[: len(b) // 2])
