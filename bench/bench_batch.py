"""Batch-run throughput and memory, through the real Studio (engine, hub, analytics writer).

    python bench/bench_batch.py [--rows 10000] [--json] [--skip-ray]

- offline: ROWS rows of a one-model offline pipeline (input -> local/sentiment-vader -> output),
  distinct texts so no cache hit, with the local executor and with the Ray executor (a local
  Ray of 2 CPUs, start-up included in its figure); rows/s each, and peak RSS after 1k rows,
  at the last row, and after the studio has closed (its database's last checkpoint is a peak
  of its own) to show whether memory stays flat, with beside them the memory
  DuckDB's buffer manager holds for the analytics database (`duckdb_memory()`): the rows the
  batch records are that database's data, which it caches up to its memory limit. The local
  executor runs the built-in model in worker processes (studio/providers/local/processes.py;
  their peak RSS summed beside the batch's), and again with IOM_LOCAL_WORKERS=0, the model in
  threads of the batch's process, for the ratio;
- upstream: a loopback OpenAI-style server answering after 200 ms, 2,000 rows at
  --concurrency 64, whose ceiling is 64 / 0.2 s = 320 rows/s; rows/s and % of the ceiling,
  with the model as the batch's target (`upstream`) and inside a one-node pipeline, whose
  calls go through the engine (`upstreamPipeline`).
Each run uses its own temporary IOM_HOME. A peak RSS is this process's since its batch started
(VmHWM, reset before each batch): what earlier batches left held counts, their peaks do not.

    python bench/bench_batch.py --memory-curve 100000 [--json]

prints instead the peak RSS of one offline batch at 1k, 3k, 10k, 30k… rows, with its records
kept and, in a process of its own, dropped (no analytics writer): where the memory grows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fake_upstream import FakeUpstream  # noqa: E402

WORDS = ["great", "awful", "fine", "slow", "lovely", "broken", "cheap", "solid", "noisy", "perfect", "late", "fresh"]


def hwm_kb(pid: int | str = "self") -> int | None:
    """A process's peak RSS in KiB (VmHWM), None where /proc does not say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None


