"""How the model registry reads its folder: a file whose id is not its place is a problem named
in one sentence, not a model (nor, in the pipelines folder, a pipeline); a schema checked once is not checked again by the next process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import studio.spec.base as base
from studio.core import Studio
from studio.errors import CorruptFile
from studio.spec import ModelSpec


@pytest.fixture
def studio(iom_home, memory_keyring):
    return Studio(iom_home, seed_samples=False)


def _model(ident: str, **extra) -> ModelSpec:
    return ModelSpec(id=ident, name=ident, provider="local", api="local", model="echo", **extra)


@pytest.mark.parametrize("other", ["t/other-id", "t/b"])
def test_a_file_whose_id_is_not_its_place_is_a_problem_not_a_model(studio, iom_home, other):
    """t/a.json saying "id": "t/other-id" was listed as t/other-id, which show/invoke/remove called
    unknown; saying "t/b" (another model's id) listed t/b twice. Neither was reported."""
    studio.models.save(_model("t/a"))
    studio.models.save(_model("t/b"))
    path = iom_home / "models" / "t" / "a.json"
    doc = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**doc, "id": other}), "utf-8")
    assert sorted(s.id for s in studio.models.all()) == ["t/b"]
    [problem] = studio.models.problems()
    sentence = str(problem)
    assert sentence.startswith(str(path)) and f"'{other}'" in sentence and "'t/a'" in sentence
    assert 'set "id" to \'t/a\'' in sentence and sentence.endswith("fix or delete that file.")
    with pytest.raises(CorruptFile):
        studio.models.get("t/a")
    assert studio.models.find("t/other-id") is None and studio.models.get("t/b").id == "t/b"
    path.write_text(json.dumps(doc), "utf-8")  # fixed: a model again
    assert sorted(s.id for s in studio.models.all()) == ["t/a", "t/b"] and studio.models.problems() == []


def _pipeline(ident: str):
    from studio.spec.migrations import load_pipeline

    return load_pipeline({"format": "iom.pipeline", "version": 1, "id": ident, "name": ident,
                          "nodes": [{"id": "in", "kind": "input"}], "edges": []})


@pytest.mark.parametrize("other", ["other-id", "b"])
def test_a_pipeline_file_whose_id_is_not_its_place_is_a_problem_not_a_pipeline(studio, iom_home, other):
    """pipelines/a.json saying "id": "other-id" was listed as other-id, which show/run/delete called
    unknown; saying "b" (another pipeline's id) listed b twice. Neither was reported."""
    studio.pipelines.save(_pipeline("a"))
    studio.pipelines.save(_pipeline("b"))
    path = iom_home / "pipelines" / "a.json"
    doc = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**doc, "id": other}), "utf-8")
    assert [p.id for p in studio.pipelines.all()] == ["b"]
    [problem] = studio.pipelines.problems()
    sentence = str(problem)
    assert sentence.startswith(str(path)) and f"'{other}'" in sentence and "'a'" in sentence
    assert 'set "id" to \'a\'' in sentence and f"pipelines/{other}.json" in sentence
    assert sentence.endswith("fix or delete that file.")
    with pytest.raises(CorruptFile):
        studio.pipelines.get("a")
    assert studio.pipelines.get("b").id == "b"
    path.write_text(json.dumps(doc), "utf-8")  # fixed: a pipeline again
    assert [p.id for p in studio.pipelines.all()] == ["a", "b"] and studio.pipelines.problems() == []


def test_a_schema_checked_once_is_not_checked_again_in_the_next_process(iom_home, memory_keyring, monkeypatch):
    """A 2 MB schema's meta-schema check (~5 s) was paid by every command that read the registry:
    each is a new process, and the memo of checked schemas lived in memory only."""
    monkeypatch.setattr(base, "_VALID_SCHEMAS", set())
    monkeypatch.setattr(base, "_CHECKED_FILE", [], raising=False)
    checked = []
    real = base._check_refs
    monkeypatch.setattr(base, "_check_refs", lambda value, validator: (checked.append(value), real(value, validator)))
    big = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(300)}}
    Studio(iom_home, seed_samples=False).models.save(_model("t/big", input_schema=big))
    assert big in checked  # checked when saved
    checked.clear()
    monkeypatch.setattr(base, "_VALID_SCHEMAS", set())  # what a new process remembers in memory: nothing
    assert Studio(iom_home, seed_samples=False).models.get("t/big").input_schema == big
    assert big not in checked
    # an edited file's schema is another one: checked, and a broken one is still refused
    path = iom_home / "models" / "t" / "big.json"
    doc = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**doc, "inputSchema": {"type": "object", "properties": {"p0": {"type": 5}}}}), "utf-8")
    monkeypatch.setattr(base, "_VALID_SCHEMAS", set())
    models = Studio(iom_home, seed_samples=False).models
    assert models.all() == [] and "not a valid JSON Schema" in str(models.problems()[0])


def test_list_and_show_give_the_latency_routing_uses(iom_home, memory_keyring):
    """`iom models list --max-latency` filtered by the declared figure (and neither list nor show
    gave the measured one), while capability routing limits by the measured p50."""
    from tests.ui.test_registry_page import record_latencies

    studio = Studio(iom_home, seed_samples=False)
    studio.models.save(_model("t/slow-declared", latency_ms=2000))
    studio.models.save(_model("t/fast-declared", latency_ms=300))
    studio.models.save(_model("t/declared-only", latency_ms=400))
    record_latencies(studio.analytics, {"t/slow-declared": 150, "t/fast-declared": 900})
    studio.close()
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    def iom(*args):
        r = subprocess.run([sys.executable, "-m", "studio", *args], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout

    listed = {m["id"]: m["latency"] for m in json.loads(iom("models", "list", "--max-latency", "500", "--json"))
              if m["id"].startswith("t/")}  # (the CLI's first start adds the samples)
    assert listed == {"t/slow-declared": {"ms": 150.0, "source": "measured"},
                      "t/declared-only": {"ms": 400.0, "source": "declared"}}
    table = iom("models", "list")
    assert "150 ms (measured p50)" in table and "900 ms (measured p50)" in table and "400 ms (declared)" in table
    shown = json.loads(iom("models", "show", "t/fast-declared", "--json"))
    assert shown["latency"] == {"ms": 900.0, "source": "measured"} and shown["latencyMs"] == 300
