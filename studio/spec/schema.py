"""The JSON Schema of the pipeline export format, generated from the pydantic models.

`python -m studio.spec.schema` rewrites the committed copy; a test fails when they differ.
"""

from __future__ import annotations

from pathlib import Path

from studio.atomic import dumps_stable, write_text
from studio.spec.pipeline import Pipeline

SCHEMA_PATH = Path(__file__).with_name("pipeline.schema.json")


def pipeline_json_schema() -> dict:
    schema = Pipeline.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://iom.studio/schemas/pipeline-v1.json"
    return schema


def render() -> str:
    return dumps_stable(pipeline_json_schema())


if __name__ == "__main__":
    write_text(SCHEMA_PATH, render())
    print(f"wrote {SCHEMA_PATH}")
