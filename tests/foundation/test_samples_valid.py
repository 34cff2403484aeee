"""The schemas in the shipped samples are taken as known valid (a first start seeds them
without importing jsonschema); that is only sound because every schema in them passes the
full check here, and other schemas (samples from IOM_SAMPLES, a user's own) are checked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from pydantic import ValidationError

import studio.spec.base as base
from studio.registry.models import read_json_file
from studio.registry.samples import SHIPPED_SAMPLES, sample_models
from studio.spec.migrations import load_pipeline
from studio.spec.model import ModelSpec


def test_every_shipped_schema_passes_the_full_check(monkeypatch):
    monkeypatch.setattr(base, "_VALID_SCHEMAS", set())  # nothing remembered: each schema is checked
    checked = []
    real_check = base.check_json_schema

    def counted(value):
        checked.append(value)
        return real_check(value)
    monkeypatch.setattr(base, "check_json_schema", counted)
    import studio.spec.model as model_module
    import studio.spec.pipeline as pipeline_module

    monkeypatch.setattr(model_module, "check_json_schema", counted)
    monkeypatch.setattr(pipeline_module, "check_json_schema", counted)
    models = [ModelSpec.model_validate(read_json_file(p)) for p in sorted((SHIPPED_SAMPLES / "models").glob("*.json"))]
    pipelines = [load_pipeline(read_json_file(p)) for p in sorted((SHIPPED_SAMPLES / "pipelines").glob("*.json"))]
    assert len(models) >= 10 and len(pipelines) >= 5
    assert len([c for c in checked if c is not None]) >= 2 * len(models)  # every model's input and output schema


def test_samples_from_elsewhere_are_checked_in_full(tmp_path, monkeypatch):
    elsewhere = tmp_path / "samples"
    shutil.copytree(SHIPPED_SAMPLES, elsewhere)
    first = sorted((elsewhere / "models").glob("*.json"))[0]
    doc = json.loads(first.read_text("utf-8"))
    doc["inputSchema"] = {"type": "object", "properties": {"text": {"type": 5}}}
    first.write_text(json.dumps(doc), "utf-8")
    monkeypatch.setenv("IOM_SAMPLES", str(elsewhere))
    with pytest.raises(ValidationError, match="is not a valid JSON Schema at properties/text/type"):
        sample_models()


def test_reading_the_shipped_samples_does_not_import_jsonschema():
    """What a first start does before its first page: ~70 ms of import and ~25 ms of checks
    it no longer pays."""
    code = ("import sys\nfrom studio.registry.samples import sample_models, sample_pipelines\n"
            "assert sample_models() and sample_pipelines()\nprint('jsonschema' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_later_start_reads_the_data_dirs_copies_without_jsonschema(tmp_path):
    """Each start (and each CLI command) reads every model and pipeline file in the data dir;
    the copies of the samples, and models with the same schemas, need no meta-schema check.
    A schema of the user's own is still checked (and jsonschema imported for it)."""
    from studio.core import Studio

    Studio(tmp_path).close()  # the first start: seeds the samples
    code = ("import sys\nfrom studio.core import Studio\nfrom pathlib import Path\ns = Studio(Path(sys.argv[1]))\n"
            "assert s.models.all() and s.pipelines.all()\nprint('jsonschema' in sys.modules)")
    later = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert later.returncode == 0, later.stderr
    assert later.stdout.strip() == "False"

    own = json.loads(next((tmp_path / "models").rglob("*.json")).read_text("utf-8"))
    own.update(id="mine/custom", inputSchema={"type": "object", "properties": {"text": {"type": 5}}})
    (tmp_path / "models" / "mine").mkdir()
    (tmp_path / "models" / "mine" / "custom.json").write_text(json.dumps(own), "utf-8")
    code = ("import sys\nfrom studio.core import Studio\nfrom pathlib import Path\ns = Studio(Path(sys.argv[1]))\n"
            "print([str(c) for c in s.models.problems()])")
    checked = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "custom.json" in checked.stdout and "not a valid JSON Schema at properties/text/type" in checked.stdout
