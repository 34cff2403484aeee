"""A chat model for the page tests, served by the fake provider server
(tests/fakes/provider_server.py) speaking OpenAI chat. The stream holds after its first words
until the test opens `fake.gate`, so a test sees text arrive without sleeping or timing."""

from __future__ import annotations

import json
import random
import struct
import zlib

from studio.spec.calls import CANONICAL_SCHEMAS
from tests.fakes.provider_server import GATE, FakeProvider, Reply, sse

KEY = "sk-loopback-secret-0123456789abcdef"
FIRST = "Hello"
REST = [" from", " the", " loopback."]
CHAT_PATH = "/v1/chat/completions"


def _chunk(delta: dict, finish=None) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "loop-1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def script_chat(fake: FakeProvider) -> None:
    """An SSE answer in words, held at GATE after the first; and a list-models reply (the probe)."""
    usage = {"id": "c1", "object": "chat.completion.chunk", "model": "loop-1", "choices": [],
             "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
    first, *rest = sse(_chunk({"role": "assistant", "content": FIRST}), *[_chunk({"content": w}) for w in REST],
                       _chunk({}, "stop"), usage)
    fake.reply(CHAT_PATH, Reply(chunks=[first, GATE, *rest], content_type="text/event-stream"))
    fake.reply("/v1/models", Reply(json={"object": "list", "data": [{"id": "loop-1", "object": "model"}]}))


def save_loopback_model(studio, fake: FakeProvider, *, prices=None) -> None:
    from studio.spec.model import ModelSpec

    studio.keys.set("LOOP_KEY", KEY)
    studio.models.save(ModelSpec(
        id="loop/chat", name="Loopback chat", provider="openai", api="openai-chat", endpoint=fake.url(CHAT_PATH),
        model="loop-1", key_ref="LOOP_KEY", prices=prices or {"input_per_token": 1e-6, "output_per_token": 2e-6},
        input_schema=CANONICAL_SCHEMAS["llm"][0], output_schema=CANONICAL_SCHEMAS["llm"][1]))


def _plain_body(text: str) -> str:
    return json.dumps({"id": "c1", "object": "chat.completion", "model": "loop-1",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})


def plain_answer(text: str) -> Reply:
    """A whole (not streamed) chat answer."""
    return Reply(raw=_plain_body(text))


def overloaded() -> Reply:
    """A 503 as OpenAI's API sends one: the model is unavailable (retryable, counts against its breaker)."""
    return Reply(status=503, json={"error": {"message": "overloaded", "type": "server_error"}})


def rate_limited(retry_after_s: int) -> Reply:
    """A 429 with its retry-after."""
    return Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}},
                 headers={"retry-after": str(retry_after_s)})


def held_plain_answer(text: str) -> Reply:
    """The same answer half sent, then held until the test opens `fake.gate` (rows in flight)."""
    body = _plain_body(text)
    return Reply(chunks=[body[:20], GATE, body[20:]], content_type="application/json")


def png(side: int = 8) -> bytes:
    """A real PNG of side×side noise (so its base64 is a few hundred characters, as a photo's is many)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    noise = random.Random(side).randbytes
    rows = b"".join(b"\x00" + noise(side * 3) for _ in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def save_vision_model(studio, fake: FakeProvider, api: str, path: str) -> None:
    """A vision model (id loop/vision) on the fake, speaking OpenAI chat or Anthropic messages."""
    from studio.spec.model import ModelSpec

    studio.keys.set("LOOP_KEY", KEY)
    studio.models.save(ModelSpec(
        id="loop/vision", name="Loopback vision", provider="openai" if api == "openai-chat" else "anthropic", api=api,
        model_type="vision", endpoint=fake.url(path), model="loop-1", key_ref="LOOP_KEY",
        input_schema=CANONICAL_SCHEMAS["vision"][0], output_schema=CANONICAL_SCHEMAS["vision"][1]))
