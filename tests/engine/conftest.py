"""Engine fixtures: a registry on the test's IOM_HOME (no samples), the real provider hub
with a memory recorder, keys from a dict, and helpers to build pipelines briefly."""

from __future__ import annotations

import pytest

from studio.engine import Engine
from studio.providers.hub import ProviderHub
from studio.recording import MemoryRecorder
from studio.registry import ModelRegistry
from studio.spec import ModelSpec, load_pipeline
from studio.spec.calls import CANONICAL_SCHEMAS
from tests.fakes.provider_server import FakeProvider
from tests.providers.conftest import DictKeys

LLM_IN, LLM_OUT = CANONICAL_SCHEMAS["llm"]


@pytest.fixture
def fake():
    with FakeProvider() as server:
        yield server


@pytest.fixture
def registry(iom_home):
    return ModelRegistry(iom_home, DictKeys({}))


@pytest.fixture
def recorder():
    return MemoryRecorder()


@pytest.fixture
async def engine(registry, recorder, iom_home):
    hub = ProviderHub(keys=DictKeys({"TEST_KEY": "sk-test-engine-0000000000"}), recorder=recorder)
    eng = Engine(models=registry, caller=hub, recorder=recorder, keys=hub.keys, home=iom_home,
                 breaker_threshold=2, breaker_cooldown_s=0.3, rate_window_s=0.5)
    yield eng
    await hub.aclose()


def openai_model(registry, fake, model_id: str, path: str, **extra) -> ModelSpec:
    """An OpenAI-format chat model served by the fake at `path`."""
    spec = ModelSpec.model_validate({
        "id": model_id, "name": model_id, "provider": extra.pop("provider", "openai"), "api": "openai-chat",
        "endpoint": fake.url(path), "model": "m", "keyRef": "TEST_KEY", "inputSchema": LLM_IN,
        "outputSchema": LLM_OUT, "prices": {"inputPerToken": 1e-6, "outputPerToken": 2e-6},
        "defaultParams": {"temperature": 0}, **extra})
    registry.save(spec)
    return spec


def chat_reply(text: str, tokens_in: int = 10, tokens_out: int = 5) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}}


def pipeline(nodes: list[dict], edges: list[tuple], **extra):
    """edges: (id, source, target[, sourcePort, targetPort])."""
    es = []
    for e in edges:
        eid, s, t, *ports = e
        es.append({"id": eid, "source": s, "target": t, "sourcePort": ports[0] if ports else "out",
                   "targetPort": ports[1] if len(ports) > 1 else "in"})
    return load_pipeline({"format": "iom.pipeline", "version": 1, "id": extra.get("id", "t"), "name": "T",
                          "nodes": nodes, "edges": es})


TEXT_IN = {"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}
OUT = {"id": "out", "kind": "output"}
