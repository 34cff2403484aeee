"""A scripted stand-in for `studio.engine`, for canvas tests while the real engine (issue 4)
is not merged: it walks the pipeline in dependency order and publishes the events the canvas
reads (node id + status + figures), stamped with perf_counter when emitted. It calls no model.
Replace its use by the real engine once `Studio.engine` exists."""

from __future__ import annotations

import asyncio
import time

from studio.spec.records import NodeRun, RunRecord
from studio.ui.canvas.layout import layers


class StandInEngine:
    def __init__(self, step_s: float = 0.005, problems: list[dict] | None = None, stream: list[str] | None = None,
                 hold: bool = False):
        self.step_s = step_s
        self.problems = problems or []  # what validate() reports, e.g. [{"nodeId": ..., "message": ...}]
        self.stream = stream or []  # text deltas the output node "streams"
        self.hold = hold  # wait forever after the first node (to be cancelled)
        self.handlers: list = []
        self.emitted = 0
        self.runs = 0
        self.cancelled = False

    def validate(self, pipeline) -> list[dict]:
        return list(self.problems)

    def subscribe(self, handler):
        self.handlers.append(handler)
        return lambda: None  # handlers kept, so a test can reach the run panel afterwards

    def _emit(self, event: dict) -> None:
        event["perf_counter"] = time.perf_counter()
        self.emitted += 1
        for h in self.handlers:
            h(event)

    async def run(self, pipeline, inputs, *, options=None) -> RunRecord:
        order = sorted(pipeline.nodes, key=lambda n: layers(pipeline)[n.id])
        if isinstance(options, dict) and options.get("dry_run"):
            depth = layers(pipeline)
            return {"layers": [[n.id for n in order if depth[n.id] == d] for d in sorted(set(depth.values()))],
                    "estimatedCostUsd": 0.0012}
        for n in order:
            self._emit({"type": "node", "nodeId": n.id, "status": "pending"})
        self.runs += 1
        record = RunRecord(id="r1", pipeline_id=pipeline.id, inputs=inputs, status="succeeded")
        for n in order:
            if self.hold and n is not order[0]:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.cancelled = True
                    raise
            if n.kind == "output":
                for delta in self.stream:
                    self._emit({"type": "text", "nodeId": n.id, "text": delta})
            self._emit({"type": "node", "nodeId": n.id, "status": "running"})
            await asyncio.sleep(self.step_s)
            self._emit({"type": "node", "nodeId": n.id, "status": "succeeded", "latencyMs": self.step_s * 1000, "costUsd": 0.0})
            record.nodes[n.id] = NodeRun(node_id=n.id, status="succeeded", inputs=inputs, output={"text": n.id},
                                         latency_ms=self.step_s * 1000, cost_usd=0.0)
        record.cost_usd = 0.0
        return record
