"""One studio server (run.py in a subprocess) shared by a gateway test module, with a registry
model per wire format, all answered by one loopback fake provider; the official SDKs as clients.

The server gets IOM_GATEWAY_TOKEN and the clients send it as their api_key, so these tests pass
whether or not the gateway checks a bearer token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from studio.registry import ModelRegistry
from studio.spec import ModelSpec
from studio.spec.calls import CANONICAL_SCHEMAS
from tests.fakes.provider_server import FakeProvider

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-gateway-token"
SECRET = "sk-gw-secret-0000000000000000"

OPENAI_PATH = "/v1/chat/completions"
HF_PATH = "/hf/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
GEMINI_PATH = "/v1beta/models/gem-1:generateContent"
GEMINI_STREAM_PATH = "/v1beta/models/gem-1:streamGenerateContent"
EMBED_PATH = "/v1/embeddings"
OLLAMA_PATH = "/api/chat"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(fake: FakeProvider) -> list[ModelSpec]:
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    emb_in, emb_out = CANONICAL_SCHEMAS["embedding"]
    common = dict(key_ref="GW_KEY", input_schema=llm_in, output_schema=llm_out,
                  prices={"input_per_token": 1e-6, "output_per_token": 2e-6})
    return [
        ModelSpec(id="loop/openai", name="OpenAI", provider="openai", api="openai-chat",
                  endpoint=fake.url(OPENAI_PATH), model="gpt-test", **common),
        ModelSpec(id="loop/hf", name="HF router", provider="huggingface", api="openai-chat",
                  endpoint=fake.url(HF_PATH), model="meta/llama", **common),
        ModelSpec(id="loop/claude", name="Claude", provider="anthropic", api="anthropic-messages",
                  endpoint=fake.url(ANTHROPIC_PATH), model="claude-test", **common),
        ModelSpec(id="loop/gemini", name="Gemini", provider="google", api="gemini",
                  endpoint=fake.url("/v1beta"), model="gem-1", **common),
        ModelSpec(id="loop/ollama", name="Ollama", provider="ollama", api="ollama-chat",
                  endpoint=fake.url(OLLAMA_PATH), model="llama3", **common),
        ModelSpec(id="loop/embed", name="Embed", provider="openai", api="openai-embeddings", model_type="embedding",
                  endpoint=fake.url(EMBED_PATH), model="emb-test", key_ref="GW_KEY", input_schema=emb_in,
                  output_schema=emb_out),
    ]


@pytest.fixture(scope="module")
def fake():
    with FakeProvider() as server:
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The running studio's IOM_HOME: a test may save pipelines there (read from disk per request)."""
    return tmp_path_factory.mktemp("gw-home")


@pytest.fixture(scope="module")
def server(fake, home):
    """The base URL of a running studio whose registry has the loop/* models."""
    from tests.providers.conftest import DictKeys

    registry = ModelRegistry(home, DictKeys({}))
    for spec in _models(fake):
        registry.save(spec)
    port = _free_port()
    env = dict(os.environ, IOM_HOME=str(home), IOM_PORT=str(port), GW_KEY=SECRET, IOM_GATEWAY_TOKEN=TOKEN,
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    for var in ("PYTEST_CURRENT_TEST", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "IOM_GATEWAY_DROP_PARAMS"):
        env.pop(var, None)
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/v1/models", headers={"authorization": f"Bearer {TOKEN}"}, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the studio did not start: " + (proc.communicate()[0] or "")[-2000:])
    yield base
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out and SECRET not in out, out


@pytest.fixture(scope="module")
def oai(server):
    import openai

    with openai.OpenAI(base_url=server + "/v1", api_key=TOKEN, max_retries=0, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def claude(server):
    import anthropic

    with anthropic.Anthropic(base_url=server, api_key=TOKEN, max_retries=0, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def raw(server):
    with httpx.Client(base_url=server + "/v1", timeout=30, headers={"authorization": f"Bearer {TOKEN}"}) as client:
        yield client
