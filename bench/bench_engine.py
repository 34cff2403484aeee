"""Engine overhead and parallel efficiency, with an in-process model caller (no network), so
the figures are the engine's own: scheduling, translation, records, events.

    python bench/bench_engine.py

- overhead: a 200-node graph of instant model nodes (a chain of 20 layers x 10 wide),
  microseconds of engine time per node;
- parallel efficiency: wall time over the critical path for a wide graph (100 parallel nodes
  of 50 ms) and a deep one (a chain of 20 nodes of 20 ms) and a mixed diamond lattice.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.engine import Engine, RunOptions  # noqa: E402
from studio.recording import MemoryRecorder  # noqa: E402
from studio.registry import ModelRegistry  # noqa: E402
from studio.spec import CallResult, ModelSpec, Usage, load_pipeline  # noqa: E402
from studio.spec.calls import CANONICAL_SCHEMAS  # noqa: E402


class Keys:
    def get(self, name):
        return "k"


class SleepCaller:
    def __init__(self, seconds: float):
        self.seconds = seconds

    async def call(self, spec, request, *, on_text=None, context=None):
        if self.seconds:
            await asyncio.sleep(self.seconds)
        return CallResult(model_id=spec.id, output={"text": "ok"}, usage=Usage(input_tokens=1, output_tokens=1, source="provider"))


def build(layers: list[int]):
    nodes = [{"id": "in", "kind": "input"}]
    edges, prev = [], ["in"]
    for depth, width in enumerate(layers):
        cur = [f"n{depth}_{i}" for i in range(width)]
        for nid in cur:
            nodes.append({"id": nid, "kind": "model", "model": "b/m", "prompt": "{{ text or 'x' }}"})
        for i, nid in enumerate(cur):
            src = prev[i % len(prev)]
            edges.append({"id": f"e{len(edges)}", "source": src, "target": nid,
                          "sourcePort": "out" if src == "in" else "text", "targetPort": "in" if src == "in" else "text"})
        prev = cur
    nodes.append({"id": "out", "kind": "output"})
    for i, nid in enumerate(prev):
        edges.append({"id": f"e{len(edges)}", "source": nid, "target": "out", "sourcePort": "text", "targetPort": f"r{i}"})
    return load_pipeline({"format": "iom.pipeline", "version": 1, "id": "bench", "name": "B", "nodes": nodes, "edges": edges})


def engine(home: Path, seconds: float) -> Engine:
    reg = ModelRegistry(home, Keys())
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    reg.save(ModelSpec(id="b/m", name="m", provider="http", api="http", endpoint="http://127.0.0.1:9/",
                       input_schema=llm_in, output_schema=llm_out, default_params={"temperature": 1}))
    return Engine(models=reg, caller=SleepCaller(seconds), recorder=MemoryRecorder(), keys=Keys(), home=home,
                  provider_concurrency=1000)


async def timed(eng: Engine, pipeline) -> float:
    started = time.perf_counter()
    record = await eng.run(pipeline, {"text": "go"}, RunOptions(use_cache=False))
    assert record.status == "succeeded", record.error
    return time.perf_counter() - started


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        instant = engine(home, 0.0)
        graph = build([10] * 20)
        await timed(instant, graph)  # warm-up
        walls = [await timed(instant, graph) for _ in range(7)]
        per_node = statistics.median(walls) / 200 * 1e6
        print(f"overhead: 200 instant model nodes (20 layers x 10), median of 7 runs: "
              f"{statistics.median(walls) * 1000:.1f} ms per run = {per_node:.0f} µs per node")
        for name, layers, latency in (("wide", [100], 0.05), ("deep", [1] * 20, 0.02),
                                      ("lattice", [10] * 10, 0.03)):
            eng = engine(home, latency)
            g = build(layers)
            await timed(eng, g)
            walls = [await timed(eng, g) for _ in range(3)]
            critical = len(layers) * latency
            wall = statistics.median(walls)
            print(f"parallel efficiency, {name} ({sum(layers)} nodes, {len(layers)} layers x {latency * 1000:.0f} ms): "
                  f"wall {wall * 1000:.1f} ms / critical path {critical * 1000:.0f} ms = {wall / critical:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
