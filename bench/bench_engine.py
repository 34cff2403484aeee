"""Engine overhead and parallel efficiency, with an in-process model caller (no network), so
the figures are the engine's own: scheduling, translation, records, events.

    python bench/bench_engine.py [--rounds 3] [--json]

- overhead: a 200-node graph of instant model nodes (a chain of 20 layers x 10 wide),
  microseconds of engine time per node;
- run overhead: a one-node pipeline (input -> model -> output) with the gateway's options
  (no cache, outputs not kept for a partial re-run), microseconds per run beyond the model
  call: the fixed cost of a run (set-up, validation, registry read, records, events);
- parallel efficiency: wall time over the critical path for a wide graph (100 parallel nodes
  of 50 ms) and a deep one (a chain of 20 nodes of 20 ms) and a mixed diamond lattice. Beside
  each, `floor` is the same sleeps with bare asyncio (gather / await in turn), measured in the
  same round: what the event loop and the OS timer cost before the engine does anything, and
  `minimal`, the least a model node does in any engine (a task, its prompt rendered in the
  sandbox, a request object, the answer's result object) over the same sleeps and shapes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.engine import Engine, RunOptions  # noqa: E402
from studio.engine.templates import render  # noqa: E402
from studio.heap import freeze_long_lived  # noqa: E402
from studio.recording import MemoryRecorder  # noqa: E402
from studio.registry import ModelRegistry  # noqa: E402
from studio.spec import CallRequest, CallResult, ModelSpec, Usage, load_pipeline  # noqa: E402
from studio.spec.calls import CANONICAL_SCHEMAS  # noqa: E402


class Keys:
    def get(self, name):
        return "k"

    def names(self):
        return []


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


async def timed(eng: Engine, pipeline, **options) -> float:
    started = time.perf_counter()
    record = await eng.run(pipeline, {"text": "go"}, RunOptions(use_cache=False, **options))
    assert record.status == "succeeded", record.error
    return time.perf_counter() - started


TOPOLOGIES = (("wide", [100], 0.05), ("deep", [1] * 20, 0.02), ("lattice", [10] * 10, 0.03))


async def bare(layers: list[int], latency: float) -> float:
    """The same sleeps without the engine: each layer's nodes gathered, layers in turn."""
    started = time.perf_counter()
    for width in layers:
        await asyncio.gather(*(asyncio.sleep(latency) for _ in range(width)))
    return time.perf_counter() - started


async def minimal_node(i: int, latency: float) -> CallResult:
    """What any engine does for a model node: its prompt rendered (in the sandbox), the request
    and the answer as objects, around the model's time."""
    prompt = render("{{ text or 'x' }}", {"text": "go"}, where=f"node n{i}")
    CallRequest(model_id="b/m", input={"prompt": prompt}, params={}, stream=False, timeout_s=60.0)
    await asyncio.sleep(latency)
    return CallResult(model_id="b/m", output={"text": "ok"}, usage=Usage(input_tokens=1, output_tokens=1, source="provider"))


async def minimal(layers: list[int], latency: float) -> float:
    """The graphs `build` makes, as chains of minimal nodes side by side: one chain per node of
    the widest layer, each as long as the graph is deep (every node has one predecessor)."""
    async def chain(column: int) -> None:
        for depth, width in enumerate(layers):
            if column < width:
                await minimal_node(depth * 1000 + column, latency)
    started = time.perf_counter()
    await asyncio.gather(*(chain(c) for c in range(max(layers))))
    return time.perf_counter() - started


async def efficiencies(home: Path) -> dict:
    """Wall / critical path of each topology: the engine, bare asyncio, minimal nodes."""
    figures: dict = {"efficiency": {}, "floor": {}, "minimal": {}}
    for name, layers, latency in TOPOLOGIES:
        eng = engine(home, latency)
        g = build(layers)
        await timed(eng, g)
        critical = len(layers) * latency
        figures["efficiency"][name] = statistics.median([await timed(eng, g) for _ in range(3)]) / critical
        figures["floor"][name] = statistics.median([await bare(layers, latency) for _ in range(3)]) / critical
        figures["minimal"][name] = statistics.median([await minimal(layers, latency) for _ in range(3)]) / critical
    return figures


async def one_round(home: Path) -> dict:
    instant = engine(home, 0.0)
    graph = build([10] * 20)
    await timed(instant, graph)  # warm-up
    walls = [await timed(instant, graph) for _ in range(7)]
    one = build([1])
    await timed(instant, one, keep_outputs=False)
    runs = [await timed(instant, one, keep_outputs=False) for _ in range(200)]
    return {"overhead_us_per_node": statistics.median(walls) / 200 * 1e6,
            "run_overhead_us": statistics.median(runs) * 1e6,
            **await efficiencies(home)}


def medians(runs: list[dict], rounds: int) -> dict:
    """Each figure's median over the rounds, printed a line per topology."""
    out: dict = {"efficiency": {}, "floor": {}, "minimal": {}}
    for name, layers, latency in TOPOLOGIES:
        for figure in out:
            out[figure][name] = round(statistics.median(r[figure][name] for r in runs), 4)
        print(f"parallel efficiency, {name} ({sum(layers)} nodes, {len(layers)} layers x {latency * 1000:.0f} ms): "
              f"wall / critical path = {out['efficiency'][name]:.3f}; bare asyncio {out['floor'][name]:.3f}, "
              f"minimal nodes {out['minimal'][name]:.3f} (medians of {rounds})")
    return out


async def main(rounds: int, as_json: bool) -> None:
    # The engine runs in processes that take what their imports made out of the collector's
    # view once started (the server, `iom batch run`, `iom eval run`: studio/heap.py); without
    # it here, one full collection over those ~70,000 objects (50-90 ms) landed in a round
    # now and then and was measured as the engine's.
    freeze_long_lived()
    with tempfile.TemporaryDirectory() as d:
        runs = [await one_round(Path(d)) for _ in range(rounds)]
    overhead = statistics.median(r["overhead_us_per_node"] for r in runs)
    print(f"overhead: 200 instant model nodes (20 layers x 10), median of {rounds} rounds of 7 runs: "
          f"{overhead:.0f} µs per node (rounds: {', '.join(str(round(r['overhead_us_per_node'])) for r in runs)})")
    run_overhead = statistics.median(r["run_overhead_us"] for r in runs)
    print(f"run overhead: one-node pipeline, instant model, median of {rounds} rounds of 200 runs: "
          f"{run_overhead:.0f} µs per run (rounds: {', '.join(str(round(r['run_overhead_us'])) for r in runs)})")
    figures = medians(runs, rounds)
    if as_json:
        print(json.dumps({"overhead_us_per_node": round(overhead, 1), "run_overhead_us": round(run_overhead, 1),
                          **figures, "rounds": rounds}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print one JSON object with the figures")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.json))
