"""The OpenAI-compatible gateway, through the real server (run.py) over HTTP: models listed,
a chat completion proxied to a loopback OpenAI-format provider (plain and streamed), a
saved offline pipeline called as a model, and errors in OpenAI's shape."""

from __future__ import annotations

import json
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
from tests.engine.conftest import chat_reply
from tests.fakes.provider_server import FakeProvider, Reply, sse

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gateway-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake():
    with FakeProvider() as server:
        yield server


@pytest.fixture
def gateway(iom_home, fake):
    """The studio serving on a free port, with a model `loop/chat` that the fake provider answers."""
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    from tests.providers.conftest import DictKeys

    ModelRegistry(iom_home, DictKeys({})).save(ModelSpec(
        id="loop/chat", name="Loop", provider="openai", api="openai-chat", endpoint=fake.url("/v1/chat/completions"),
        model="gpt-test", key_ref="LOOP_KEY", input_schema=llm_in, output_schema=llm_out,
        prices={"input_per_token": 1e-6, "output_per_token": 2e-6}))
    port = _free_port()
    env = dict(os.environ, IOM_HOME=str(iom_home), IOM_PORT=str(port), LOOP_KEY="sk-loop-secret-000000000000",
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", IOM_GATEWAY_TOKEN=TOKEN)
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/models", headers=AUTH, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        yield client
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    assert "Traceback" not in out and "sk-loop-secret" not in out, out


def recent_calls(gateway, count: int, wait_s: float = 8) -> list[dict]:
    """The calls the server has recorded, newest first, once there are `count` (or the wait is over)."""
    read = str(gateway.base_url).rstrip("/").removesuffix("/v1") + "/api/analytics/read"
    deadline, calls = time.monotonic() + wait_s, []
    while time.monotonic() < deadline and len(calls) < count:
        time.sleep(0.3)
        calls = httpx.post(read, headers=AUTH, json={"query": "recent_calls", "args": []}).json()
    return calls


def test_models_lists_registry_llms_and_pipelines(gateway):
    ids = {m["id"] for m in gateway.get("/models").json()["data"]}
    assert {"loop/chat", "openai/gpt-4o-mini", "pipeline/review-triage", "pipeline/content-enhancement"} <= ids
    assert "local/sentiment-vader" not in ids  # not a chat model


def test_a_chat_completion_goes_through_the_hub(gateway, fake):
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("Bonjour", 7, 2)))
    r = gateway.post("/chat/completions", json={"model": "loop/chat", "temperature": 0,
                                                "messages": [{"role": "user", "content": "Hello"}]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["object"] == "chat.completion" and doc["choices"][0]["message"]["content"] == "Bonjour"
    assert doc["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    sent = fake.last
    assert sent.json["model"] == "gpt-test" and sent.json["messages"] == [{"role": "user", "content": "Hello"}]
    assert sent.headers["authorization"] == "Bearer sk-loop-secret-000000000000"


def test_a_token_count_no_call_can_have_is_answered_with_the_estimate_and_recorded(gateway, fake):
    """A token count past 64 bits is no count a call can have, and fits no analytics column:
    the client is given the studio's estimate (what it records and prices), the server logs
    one sentence (the fixture checks its output holds no traceback), and the call is recorded."""
    huge = 10**20
    fake.reply("/v1/chat/completions", Reply(raw='{"id": "c-7", "choices": [{"message": {"content": "Fine"}, '
                                                  f'"finish_reason": "stop"}}], "usage": {{"prompt_tokens": {huge}, '
                                                  '"completion_tokens": 5}}'),
               Reply(json=chat_reply("Again", 7, 2)))
    question = {"model": "loop/chat", "messages": [{"role": "user", "content": "Hello"}]}
    r = gateway.post("/chat/completions", json=question)
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert 0 < usage["prompt_tokens"] < 100 and usage["completion_tokens"] == 1  # "Fine": four characters
    assert gateway.post("/chat/completions", json=question).json()["choices"][0]["message"]["content"] == "Again"
    # (both in one second, the records' resolution: newest-first cannot tell them apart)
    assert sorted((c["status"], c["input_tokens"]) for c in recent_calls(gateway, 2)) == sorted(
        [("ok", 7), ("ok", usage["prompt_tokens"])])


def test_a_streamed_completion_arrives_as_openai_chunks(gateway, fake):
    part = lambda t: {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}]}
    fake.reply("/v1/chat/completions", Reply(chunks=sse(part("Hel"), part("lo"),
                                                        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})))
    with gateway.stream("POST", "/chat/completions", json={
            "model": "loop/chat", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Hi"}]}) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    docs = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(d["choices"][0]["delta"].get("content", "") for d in docs if d["choices"])
    assert text == "Hello"
    assert [d["choices"][0]["finish_reason"] for d in docs if d["choices"]][-1] == "stop"
    assert "usage" in docs[-1] and docs[-1]["choices"] == []


def test_a_client_that_hangs_up_mid_stream_stops_the_call_upstream(gateway, fake):
    part = lambda t: {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}]}
    fake.reply("/v1/chat/completions", Reply(chunks=sse(part("first"), *[part(" more")] * 200), delay_s=0.05))
    with gateway.stream("POST", "/chat/completions", json={
            "model": "loop/chat", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}) as r:
        for line in r.iter_lines():
            if "first" in line:
                break  # leaving the block closes the connection, ~10 s before the model would finish
    calls = recent_calls(gateway, 1)
    assert [(c["model_id"], c["status"], c["error_class"]) for c in calls] == [("loop/chat", "error", "cancelled")]


