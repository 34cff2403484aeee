"""Registry: models and pipelines on disk, search, import/export, health, samples."""

from studio.registry.models import ImportReport, ModelRegistry, parse_json_text, read_json_file
from studio.registry.pipelines import PipelineRegistry, export_pipeline
from studio.registry.search import ModelQuery, price_per_mtok

__all__ = [
    "ImportReport", "ModelQuery", "ModelRegistry", "PipelineRegistry", "export_pipeline",
    "parse_json_text", "price_per_mtok", "read_json_file",
]