def peak_rss_mb() -> float:
    """This process's peak RSS since the last `reset_peak()` (VmHWM). ru_maxrss cannot be reset:
    each batch after the first reported the peak of the ones before it too."""
    kb = hwm_kb()
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def reset_peak() -> None:
    """Start the peak RSS again from what the process holds now (Linux: clear_refs 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def write_data(path: Path, rows: int, column: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([column])
        for i in range(rows):
            w.writerow([f"Review {i}: the product was {WORDS[i % 12]} and the delivery {WORDS[(i * 7) % 12]}."])


def offline_pipeline():
    from studio.spec import load_pipeline

    return load_pipeline({"format": "iom.pipeline", "version": 1, "id": "bench-sentiment", "name": "Bench sentiment",
                          "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
                                    {"id": "s", "kind": "model", "model": "local/sentiment-vader"},
                                    {"id": "out", "kind": "output"}],
                          "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "s", "targetPort": "text"},
                                    {"id": "e2", "source": "s", "sourcePort": "out", "target": "out", "targetPort": "in"}]})


async def timed_batch(studio, target: str, data: Path, *, concurrency: int, executor: str, marks=None) -> tuple[float, dict]:
    from studio.eval.batch import plan_batch, run_batch
    from studio.heap import freeze_long_lived

    plan = plan_batch(studio, target, str(data), concurrency=concurrency, executor=executor)
    freeze_long_lived()  # as `iom batch run` does once its batch is planned (studio/cli/common.py)

    def progress(done, total):
        if marks is None:
            return
        if done >= 1000 and "rss_1k_mb" not in marks:
            marks["rss_1k_mb"] = peak_rss_mb()
            marks["db_1k_mb"] = database_memory_mb(studio)
            marks["workers_1k_mb"] = workers_peak_rss_mb()
        if done == total:  # the workers end with the batch: read them at its last row
            marks["workers_mb"] = workers_peak_rss_mb()
            marks["rss_last_row_mb"] = peak_rss_mb()  # before the close's checkpoint, which rssEndMb includes
    t0 = time.perf_counter()
    agg = await run_batch(studio, plan, progress=progress)
    return time.perf_counter() - t0, agg


@contextlib.contextmanager
def offline_studio(rows: int):
    """A Studio in a temporary IOM_HOME with the offline pipeline saved, and a data file of `rows`
    distinct reviews: (studio, data file)."""
    from studio.core import Studio

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["IOM_HOME"] = str(home)
        data = home / "rows.csv"
        write_data(data, rows, "text")
        s = Studio(home)
        s.pipelines.save(offline_pipeline())
        yield s, data


def offline(rows: int, executor: str, workers: str | None = None) -> dict:
    """One offline batch; `workers` sets IOM_LOCAL_WORKERS for it ("0": the model in threads)."""
    from unittest import mock

    setting = {} if workers is None else {"IOM_LOCAL_WORKERS": workers}
    with mock.patch.dict(os.environ, setting), offline_studio(rows) as (s, data):
        marks: dict = {}
        reset_peak()  # this batch's peak, not an earlier one's in the same process

        async def go():
            try:
                return await timed_batch(s, "bench-sentiment", data, concurrency=16, executor=executor, marks=marks)
            finally:
                await s.aclose()
        seconds, agg = asyncio.run(go())
        db_end_mb = database_memory_mb(s)
        s.close()
        return {"executor": executor, "rows": rows, "seconds": round(seconds, 2), "rowsPerSecond": round(rows / seconds, 1),
                "failed": agg["failed"], "rss1kMb": round(marks.get("rss_1k_mb", 0), 1),
                "rssLastRowMb": round(marks.get("rss_last_row_mb", 0), 1), "rssEndMb": round(peak_rss_mb(), 1),
                "workersRss1kMb": marks.get("workers_1k_mb"), "workersRssEndMb": marks.get("workers_mb"),
                "analyticsDb1kMb": marks.get("db_1k_mb"), "analyticsDbEndMb": db_end_mb}


def memory_curve(rows: int, *, record: bool) -> dict:
    """Peak RSS of one offline batch as it goes (at 1k, 3k, 10k, 30k… rows): where it grows.
    With `record` off, a recorder that drops every record stands in for the analytics writer,
    so the batch's own memory shows apart from the writer's DuckDB."""
    marks = [m for m in (1000, 3000, 10_000, 30_000, 60_000, 100_000, 300_000, 1_000_000) if m <= rows]
    curve: dict[str, float] = {}
    with offline_studio(rows) as (s, data):
        reset_peak()
        if not record:
            s.engine.recorder = s.providers.recorder = DropRecords()

        async def go():
            from studio.eval.batch import plan_batch, run_batch
            from studio.heap import freeze_long_lived

            plan = plan_batch(s, "bench-sentiment", str(data), concurrency=16)
            freeze_long_lived()

            def progress(done, total):
                while marks and done >= marks[0]:
                    curve[str(marks.pop(0))] = round(peak_rss_mb(), 1)
            try:
                await run_batch(s, plan, progress=progress)
            finally:
                await s.aclose()
        asyncio.run(go())
        s.close()
    return {"recorded": record, "peakRssMbAtRows": curve}


class DropRecords:
    def record_call(self, record, input=None, output=None) -> None:
        pass

    def record_run(self, run) -> None:
        pass


def workers_peak_rss_mb() -> float | None:
    """The built-in model workers' peak RSS (VmHWM), summed; None when the model runs in threads."""
    from studio.providers.local import processes

    pool = processes.current()
    if pool is None:
        return None
    return round(sum(hwm_kb(pid) or 0 for pid in pool.pids()) / 1024.0, 1)


def database_memory_mb(studio) -> float:
    """What DuckDB's buffer manager holds for the analytics database now (its cached data)."""
    used = studio.analytics.read(lambda cur: cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0])
    return round((used or 0) / 2**20, 1)


