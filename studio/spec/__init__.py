"""The data model shared by every layer: models, pipelines, calls and records."""

from studio.spec.base import slugify
from studio.spec.calls import CANONICAL_SCHEMAS, CallRequest, CallResult, Cost, Usage
from studio.spec.migrations import describe_validation_error, load_pipeline
from studio.spec.model import FaultInjection, HealthStatus, HttpCall, ModelSpec, Prices
from studio.spec.pipeline import CapabilityChoice, Edge, Node, NodePolicy, Pipeline, Route
from studio.spec.records import CallRecord, NodeRun, RunRecord

__all__ = [
    "CANONICAL_SCHEMAS", "CallRecord", "CallRequest", "CallResult", "CapabilityChoice", "Cost",
    "Edge", "FaultInjection", "HealthStatus", "HttpCall", "ModelSpec", "Node", "NodePolicy",
    "NodeRun", "Pipeline", "Prices", "Route", "RunRecord", "Usage", "describe_validation_error",
    "load_pipeline", "slugify",
]
