"""The shipped samples: seeded into an empty IOM_HOME on first start; reset restores them."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.atomic import write_text
from studio.errors import NotFound, UserError
from studio.registry.models import ModelRegistry, read_json_file
from studio.registry.pipelines import PipelineRegistry, export_pipeline
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
    # what the write replaced or a purge removed, each kept as a backup first ("model ID", "pipeline ID")
    overwritten: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def note(self) -> str:
        """What was overwritten or removed and how to bring it back; "" when nothing was."""
        parts = []
        if self.overwritten:
            parts.append(f"overwritten, as you had changed {'it' if len(self.overwritten) == 1 else 'them'}: "
                         f"{', '.join(self.overwritten)}")
        if self.removed:
            parts.append(f"removed: {len(self.removed)} "
                         f"entr{'y' if len(self.removed) == 1 else 'ies'} ({', '.join(self.removed[:5])}"
                         f"{', …' if len(self.removed) > 5 else ''})")
        if not parts:
            return ""
        return ("; ".join(parts) + ". Each was kept as a backup: 'iom models backups ID' (or pipelines) lists them, "
                "'iom models restore ID' (or pipelines) brings one back.")


def _edited(saved, sample, dump) -> bool:
    """Whether the saved entry differs from the sample it would be overwritten with (its
    created/updated times aside): a reset then keeps the saved one as a backup."""
    strip = lambda d: {k: v for k, v in d.items() if k not in ("created", "updated")}  # noqa: E731
    return strip(dump(saved)) != strip(dump(sample))


def seed(home: Path, models: ModelRegistry, pipelines: PipelineRegistry, *, purge: bool = False,
         durable: bool = True) -> SeedReport:
    """Write every sample (overwriting entries with a sample's id). With purge, first remove
    everything else, so the registry is exactly the samples. Nothing is lost: an entry the
    write overwrites (a sample the user changed) or the purge removes is kept as a backup
    first, and the report names it. `durable=False`: see `seed_if_first_start`."""
    specs = sample_models()
    flows = sample_pipelines()
    report = SeedReport(len(specs), len(flows))
    sample_model_ids = {s.id for s in specs}
    sample_pipeline_ids = {p.id for p in flows}
    if purge:
        for spec in models.all():  # (a sample is overwritten below, kept first if it was changed)
            if spec.id not in sample_model_ids:
                models.keep_backup(spec.id)
                models.delete(spec.id)
                report.removed.append(f"model {spec.id}")
        for p in pipelines.all():
            if p.id not in sample_pipeline_ids:
                pipelines.keep_backup(p.id)
                pipelines.delete(p.id)
                report.removed.append(f"pipeline {p.id}")
        for registry, kind in ((models, "model"), (pipelines, "pipeline")):
            for unreadable in registry.problems():  # what a broken registry holds most
                path = Path(unreadable.path)
                ident = path.relative_to(home / f"{kind}s").with_suffix("").as_posix()
                if path.is_file():
                    registry.backups.keep(ident, path)
                    report.removed.append(f"{kind} {ident} (unreadable)")
                path.unlink(missing_ok=True)
    for spec in specs:
        try:
            saved = models.get(spec.id)
            edited = _edited(saved, spec, lambda m: m.to_json_dict())
        except NotFound:
            edited = False
        except UserError:  # an unreadable file of a sample's id: kept as it is before it is overwritten
            edited = True
        models.save(spec, durable=durable, keep_replaced=edited, sample=True)
        if edited:
            report.overwritten.append(f"model {spec.id}")
    for p in flows:
        try:
            edited = pipelines.exists(p.id) and _edited(pipelines.get(p.id), p, export_pipeline)
        except UserError:  # an unreadable file of a sample's id: kept as it is before it is overwritten
            edited = True
        pipelines.save(p, durable=durable, keep_replaced=edited)
        if edited:
            report.overwritten.append(f"pipeline {p.id}")
    write_text(home / ".seeded", "samples written; delete this file to seed again on next start\n")
    return report


def seed_if_first_start(home: Path, models: ModelRegistry, pipelines: PipelineRegistry) -> SeedReport | None:
    """The first start writes the samples without an fsync per file (two per file were half of
    the studio's start before its first page: ~60 of ~120 ms). They are copies of files the
    studio ships, into an empty folder: a power cut in the next seconds can lose only those
    copies, and Settings > "Reset to samples" writes them again. The `.seeded` marker, written
    last, is fsynced: a sample the user edited is never seeded over."""
    if (home / ".seeded").exists():
        return None
    return seed(home, models, pipelines, durable=False)
