"""How the model registry reads its folder: a file whose id is not its place is a problem named
in one sentence, not a model; a schema checked once is not checked again by the next process."""

from __future__ import annotations

import json

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
