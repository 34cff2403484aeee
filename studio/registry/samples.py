"""The shipped samples: seeded into an empty IOM_HOME on first start; reset restores them."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from studio.atomic import write_text
from studio.errors import UserError
from studio.registry.models import ModelRegistry, read_json_file
from studio.registry.pipelines import PipelineRegistry
from studio.spec.base import SHIPPED
from studio.spec.migrations import load_pipeline
from studio.spec.model import ModelSpec


SHIPPED_SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def samples_dir() -> Path:
    env = os.environ.get("IOM_SAMPLES")
    return Path(env) if env else SHIPPED_SAMPLES


def _context() -> dict | None:
    """The studio's own samples are validated as shipped (their schemas known valid: a test
    checks them); samples from elsewhere (IOM_SAMPLES) are checked in full."""
    return SHIPPED if samples_dir() == SHIPPED_SAMPLES else None


def sample_models() -> list[ModelSpec]:
    return _models(samples_dir(), _context())


def sample_pipelines():
    return _pipelines(samples_dir(), _context())


def _models(folder: Path, context: dict | None) -> list[ModelSpec]:
    return [ModelSpec.model_validate(read_json_file(p), context=context) for p in sorted((folder / "models").glob("*.json"))]


def _pipelines(folder: Path, context: dict | None):
    return [load_pipeline(read_json_file(p), context=context) for p in sorted((folder / "pipelines").glob("*.json"))]


@functools.cache  # once per process
def remember_shipped_schemas() -> None:
    """Read the studio's own samples as shipped (~3 ms), so their schemas are known valid in
    this process: the data dir's copies of them, and any model using the same schemas (the
    canonical chat pair, mostly), are then read at each start, and by each CLI command,
    without importing jsonschema and checking them (~100 ms). Best effort: a samples folder
    that cannot be read only leaves the checks to be made."""
    try:
        _models(SHIPPED_SAMPLES, SHIPPED)
        _pipelines(SHIPPED_SAMPLES, SHIPPED)
    except (OSError, UserError, ValidationError):
        pass


@dataclass
class SeedReport:
    models: int
    pipelines: int


def seed(home: Path, models: ModelRegistry, pipelines: PipelineRegistry, *, purge: bool = False,
         durable: bool = True) -> SeedReport:
    """Write every sample (overwriting entries with a sample's id). With purge, first remove
    everything else, so the registry is exactly the samples. `durable=False`: see
    `seed_if_first_start`."""
    specs = sample_models()
    flows = sample_pipelines()
    if purge:
        for spec in models.all():
            models.delete(spec.id)
        for p in pipelines.all():
            pipelines.delete(p.id)
    for spec in specs:
        models.save(spec, durable=durable)
    for p in flows:
        pipelines.save(p, durable=durable)
    write_text(home / ".seeded", "samples written; delete this file to seed again on next start\n")
    return SeedReport(len(specs), len(flows))


def seed_if_first_start(home: Path, models: ModelRegistry, pipelines: PipelineRegistry) -> SeedReport | None:
    """The first start writes the samples without an fsync per file (two per file were half of
    the studio's start before its first page: ~60 of ~120 ms). They are copies of files the
    studio ships, into an empty folder: a power cut in the next seconds can lose only those
    copies, and Settings > "Reset to samples" writes them again. The `.seeded` marker, written
    last, is fsynced: a sample the user edited is never seeded over."""
    if (home / ".seeded").exists():
        return None
    return seed(home, models, pipelines, durable=False)
