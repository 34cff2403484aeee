"""Saved pipelines: one file each under IOM_HOME/pipelines/, always the current version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import CorruptFile, NotFound, UserError
from studio.registry.files import JsonFolder
from studio.registry.guard import refuse_secrets
from studio.registry.models import read_json_file
from studio.spec.migrations import load_pipeline
from studio.spec.pipeline import Pipeline


class PipelineRegistry:
    def __init__(self, home: Path):
        self._folder: JsonFolder[Pipeline] = JsonFolder(home / "pipelines", load_pipeline)

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

    def save(self, pipeline: Pipeline) -> Pipeline:
        doc = export_pipeline(pipeline)
        self._folder.write(pipeline.id, doc)
        return pipeline

    def delete(self, pipeline_id: str) -> None:
        if not self._folder.delete(pipeline_id):
            raise NotFound(f"there is no pipeline {pipeline_id!r} to delete.")

    def import_doc(self, doc: Any) -> list[Pipeline]:
        docs = doc if isinstance(doc, list) else [doc]
        pipelines = [load_pipeline(d) for d in docs]  # all checked before any is saved
        for p in pipelines:
            self.save(p)
        return pipelines

    def import_file(self, path: Path) -> list[Pipeline]:
        try:
            return self.import_doc(read_json_file(path))
        except UserError as e:
            if str(e).startswith(str(path)):
                raise
            raise UserError(f"{path}: {e}") from None


def export_pipeline(pipeline: Pipeline) -> dict:
    """The export form: the JSON the runner and the gateway read. Never holds a secret."""
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    refuse_secrets(doc, f"pipeline {pipeline.id}")
    return doc