def upstream(rows: int = 2000, concurrency: int = 64, latency_s: float = 0.2, *, pipeline: bool = False) -> dict:
    from studio.core import Studio
    from studio.spec import load_pipeline
    from studio.spec.calls import CANONICAL_SCHEMAS
    from studio.spec.model import ModelSpec
    body = {"id": "c", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
    with tempfile.TemporaryDirectory() as tmp, FakeUpstream(body, delay_s=latency_s) as url:
        home = Path(tmp)
        os.environ["IOM_HOME"] = str(home)
        os.environ["BENCH_UPSTREAM_KEY"] = "bench-key"
        data = home / "prompts.csv"
        write_data(data, rows, "prompt")
        s = Studio(home)
        s.models.save(ModelSpec(id="bench/slow", name="Slow upstream", provider="openai", api="openai-chat",
                                endpoint=url + "/v1/chat/completions", model="m", key_ref="BENCH_UPSTREAM_KEY",
                                input_schema=CANONICAL_SCHEMAS["llm"][0], output_schema=CANONICAL_SCHEMAS["llm"][1]))
        if pipeline:
            s.pipelines.save(load_pipeline({
                "format": "iom.pipeline", "version": 1, "id": "bench-upstream", "name": "One upstream call",
                "nodes": [{"id": "in", "kind": "input"},
                          {"id": "llm", "kind": "model", "model": "bench/slow", "prompt": "{{ prompt }}", "policy": {"cache": False}},
                          {"id": "out", "kind": "output"}],
                "edges": [{"id": "e1", "source": "in", "target": "llm", "sourcePort": "out", "targetPort": "in"},
                          {"id": "e2", "source": "llm", "target": "out", "sourcePort": "text", "targetPort": "text"}]}))
        target = "bench-upstream" if pipeline else "bench/slow"

        async def go():
            try:
                return await timed_batch(s, target, data, concurrency=concurrency, executor="local")
            finally:
                await s.aclose()
        bare_rate = asyncio.run(bare_httpx(url + "/v1/chat/completions", rows, concurrency))
        seconds, agg = asyncio.run(go())
        s.close()
    ceiling = concurrency / latency_s
    rate = rows / seconds
    return {"rows": rows, "concurrency": concurrency, "latencyMs": latency_s * 1000, "seconds": round(seconds, 2),
            "rowsPerSecond": round(rate, 1), "ceilingRowsPerSecond": ceiling,
            "percentOfCeiling": round(100 * rate / ceiling, 1), "failed": agg["failed"],
            "bareHttpxRowsPerSecond": round(bare_rate, 1), "ofBareHttpx": round(rate / bare_rate, 3)}


async def bare_httpx(url: str, rows: int, concurrency: int) -> float:
    """The same requests from a bare pooled httpx client at the same concurrency (rows/s): what
    this machine's client and fake reach with no studio in between, for a ratio beside it."""
    import httpx

    todo = iter(range(rows))
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)) as client:
        async def worker() -> None:
            for _ in todo:
                (await client.post(url, json=payload)).raise_for_status()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return rows / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--upstream-rows", type=int, default=2000)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--memory-curve", type=int, metavar="ROWS",
                    help="instead: the peak RSS of one ROWS-row batch as it goes, recorded and not (each in a process)")
    ap.add_argument("--no-record", action="store_true", help=argparse.SUPPRESS)  # the second process of --memory-curve
    args = ap.parse_args()
    if args.memory_curve:
        if args.no_record:
            print(json.dumps(memory_curve(args.memory_curve, record=False)))
            return
        curves = [memory_curve(args.memory_curve, record=True),
                  json.loads(subprocess.run([sys.executable, __file__, "--memory-curve", str(args.memory_curve),
                                             "--no-record"], capture_output=True, text=True, check=True).stdout)]
        for c in curves:
            if not args.json:
                print(f"peak RSS (MB) at rows, records {'kept' if c['recorded'] else 'dropped'}: {c['peakRssMbAtRows']}")
        if args.json:
            print(json.dumps({"memoryCurve": curves}))
        return
    result = {"offlineLocal": offline(args.rows, "local")}
    if not args.json:
        print(f"offline, local executor: {result['offlineLocal']}", flush=True)
    result["offlineLocalThreads"] = offline(args.rows, "local", workers="0")
    result["offlineLocalOverThreads"] = round(result["offlineLocal"]["rowsPerSecond"]
                                              / result["offlineLocalThreads"]["rowsPerSecond"], 3)
    if not args.json:
        print(f"offline, local executor, the model in threads (IOM_LOCAL_WORKERS=0): {result['offlineLocalThreads']}; "
              f"worker processes over threads: {result['offlineLocalOverThreads']}x", flush=True)
    result["upstream"] = upstream(args.upstream_rows)
    if not args.json:
        print(f"fake upstream 200 ms, concurrency 64: {result['upstream']}", flush=True)
    result["upstreamPipeline"] = upstream(args.upstream_rows, pipeline=True)
    if not args.json:
        print(f"the same, in a one-node pipeline: {result['upstreamPipeline']}", flush=True)
    if not args.skip_ray:
        result["offlineRay"] = offline(args.rows, "ray")
        if not args.json:
            print(f"offline, Ray executor (start included): {result['offlineRay']}", flush=True)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
