"""Shared fixtures for the provider tests: a fake provider server, a hub with a memory
recorder and a dict of keys, and a ModelSpec builder."""

from __future__ import annotations

import pytest

from studio.providers.hub import ProviderHub
from studio.recording import MemoryRecorder
from studio.spec.calls import CallRequest
from studio.spec.model import ModelSpec
from tests.fakes.provider_server import FakeProvider

SECRET = "sk-test-SECRET-1234567890"


class DictKeys:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def names(self) -> list[str]:
        return sorted(self.values)


@pytest.fixture
def fake():
    with FakeProvider() as server:
        yield server


@pytest.fixture
async def hub():
    h = ProviderHub(keys=DictKeys({"TEST_KEY": SECRET}), recorder=MemoryRecorder())
    yield h
    await h.aclose()


def make_spec(api: str, endpoint: str | None, model: str | None = "m-1", **extra) -> ModelSpec:
    provider = extra.pop("provider", {"openai-chat": "openai", "openai-embeddings": "openai",
                                      "anthropic-messages": "anthropic", "gemini": "google",
                                      "http": "http", "local": "local"}.get(api, api.split("-")[0]
                                      .replace("hf", "huggingface")))
    return ModelSpec.model_validate({"id": f"test/{api}", "name": api, "provider": provider, "api": api,
                                     "endpoint": endpoint, "model": model, "keyRef": extra.pop("key_ref", "TEST_KEY"),
                                     **extra})


def req(input: dict, stream: bool = False, **params) -> CallRequest:
    return CallRequest(model_id="x", input=input, stream=stream, params=params)
