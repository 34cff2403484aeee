"""Added time per call of the adapter layer (hub + OpenAI chat adapter) against a bare
httpx call to the same loopback server, plain and streaming.

    python bench/bench_adapters.py [--calls 300] [--json]

Both sides use one pooled httpx.AsyncClient against an in-process OpenAI-style server on
127.0.0.1, so the difference is what the studio adds: validation, request building, SSE
parsing, usage/cost, the CallRecord. Prints median µs per call (the two alternate, call by call) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from studio.providers.hub import ProviderHub  # noqa: E402
from studio.recording import MemoryRecorder  # noqa: E402
from studio.secrets.store import KeyStore  # noqa: E402
from studio.spec.calls import CANONICAL_SCHEMAS, CallRequest  # noqa: E402
from studio.spec.model import ModelSpec  # noqa: E402
from tests.fakes.provider_server import FakeProvider, Reply, sse  # noqa: E402

PATH = "/v1/chat/completions"
WORDS = [f" word{i}" for i in range(20)]
PLAIN = {"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)},
                                 "finish_reason": "stop"}], "usage": {"prompt_tokens": 10, "completion_tokens": 20}}
STREAM = sse(*[{"id": "c", "choices": [{"index": 0, "delta": {"content": w}}]} for w in WORDS],
             {"id": "c", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 20}})


def bench_keys() -> KeyStore:
    """The studio's own key store (keyring, else the environment), as a real call uses it."""
    os.environ["IOM_BENCH_KEY"] = "sk-bench"
    return KeyStore()


async def bare(client, url, stream):
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    headers = {"authorization": "Bearer sk-bench"}
    if not stream:
        r = await client.post(url, json=body, headers=headers)
        return r.json()["choices"][0]["message"]["content"]
    text = []
    async with client.stream("POST", url, json=body, headers=headers) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for c in json.loads(line[6:])["choices"]:
                    text.append(c["delta"].get("content") or "")
    return "".join(text)


async def paired(bare_fn, hub_fn, n):
    """Alternate the two calls so machine noise (2 shared cores) hits both alike; median µs."""
    for _ in range(20):  # warm up the pools and imports
        await bare_fn()
        await hub_fn()
    bare_us, hub_us = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        await bare_fn()
        t1 = time.perf_counter()
        await hub_fn()
        t2 = time.perf_counter()
        bare_us.append((t1 - t0) * 1e6)
        hub_us.append((t2 - t1) * 1e6)
    return statistics.median(bare_us), statistics.median(hub_us)


async def main(n: int, as_json: bool) -> None:
    ratios: dict[str, float] = {}
    with FakeProvider() as fake:
        url = fake.url(PATH)
        spec = ModelSpec.model_validate({"id": "bench/chat", "name": "bench", "provider": "openai", "api": "openai-chat",
                                         "endpoint": url, "model": "m", "keyRef": "IOM_BENCH_KEY",
                                         "inputSchema": CANONICAL_SCHEMAS["llm"][0],
                                         "outputSchema": CANONICAL_SCHEMAS["llm"][1],
                                         "prices": {"inputPerToken": 1e-6, "outputPerToken": 2e-6}})
        hub = ProviderHub(keys=bench_keys(), recorder=MemoryRecorder())
        client = httpx.AsyncClient()
        print(f"{n} calls each, loopback OpenAI-style server, {len(WORDS)} words per reply")
        print(f"{'mode':<8}{'bare httpx µs':>15}{'hub µs':>10}{'added µs':>10}{'ratio':>8}{'hub overhead (self-reported)':>31}")
        for mode, stream in (("plain", False), ("stream", True)):
            fake.reply(PATH, Reply(chunks=STREAM) if stream else Reply(json=PLAIN))
            req = CallRequest(model_id=spec.id, input={"prompt": "Hi"}, stream=stream)
            hub.recorder.calls.clear()
            t_bare, t_hub = await paired(lambda: bare(client, url, stream),
                                         lambda: hub.call(spec, req, on_text=lambda t: None), n)
            overhead = statistics.median(c[0].overhead_ms for c in hub.recorder.calls[-n:])
            print(f"{mode:<8}{t_bare:>15.0f}{t_hub:>10.0f}{t_hub - t_bare:>10.0f}{t_hub / t_bare:>8.2f}{overhead * 1000:>28.0f} µs")
            ratios[mode] = round(t_hub / t_bare, 3)
        await client.aclose()
        await hub.aclose()
    if as_json:
        print(json.dumps({"adapter_ratio": ratios, "calls": n}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="also print one JSON object with the figures")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.json))
