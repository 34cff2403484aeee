"""`iom invoke` and `iom models check` in a subprocess, against the fake provider server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fakes.provider_server import GATE, Reply, sse

KEY = "sk-cli-SECRET-abcdef123456"
PATH = "/v1/chat/completions"


@pytest.fixture
def iom(iom_home, fake, tmp_path):
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               FAKE_PROVIDER_KEY=KEY)

    def run(*args, popen=False):
        cmd = [sys.executable, "-m", "studio", *args]
        if popen:
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)

    model = {"id": "fake/chat", "name": "Fake chat", "provider": "openai", "api": "openai-chat",
             "endpoint": fake.url(PATH), "model": "fake-1", "keyRef": "FAKE_PROVIDER_KEY",
             "prices": {"inputPerToken": 1e-6, "outputPerToken": 2e-6}}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    r = run("models", "add", str(path))
    assert r.returncode == 0, r.stderr
    return run


def chunk(text=None, usage=None):
    return {"id": "c-cli", "choices": [{"index": 0, "delta": {"content": text} if text else {}}] if text else [],
            **({"usage": usage} if usage else {})}


def test_invoke_stream_prints_text(iom, fake):
    fake.reply(PATH, Reply(chunks=sse(chunk("Hello"), chunk(" world"), chunk(usage={"prompt_tokens": 3, "completion_tokens": 2}))))
    r = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi"}', "--stream", "--param", "temperature=0.3",
            "--param", "stop=END")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello world\n"
    sent = fake.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json["temperature"] == 0.3 and sent.json["stop"] == "END" and sent.json["stream"] is True


def test_invoke_json_summary(iom, fake, tmp_path):
    fake.reply(PATH, Reply(json={"id": "c-9", "choices": [{"message": {"content": "Fine"}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 10, "completion_tokens": 5}}))
    f = tmp_path / "in.json"
    f.write_text('{"messages": [{"role": "user", "content": "How are you?"}]}')
    r = iom("invoke", "fake/chat", "--input", f"@{f}", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["output"] == {"text": "Fine", "finishReason": "stop"} and doc["model"] == "fake/chat"
    assert doc["usage"]["inputTokens"] == 10 and doc["usage"]["source"] == "provider"
    assert doc["cost"] == {"usd": pytest.approx(2e-5), "source": "spec"}
    assert doc["requestId"] == "c-9" and doc["latencyMs"] > 0 and "ttftMs" in doc
    assert fake.last.json["messages"] == [{"role": "user", "content": "How are you?"}]


def test_invoke_errors_are_one_line_without_secret(iom, fake):
    fake.reply(PATH, Reply(status=401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    r = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi"}')
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "API key" in r.stderr and KEY not in r.stderr and KEY[:12] not in r.stderr
    r = iom("invoke", "fake/chat", "--input", "{not json")
    assert r.returncode == 1 and "not valid JSON" in r.stderr


def test_a_token_count_no_call_can_have_is_estimated_and_the_call_recorded(iom, fake):
    """A token count past 64 bits fits no analytics column: the call's usage is estimated
    instead (marked so, priced from it), one warning line says why, and the call is recorded."""
    fake.reply(PATH, Reply(raw='{"id": "c-7", "choices": [{"message": {"content": "Fine"}, "finish_reason": "stop"}], '
                               '"usage": {"prompt_tokens": 100000000000000000000, "completion_tokens": 5}}'))
    r = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi"}', "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["output"]["text"] == "Fine" and doc["usage"]["source"] == "estimate"
    assert 0 < doc["usage"]["inputTokens"] < 100 and doc["cost"]["source"] == "spec"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iom: warning: fake/chat reported token counts no call can have"), r.stderr
    summary = json.loads(iom("analytics", "--json").stdout)["summary"]
    assert summary["calls"] == 1 and summary["input_tokens"] == doc["usage"]["inputTokens"]


def test_models_check_stores_health(iom, fake):
    fake.reply("/v1/models", Reply(json={"data": []}))
    r = iom("models", "check", "fake/chat")
    assert r.returncode == 0, r.stderr
    assert fake.last.path == "/v1/models" and fake.last.headers["authorization"] == f"Bearer {KEY}"
    listed = json.loads(iom("models", "list", "--json").stdout)
    assert [m["health"]["state"] for m in listed if m["id"] == "fake/chat"] == ["ok"]
    fake.reply("/v1/models", Reply(status=401, json={"error": {"message": "bad key"}}))
    r = iom("models", "check", "--all", "--json")
    states = json.loads(r.stdout)
    assert states["fake/chat"]["state"] == "auth_failed" and states["local/text-stats"]["state"] == "ok"
    assert states["openai/gpt-4o-mini"]["state"] == "key_missing"


def test_faulty_model_is_marked_in_list(iom, tmp_path):
    model = {"id": "fake/faulty", "name": "Faulty", "provider": "local", "api": "local", "model": "text-stats",
             "faults": {"errorRate": 0.5}}
    path = tmp_path / "faulty.json"
    path.write_text(json.dumps(model))
    assert iom("models", "add", str(path)).returncode == 0
    row = [line for line in iom("models", "list").stdout.splitlines() if line.startswith("fake/faulty")]
    assert row and "(faults)" in row[0]


def test_faulty_model_is_marked_on_the_registry_page_rows():
    from studio.spec.model import ModelSpec
    from studio.spec.model import HealthStatus
    from studio.ui.registry_page import row_for

    spec = ModelSpec.model_validate({"id": "a/b", "name": "b", "provider": "local", "api": "local", "model": "x",
                                     "faults": {"addedLatencyMs": 100}})
    assert row_for(spec, HealthStatus())["faults"] is True
    assert row_for(spec.model_copy(update={"faults": None}), HealthStatus())["faults"] is False


def test_invoke_stream_prints_first_words_before_the_rest_arrives(iom, fake):
    fake.reply(PATH, Reply(chunks=[*sse(chunk("First"), done=False), GATE, *sse(chunk(" rest"))]))
    proc = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi"}', "--stream", popen=True)
    try:
        assert proc.stdout.read(5) == "First"  # the server still holds the rest at the gate
        fake.gate.set()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert out == " rest\n" and proc.returncode == 0, err


def test_invoke_says_the_call_id_calls_show_finds(iom, fake):
    """`iom invoke` named no call id: `iom calls show` could find its call only by the provider's
    request id, which a provider reuses (two calls here answer as "c-same")."""
    reply = {"id": "c-same", "choices": [{"message": {"content": "Fine"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    fake.reply(PATH, Reply(json=reply))
    r = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi"}', "--json")
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)["callId"]
    fake.reply(PATH, Reply(json=reply))
    r = iom("invoke", "fake/chat", "--input", '{"prompt": "Hi again"}')
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Fine\n"
    [line] = r.stderr.strip().splitlines()
    second = line.split()[1].rstrip(":")
    assert line.startswith(f"call {second}: latency ") and f"iom calls show {second}" in line and second != first
    for call_id, prompt in ((first, "Hi"), (second, "Hi again")):
        r = iom("calls", "show", call_id, "--json")
        assert r.returncode == 0, r.stderr
        call = json.loads(r.stdout)
        assert call["id"] == call_id and call["request_id"] == "c-same" and json.loads(call["input"]["text"]) == {"prompt": prompt}
