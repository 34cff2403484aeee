"""Added time per call of the adapter layer (hub + OpenAI chat adapter) against a bare
httpx call to the same loopback server, plain and streaming.

    python bench/bench_adapters.py [--calls 300] [--json]

Both sides use one pooled httpx.AsyncClient against an in-process OpenAI-style server on
127.0.0.1, so the difference is what the studio adds: validation, request building, SSE
parsing, usage/cost, the CallRecord. Prints median µs per call (the calls alternate, call by call) and the ratio.
The hub talks through its own transport (studio/providers/transport.py, aiohttp underneath), so
a third contender, a bare httpx client over that same transport, shows what the hub's logic
adds on its own (`adapter_ratio_same_transport`).
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
from studio.providers.transport import AiohttpTransport  # noqa: E402
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
    os.environ["BENCH_ADAPTER_KEY"] = "sk-bench"
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


async def interleaved(fns, n):
    """Alternate the calls so machine noise (2 shared cores) hits all alike; median µs each."""
    for _ in range(20):  # warm up the pools and imports
        for fn in fns:
            await fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for fn, spent in zip(fns, times):
            t0 = time.perf_counter()
            await fn()
            spent.append((time.perf_counter() - t0) * 1e6)
    return [statistics.median(t) for t in times]


async def main(n: int, as_json: bool) -> None:
    ratios: dict[str, float] = {}
    same_ratios: dict[str, float] = {}
    with FakeProvider() as fake:
        url = fake.url(PATH)
        spec = ModelSpec.model_validate({"id": "bench/chat", "name": "bench", "provider": "openai", "api": "openai-chat",
                                         "endpoint": url, "model": "m", "keyRef": "BENCH_ADAPTER_KEY",
                                         "inputSchema": CANONICAL_SCHEMAS["llm"][0],
                                         "outputSchema": CANONICAL_SCHEMAS["llm"][1],
                                         "prices": {"inputPerToken": 1e-6, "outputPerToken": 2e-6}})
        hub = ProviderHub(keys=bench_keys(), recorder=MemoryRecorder())
        client = httpx.AsyncClient()
        # the same client API over the hub's own transport: what the hub's logic adds on its own
        same = httpx.AsyncClient(transport=AiohttpTransport(httpx.Limits(max_connections=64)))
        print(f"{n} calls each, loopback OpenAI-style server, {len(WORDS)} words per reply; 'same transport' is a "
              f"bare httpx client over the hub's aiohttp transport")
        print(f"{'mode':<8}{'bare httpx µs':>15}{'hub µs':>10}{'added µs':>10}{'ratio':>8}"
              f"{'same transport µs':>19}{'ratio':>8}{'hub overhead (self-reported)':>31}")
        for mode, stream in (("plain", False), ("stream", True)):
            fake.reply(PATH, Reply(chunks=STREAM) if stream else Reply(json=PLAIN))
            req = CallRequest(model_id=spec.id, input={"prompt": "Hi"}, stream=stream)
            hub.recorder.calls.clear()
            t_bare, t_hub, t_same = await interleaved([lambda: bare(client, url, stream),
                                                        lambda: hub.call(spec, req, on_text=lambda t: None),
                                                        lambda: bare(same, url, stream)], n)
            overhead = statistics.median(c[0].overhead_ms for c in hub.recorder.calls[-n:])
            print(f"{mode:<8}{t_bare:>15.0f}{t_hub:>10.0f}{t_hub - t_bare:>10.0f}{t_hub / t_bare:>8.2f}"
                  f"{t_same:>19.0f}{t_hub / t_same:>8.2f}{overhead * 1000:>28.0f} µs")
            ratios[mode] = round(t_hub / t_bare, 3)
            same_ratios[mode] = round(t_hub / t_same, 3)
        await client.aclose()
        await same.aclose()
        await hub.aclose()
    if as_json:
        print(json.dumps({"adapter_ratio": ratios, "adapter_ratio_same_transport": same_ratios, "calls": n}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="also print one JSON object with the figures")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.json))
