"""The shipped samples: seeded into an empty IOM_HOME on first start; reset restores them."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from studio.atomic import write_text
from studio.errors import UserError
from studio.registry.models import ModelRegistry, read_json_file
from studio.registry.pipelines import PipelineRegistry
from studio.spec.base import remember_valid_schema
from studio.spec.migrations import load_pipeline
from studio.spec.model import ModelSpec


SHIPPED_SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def samples_dir() -> Path:
    env = os.environ.get("IOM_SAMPLES")
    return Path(env) if env else SHIPPED_SAMPLES


def sample_models() -> list[ModelSpec]:
    remember_shipped_schemas()
    return [ModelSpec.model_validate(read_json_file(p)) for p in sorted((samples_dir() / "models").glob("*.json"))]


def sample_pipelines():
    remember_shipped_schemas()
    return [load_pipeline(read_json_file(p)) for p in sorted((samples_dir() / "pipelines").glob("*.json"))]


@functools.cache  # once per process
def remember_shipped_schemas() -> None:
    """Mark the schemas in the studio's own sample files as valid (~1 ms to read them; a test
    checks each in full): seeding them, the data dir's copies of them, and any model using the
    same schemas (the canonical chat pair, mostly) are then read at each start, and by each CLI
    command, without importing jsonschema and checking them (~100 ms). Samples from elsewhere
    (IOM_SAMPLES) with other schemas are checked as any file is. Best effort: a sample that
    cannot be read only leaves its schemas to be checked."""
    for path in sorted(SHIPPED_SAMPLES.glob("*/*.json")):
        try:
            doc = read_json_file(path)
        except UserError:
            continue
        if not isinstance(doc, dict):
            continue
        nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
        for holder in (doc, *(n for n in nodes if isinstance(n, dict))):
            for field in ("inputSchema", "outputSchema"):
                if isinstance(holder.get(field), dict):
                    remember_valid_schema(holder[field])


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
        for unreadable in models.problems() + pipelines.problems():  # what a broken registry holds most
            Path(unreadable.path).unlink(missing_ok=True)
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