def test_a_saved_pipeline_is_a_model(gateway):
    r = gateway.post("/chat/completions", json={"model": "pipeline/review-triage", "messages": [
        {"role": "user", "content": "Le personnel était charmant mais le petit déjeuner était froid."}]})
    assert r.status_code == 200, r.text
    report = json.loads(r.json()["choices"][0]["message"]["content"])
    assert report["language"] == "French"


def test_errors_come_back_in_openais_shape(gateway, fake):
    r = gateway.post("/chat/completions", json={"model": "no/such", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and "no model 'no/such'" in r.json()["error"]["message"]
    r = gateway.post("/chat/completions", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = gateway.post("/chat/completions", json={"model": "loop/chat"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    fake.reply("/v1/chat/completions", Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}},
                                             headers={"retry-after": "7", "x-ratelimit-remaining-requests": "0",
                                                      "x-ratelimit-reset-requests": "6.5s"}))
    r = gateway.post("/chat/completions", json={"model": "loop/chat", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 429 and r.headers["retry-after"] == "7" and r.json()["error"]["type"] == "rate_limited"
    # the provider's rate-limit headers are handed on (clients pace themselves by them)
    assert r.headers["x-ratelimit-remaining-requests"] == "0" and r.headers["x-ratelimit-reset-requests"] == "6.5s"
    r = gateway.post("/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "OPENAI_API_KEY" in r.json()["error"]["message"]


def test_fields_of_the_wrong_type_and_methods_not_taken_are_a_400_or_405_never_a_server_error(gateway, fake):
    """A well-formed body with a field of the wrong type was a bare 500 with a traceback (which
    both SDKs sent three times), and so was OPTIONS on a route; a malformed Anthropic `system`
    was dropped without a word and the model ran without the caller's instructions."""
    msgs = [{"role": "user", "content": "x"}]
    claude = {"model": "loop/chat", "max_tokens": 5, "messages": msgs}
    bad = [("/chat/completions", {"model": "loop/chat", "messages": msgs, "stream_options": "yes"}),
           ("/messages", {**claude, "tools": "nope"}), ("/messages", {**claude, "metadata": "m"}),
           ("/messages", {**claude, "messages": [{"role": "user", "content": ["str"]}]}),
           ("/messages", {**claude, "messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]}),
           ("/responses", {"model": "loop/chat", "input": "x", "tools": [5]})]
    for path, body in bad:
        r = gateway.post(path, json=body)
        said = r.json()["error"]["message"]
        assert r.status_code == 400 and "wrong type" in said and "\n" not in said, (path, body, r.status_code, r.text)
    for system in ({"text": "be terse"}, ["be terse"], [{"type": "text"}], 5):
        r = gateway.post("/messages", json={**claude, "system": system})
        assert r.status_code == 400 and "'system' must be a string or a list of text blocks" in r.text, (system, r.text)
    for method, path in (("OPTIONS", "/chat/completions"), ("OPTIONS", "/messages"), ("TRACE", "/models")):
        r = gateway.request(method, path)
        assert r.status_code == 405 and f"{method} is not answered at /v1{path}" in r.json()["error"]["message"]
    assert fake.requests == []  # none of them reached the provider


def test_a_process_beside_the_server_routes_by_the_latency_the_server_has_measured(gateway, fake, iom_home,
                                                                                   monkeypatch):
    """Capability nodes rank by the p50 and error rate of recent calls. A batch run from the
    terminal while the web app holds the database could not read them and fell back to the
    registry's declared latency; the web app now answers for them (figures as committed)."""
    from studio.core import Studio

    fake.reply("/v1/chat/completions", Reply(json=chat_reply("ok", 3, 1)))
    for _ in range(3):
        assert gateway.post("/chat/completions", json={"model": "loop/chat", "temperature": 0, "messages": [
            {"role": "user", "content": "hi"}]}).status_code == 200
    assert len(recent_calls(gateway, 3)) == 3  # committed by the server
    monkeypatch.setenv("IOM_GATEWAY_TOKEN", TOKEN)
    studio = Studio(iom_home)
    try:
        stats = studio.engine.recent_call_stats()
    finally:
        studio.close()
    assert stats["loop/chat"]["calls"] == stats["loop/chat"]["answered"] == 3
    assert stats["loop/chat"]["p50Ms"] > 0 and stats["loop/chat"]["errorRate"] == 0.0


def test_a_call_whose_record_cannot_be_kept_is_a_server_error_not_a_bad_request():
    """The studio's disk refused the record (studio/analytics/spool.py): the client's request was
    fine, so not a 400 that tells an SDK not to try again."""
    from studio.analytics.spool import NotRecorded
    from studio.gateway.errors import anthropic_error_detail, classify, openai_error_body

    e = classify(NotRecorded("could not keep the call's record in /home/spool (No space left on device): free space."))
    assert (e.status, e.kind) == (507, "server_error")
    assert openai_error_body(e)["error"]["message"].startswith("could not keep the call's record")
    assert anthropic_error_detail(e)["type"] == "api_error"
    from studio.atomic import NotSaved

    assert classify(NotSaved("could not save /home/pipelines/p.json (Read-only file system): …")).status == 507
