"""A `pipeline/<id>` whose model node fails upstream is answered as a direct call to that model
would be (502 for a provider's 500, 504 for a timeout, 429 with retry-after), not as the
caller's own bad request; a run that failed on its input stays a 400. Both SDKs see it, and
a stream too."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest

from studio.registry import ModelRegistry
from studio.registry.pipelines import PipelineRegistry
from studio.spec import ModelSpec
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.migrations import load_pipeline
from tests.fakes.provider_server import Reply
from tests.providers.conftest import DictKeys

PATHS = {"e500": "/e500/v1/chat/completions", "e429": "/e429/v1/chat/completions", "hang": "/hang/v1/chat/completions"}


def _doc(pid: str, model: str, **policy) -> dict:
    return {"format": "iom.pipeline", "version": 1, "id": pid, "name": pid,
            "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                      {"id": "m", "kind": "model", "model": model, "prompt": "{{ text }}",
                       "policy": {"retries": 0, **policy}},
                      {"id": "out", "kind": "output"}],
            "edges": [{"id": "e1", "source": "in", "target": "m"}, {"id": "e2", "source": "m", "target": "out"}]}


@pytest.fixture(scope="module", autouse=True)
def failing(fake, home):
    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    models = ModelRegistry(home, DictKeys({}))
    for name, path in PATHS.items():
        models.save(ModelSpec(id=f"fail/{name}", name=name, provider="openai", api="openai-chat", endpoint=fake.url(path),
                              model="gpt-test", key_ref="GW_KEY", input_schema=llm_in, output_schema=llm_out))
    fake.reply(PATHS["e500"], Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    fake.reply(PATHS["e429"], Reply(status=429, headers={"retry-after": "3"},
                                    json={"error": {"message": "slow down", "type": "rate_limit_error"}}))
    fake.reply(PATHS["hang"], lambda rec: (time.sleep(3), Reply(json={}))[1])
    pipelines = PipelineRegistry(home)
    pipelines.save(load_pipeline(_doc("p-e500", "fail/e500")))
    pipelines.save(load_pipeline(_doc("p-e429", "fail/e429", timeoutS=0.5)))
    pipelines.save(load_pipeline(_doc("p-hang", "fail/hang", timeoutS=0.5)))
    pipelines.save(load_pipeline({**_doc("p-json", "fail/e500"), "gateway": {"input": "json"}}))
    user = _doc("p-user", "fail/e500")
    user["nodes"][1] = {"id": "t", "kind": "transform", "expression": "{text: abs(text)}"}
    user["edges"] = [{"id": "e1", "source": "in", "target": "t"}, {"id": "e2", "source": "t", "target": "out"}]
    pipelines.save(load_pipeline(user))


def _ask(raw, model: str, **extra):
    return raw.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "x"}], **extra})


def test_an_upstream_500_is_a_502_as_for_the_model_itself(raw, oai, claude):
    direct, piped = _ask(raw, "fail/e500"), _ask(raw, "pipeline/p-e500")
    assert direct.status_code == piped.status_code == 502, piped.text
    assert piped.json()["error"]["type"] == direct.json()["error"]["type"] == "server"
    assert "node 'm' failed" in piped.json()["error"]["message"] and "HTTP 500" in piped.json()["error"]["message"]
    assert "x-should-retry" not in piped.headers  # a server error may pass: the SDKs retry it
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(model="pipeline/p-e500", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.InternalServerError):
        list(oai.chat.completions.create(model="pipeline/p-e500", stream=True, messages=[{"role": "user", "content": "x"}]))
    with pytest.raises(anthropic.InternalServerError):
        claude.messages.create(model="pipeline/p-e500", max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_a_rate_limited_node_is_a_429_with_its_retry_after(raw, oai):
    piped = _ask(raw, "pipeline/p-e429")
    assert piped.status_code == 429 and piped.headers["retry-after"] == "3", (piped.status_code, piped.text)
    assert piped.json()["error"]["type"] == "rate_limited"
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="pipeline/p-e429", messages=[{"role": "user", "content": "x"}])


def test_a_node_that_timed_out_is_a_504(raw):
    piped = _ask(raw, "pipeline/p-hang")
    assert piped.status_code == 504 and piped.json()["error"]["type"] == "timeout", piped.text


def test_a_run_that_failed_on_its_input_stays_a_400(raw):
    piped = _ask(raw, "pipeline/p-json")  # "x" is not the JSON object this pipeline takes
    assert piped.status_code == 400 and piped.json()["error"]["type"] == "invalid_request_error", piped.text
    piped = _ask(raw, "pipeline/p-user")  # a node that fails on what it was given: abs() of a text
    assert piped.status_code == 400 and piped.json()["error"]["type"] == "invalid_request_error", piped.text
    assert "node 't' failed" in piped.json()["error"]["message"]
