"""What the gateway adds to a call: the same OpenAI request sent straight to a loopback fake
provider (bench/fake_upstream.py, its own process), through the studio's /v1 (run.py in a
subprocess), and through LiteLLM's proxy (installed by this script from PyPI into
bench/out/litellm-venv, one worker). The load comes from one aiohttp client for all targets.

    python bench/bench_gateway.py [--rounds 3] [--calls 200] [--block 10] [--burst 400] [--json] [--no-litellm]
                                  [--bare-proxy]

Per round and target: p50/p99 latency at concurrency 1 and req/s at concurrency 16, plain and
streamed, plus a one-node pipeline (`pipeline/bench-one`) against the plain model call, and a
proxy that only passes requests through on the studio's own stack (bench/bare_proxy.py): the
floor under what the studio adds on this machine (with --bare-proxy). Figures
are medians over rounds. At c=1 the targets take turns every --block calls, so machine noise
hits all alike.
Afterwards the studio's analytics store is read to check that every call was recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from bench.fake_upstream import FakeUpstream, free_port  # noqa: E402
from studio.registry import ModelRegistry, PipelineRegistry  # noqa: E402
from studio.spec import ModelSpec, load_pipeline  # noqa: E402
from studio.spec.calls import CANONICAL_SCHEMAS  # noqa: E402

OUT = ROOT / "bench" / "out"
VENV = OUT / "litellm-venv"
TOKEN = "sk-" + secrets.token_hex(32)  # the studio's gateway token and LiteLLM's master key
KEY = "sk-bench-0000000000000000"
WORDS = [f" word{i}" for i in range(20)]
PLAIN = {"id": "c", "object": "chat.completion", "model": "m", "created": 0,
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}
STREAM = [*[{"id": "c", "object": "chat.completion.chunk", "model": "m", "created": 0,
             "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in WORDS],
          {"id": "c", "object": "chat.completion.chunk", "model": "m", "created": 0,
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}]


def wait_up(url: str, proc: subprocess.Popen, headers: dict, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return True
        except httpx.TransportError:
            time.sleep(0.3)
    return False


class Keys:
    def get(self, name):
        return None

    def names(self):
        return []


def studio_home(upstream: str) -> Path:
    home = Path(tempfile.mkdtemp(prefix="iom-bench-gw-"))
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    ModelRegistry(home, Keys()).save(ModelSpec(
        id="bench/chat", name="bench", provider="openai", api="openai-chat", endpoint=upstream + "/v1/chat/completions",
        model="m", key_ref="BENCH_KEY", input_schema=llm_in, output_schema=llm_out,
        prices={"input_per_token": 1e-6, "output_per_token": 2e-6}))
    PipelineRegistry(home).save(load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "bench-one", "name": "One node",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                                                 "required": ["text"]}},
                  {"id": "llm", "kind": "model", "model": "bench/chat", "prompt": "{{ text }}", "policy": {"cache": False}},
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "target": "llm", "sourcePort": "out", "targetPort": "in"},
                  {"id": "e2", "source": "llm", "target": "out", "sourcePort": "out", "targetPort": "in"}]}))
    return home


def start_server(what: str, command: list[str], port: int, env: dict) -> tuple[subprocess.Popen, str]:
    """Start a server of ours on `port` and wait until its /v1/models answers: (process, base URL)."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    if not wait_up(base + "/models", proc, {"authorization": f"Bearer {TOKEN}"}):
        proc.kill()
        raise SystemExit(f"{what} did not start")
    return proc, base


