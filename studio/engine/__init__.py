"""The pipeline engine: validation, the DAG executor, routing, resilience, cache, events.

No NiceGUI here: the UI, the CLI and the gateway all run pipelines through `Engine.run`.
"""

from studio.engine.executor import Engine, ModelCaller, PipelineInvalid, RunOptions
from studio.engine.validate import Problem, validate_pipeline

__all__ = ["Engine", "ModelCaller", "PipelineInvalid", "Problem", "RunOptions", "validate_pipeline"]
