"""IoM Studio: one registry, one way to call, pipelines, and a record of every call."""

__version__ = "0.1.0"