def start_studio(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, IOM_HOME=str(home), IOM_PORT=str(port), BENCH_KEY=KEY, IOM_GATEWAY_TOKEN=TOKEN,
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return start_server("the studio", [sys.executable, "run.py"], port, env)


def start_litellm(upstream: str) -> tuple[subprocess.Popen | None, str | None, str]:
    """(process, base URL, note); installs LiteLLM's proxy into its own venv on first use."""
    exe = VENV / "bin" / "litellm"
    if not exe.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
        r = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], capture_output=True, text=True)
        if r.returncode != 0 or not exe.exists():
            return None, None, "LiteLLM could not be installed here: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    config = OUT / "litellm-config.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench/chat\n    litellm_params:\n      model: openai/m\n"
        f"      api_base: {upstream}/v1\n      api_key: {KEY}\n"
        "litellm_settings:\n  drop_params: true\n  telemetry: false\n")
    port = free_port()
    env = dict(os.environ, LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False", LITELLM_MASTER_KEY=TOKEN)
    log = open(OUT / "litellm.log", "w")
    proc = subprocess.Popen([str(exe), "--config", str(config), "--port", str(port), "--num_workers", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=OUT)
    base = f"http://127.0.0.1:{port}/v1"
    if not wait_up(base + "/models", proc, {"authorization": f"Bearer {TOKEN}"}, 180):
        proc.kill()
        return None, None, f"LiteLLM's proxy did not start (see {OUT / 'litellm.log'})"
    return proc, base, "LiteLLM proxy, 1 worker"


SENT: dict[str, int] = {}  # calls per (base, model), to check the studio recorded each one


async def one(client: aiohttp.ClientSession, base: str, model: str, stream: bool) -> None:
    SENT[f"{base} {model}"] = SENT.get(f"{base} {model}", 0) + 1
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with client.post(base + "/chat/completions", json=body, headers=headers) as r:
        r.raise_for_status()
        if not stream:
            assert (await r.json())["choices"][0]["message"]["content"]
            return
        got = 0
        async for line in r.content:
            got += line.startswith(b"data: ")
    assert got > 2


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def latency_round(client, targets: dict[str, tuple[str, str]], stream: bool, n: int,
                        block: int) -> dict[str, tuple[float, float]]:
    """`n` calls per target at concurrency 1, the targets taking turns every `block` calls."""
    times: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(max(1, n // block)):
        for name, (base, model) in targets.items():
            for _ in range(block):
                t0 = time.perf_counter()
                await one(client, base, model, stream)
                times[name].append((time.perf_counter() - t0) * 1000)
    return {name: (pct(v, 50), pct(v, 99)) for name, v in times.items()}


ERRORS: dict[str, int] = {}  # failed calls per target (counted, shown, not retried)


async def throughput(client, base: str, model: str, stream: bool, total: int, concurrency: int = 16) -> float:
    """Completed calls per second; a failed call counts as not completed."""
    left, ok = total, 0

    async def worker():
        nonlocal left, ok
        while left > 0:
            left -= 1
            try:
                await one(client, base, model, stream)
                ok += 1
            except (aiohttp.ClientError, AssertionError) as e:
                key = f"{base} {model}: {type(e).__name__}"
                ERRORS[key] = ERRORS.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok / (time.perf_counter() - t0)


async def measure(targets, rounds: int, calls: int, burst: int, block: int) -> dict:
    results: dict = {}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        for mode, stream in (("plain", False), ("stream", True)):
            await latency_round(client, targets, stream, max(20, block), block)  # warm-up
            lat = [await latency_round(client, targets, stream, calls, block) for _ in range(rounds)]
            rps: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, (base, model) in targets.items():
                    if name == "pipeline" and stream:
                        continue
                    rps[name].append(await throughput(client, base, model, stream, burst))
            results[mode] = {name: {"p50_ms": statistics.median(r[name][0] for r in lat),
                                    "p99_ms": statistics.median(r[name][1] for r in lat),
                                    "rps_c16": statistics.median(rps[name]) if rps[name] else None}
                             for name in targets}
    return results


def start_bare_proxy(upstream: str) -> tuple[subprocess.Popen, str]:
    """bench/bare_proxy.py: the same stack with nothing on it, the floor under the studio's figure."""
    port = free_port()
    return start_server("the bare proxy", [sys.executable, str(ROOT / "bench" / "bare_proxy.py"), str(port)], port,
                        dict(os.environ, UPSTREAM=upstream))


def recorded_calls(home: Path) -> int:
    from studio.analytics import AnalyticsStore

    store = AnalyticsStore(home)
    try:
        store.flush()
        return store.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0])
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=200, help="calls per target per round at c=1")
    ap.add_argument("--block", type=int, default=10,
                    help="c=1 calls to one target before the next takes its turn: alternating every call "
                         "measured each target with caches LiteLLM's 9 ms calls had just emptied (direct 0.16 -> 0.32 ms)")
    ap.add_argument("--burst", type=int, default=400, help="calls per target per round at c=16")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--bare-proxy", action="store_true",
                    help="add bench/bare_proxy.py to the targets: the floor under the studio's figures (off by "
                         "default, so the default run's turns and length stay those of earlier runs)")
    args = ap.parse_args()
    procs: list[subprocess.Popen] = []
    with FakeUpstream(PLAIN, stream_events=STREAM) as upstream:
        home = studio_home(upstream)
        try:
            studio, studio_base = start_studio(home)
            procs.append(studio)
            targets = {"direct": (upstream + "/v1", "m"), "studio": (studio_base, "bench/chat"),
                       "pipeline": (studio_base, "pipeline/bench-one")}
            if args.bare_proxy:
                bare, bare_base = start_bare_proxy(upstream)
                procs.append(bare)
            note = "skipped (--no-litellm)"
            if not args.no_litellm:
                lp, lbase, note = start_litellm(upstream)
                if lp:
                    procs.append(lp)
                    targets["litellm"] = (lbase, "bench/chat")
            if args.bare_proxy:  # last in each turn: the studio's turn still follows the direct one
                targets["bare"] = (bare_base, "m")
            results = asyncio.run(measure(targets, args.rounds, args.calls, args.burst, args.block))
            expected = SENT.get(f"{studio_base} bench/chat", 0) + SENT.get(f"{studio_base} pipeline/bench-one", 0)
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        recorded = recorded_calls(home)
        shutil.rmtree(home, ignore_errors=True)
    report(results, note, recorded, expected, args)


