"""Saved pipelines: one file each under IOM_HOME/pipelines/, always the current version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import CorruptFile, NotFound, UserError
from studio.registry.backups import Backups, ImportConflict, refuse_repeats
from studio.registry.files import ANY_VERSION, JsonFolder
from studio.registry.guard import refuse_secrets
from studio.registry.models import _renamed, read_json_file
from studio.spec.migrations import load_pipeline
from studio.spec.pipeline import Pipeline


class PipelineRegistry:
    def __init__(self, home: Path):
        self._folder: JsonFolder[Pipeline] = JsonFolder(home / "pipelines", load_pipeline, "pipeline",
                                                         own_id=lambda p: p.id)
        self.backups = Backups(home / "backups" / "pipelines", "pipeline")

    def all(self) -> list[Pipeline]:
        items, _ = self._folder.scan()
        return sorted(items.values(), key=lambda p: p.id)

    def problems(self) -> list[CorruptFile]:
        return self._folder.scan()[1]

    def get(self, pipeline_id: str) -> Pipeline:
        try:
            p = self._folder.get(pipeline_id)
        except ValueError:
            p = None
        if p is None:
            raise NotFound(f"there is no pipeline {pipeline_id!r}; 'iom pipelines list' shows the ids.")
        return p

    def exists(self, pipeline_id: str) -> bool:
        return self._folder.path_for(pipeline_id).exists()

    def version(self, pipeline_id: str) -> str | None:
        """The saved file's version (None: not saved): what a page hands back to `save`."""
        return self._folder.version(pipeline_id)

    def save(self, pipeline: Pipeline, *, durable: bool = True, expected: object = ANY_VERSION,
             keep_replaced: bool = False) -> str:
        """Save; the file's new version. `expected`: the version the caller read (None: none),
        refused with ChangedElsewhere if the file is no longer that, so a page never silently
        undoes what the CLI or another tab wrote. `keep_replaced` backs up what is overwritten.
        `durable=False` skips the fsyncs (atomic.write_bytes): for the shipped samples only."""
        doc = export_pipeline(pipeline)
        before = (lambda path: self.backups.keep(pipeline.id, path)) if keep_replaced else None
        return self._folder.write(pipeline.id, doc, durable=durable, expected=expected, before=before)

    def keep_backup(self, pipeline_id: str) -> Path | None:
        """Copy the saved file aside (a reset is about to overwrite or remove it)."""
        return self.backups.keep(pipeline_id, self._folder.path_for(pipeline_id))

    def delete(self, pipeline_id: str) -> None:
        if not self._folder.delete(pipeline_id):
            raise NotFound(f"there is no pipeline {pipeline_id!r} to delete.")

    def import_doc(self, doc: Any, *, replace: bool = False, rename: str | None = None) -> list[Pipeline]:
        """Save the pipelines in `doc`. All are checked first; one whose id exists is refused
        (nothing saved) unless `replace`, which keeps the old version as a backup. `rename`
        imports a single pipeline under another id."""
        docs = doc if isinstance(doc, list) else [doc]
        if not docs:
            raise UserError("the file holds an empty list, no pipeline; nothing was imported.")
        pipelines = [_load_entry(d, i, len(docs)) if isinstance(doc, list) else load_pipeline(d)
                     for i, d in enumerate(docs)]  # all checked before any is saved
        if rename is not None:
            if len(pipelines) != 1:
                raise UserError(f"--rename takes one pipeline; the file holds {len(pipelines)}. Nothing was imported.")
            pipelines = [_renamed(pipelines[0], rename, "pipeline")]
        refuse_repeats("pipeline", [p.id for p in pipelines], "the file")
        if not replace:
            ImportConflict.check("pipeline", [p.id for p in pipelines], self.exists, renamed=rename is not None)
        self.replaced: list[str] = []
        for p in pipelines:
            def keep(path: Path, ident: str = p.id) -> None:  # under the folder's lock: what is replaced now
                kept = self.backups.keep(ident, path)
                if kept is not None:
                    self.replaced.append(str(kept))
            self._folder.write(p.id, export_pipeline(p), before=keep,
                               expected=ANY_VERSION if replace else None)
        return pipelines

    def backups_of(self, pipeline_id: str) -> list[Path]:
        return self.backups.list(pipeline_id)

    def restore(self, pipeline_id: str, backup: str | None = None) -> tuple[Pipeline, Path]:
        """Put a backup back; the version it replaces is itself kept as a backup first."""
        path = self.backups.pick(pipeline_id, backup)
        pipeline = load_pipeline(read_json_file(path))
        self.save(pipeline, keep_replaced=True)
        return pipeline, path

    def import_file(self, path: Path, *, replace: bool = False, rename: str | None = None) -> list[Pipeline]:
        try:
            return self.import_doc(read_json_file(path), replace=replace, rename=rename)
        except UserError as e:
            if str(e).startswith(str(path)):
                raise
            raise UserError(f"{path}: {e}") from None


def _load_entry(doc: Any, index: int, count: int) -> Pipeline:
    """One pipeline of a list; a fault names which (index, id, name) and that none was imported."""
    try:
        return load_pipeline(doc)
    except UserError as e:
        said = [f"index {index}, the {_ordinal(index + 1)} of {count}"]
        for field in ("id", "name"):
            value = doc.get(field) if isinstance(doc, dict) else None
            if isinstance(value, str) and value.strip():
                said.append(f"{field} {value if len(value) <= 60 else value[:57] + '...'!r}")
        reason = str(e).rstrip(".").replace("this file holds", "it is")
        raise UserError(f"the list's pipeline at {', '.join(said)}: {reason}. None of the file's {count} "
                        "pipelines was imported (a file is imported whole or not at all): fix that one, "
                        "or take it out of the list.") from None


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def export_pipeline(pipeline: Pipeline, *, undone: str = "Nothing was saved.") -> dict:
    """The export form: the JSON the runner and the gateway read. Never holds a secret: one
    the redaction would mask is refused in a sentence ending with `undone`."""
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    refuse_secrets(doc, f"pipeline {pipeline.id}", undone=undone)
    return doc