def report(results: dict, note: str, recorded: int, expected: int, args) -> None:
    summary: dict = {"results": results, "litellm": note, "recorded_calls": recorded, "errors": ERRORS,
                     "studio_calls_sent": expected, "rounds": args.rounds}
    for mode, r in results.items():
        d, s = r["direct"], r["studio"]
        summary[f"{mode}_studio_added_p50_ms"] = s["p50_ms"] - d["p50_ms"]
        if "bare" in r:  # the floor: a proxy on the same stack that does nothing
            summary[f"{mode}_bare_proxy_added_p50_ms"] = r["bare"]["p50_ms"] - d["p50_ms"]
            summary[f"{mode}_studio_over_bare_proxy_p50_ms"] = s["p50_ms"] - r["bare"]["p50_ms"]
        if mode == "plain":
            summary["pipeline_over_model_p50_ms"] = r["pipeline"]["p50_ms"] - s["p50_ms"]
        if "litellm" in r and r["litellm"]["rps_c16"]:
            summary[f"{mode}_c16_studio_over_litellm"] = s["rps_c16"] / r["litellm"]["rps_c16"]
    if args.json:
        print(json.dumps(summary))
        return
    print(f"medians of {args.rounds} rounds; c=1: {args.calls} calls per target per round (turns of {args.block}); "
          f"c=16: {args.burst} calls per target per round; LiteLLM: {note}")
    print(f"{'mode':<8}{'target':<10}{'p50 ms':>9}{'p99 ms':>9}{'req/s c16':>11}")
    for mode, r in results.items():
        for name, v in r.items():
            rps = f"{v['rps_c16']:.0f}" if v["rps_c16"] else "-"
            print(f"{mode:<8}{name:<10}{v['p50_ms']:>9.2f}{v['p99_ms']:>9.2f}{rps:>11}")
    for key in ("plain_studio_added_p50_ms", "stream_studio_added_p50_ms", "pipeline_over_model_p50_ms",
                "plain_bare_proxy_added_p50_ms", "stream_bare_proxy_added_p50_ms",
                "plain_studio_over_bare_proxy_p50_ms", "stream_studio_over_bare_proxy_p50_ms"):
        if key in summary:
            print(f"{key}: {summary[key]:.2f} ms")
    for key in ("plain_c16_studio_over_litellm", "stream_c16_studio_over_litellm"):
        if key in summary:
            print(f"{key}: {summary[key]:.2f}x")
    for key, count in ERRORS.items():
        print(f"failed calls at c=16: {count} x {key}")
    print(f"model calls recorded in the studio's analytics: {recorded} of {expected} sent through it "
          f"({'all' if recorded >= expected else 'SOME MISSING'})")


if __name__ == "__main__":
    main()
