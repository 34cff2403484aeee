"""Every gateway answer names its request (`x-request-id`, which the openai SDK shows as
`_request_id`; `request-id`, the anthropic SDK's), and the call it made is recorded under that
id — a pipeline's run, too — so an id in a client's log finds the call in the analytics."""

from __future__ import annotations

import httpx
import openai
import pytest

from studio.registry.pipelines import PipelineRegistry
from studio.spec.migrations import load_pipeline
from tests.fakes.provider_server import Reply, sse
from tests.gateway.conftest import OPENAI_PATH, TOKEN

ASK = [{"role": "user", "content": "Hi"}]
ECHO = {"format": "iom.pipeline", "version": 1, "id": "gw-id-echo", "name": "gw-id-echo",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                  {"id": "t", "kind": "transform", "template": "echo: {{ text }}"}, {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "target": "t"}, {"id": "e2", "source": "t", "target": "out"}]}


def text_reply(text="Hello"):
    return {"id": "chatcmpl-x", "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def read(server: str, query: str, *args):
    answer = httpx.post(server + "/api/analytics/read", json={"query": query, "args": list(args)},
                        headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def recorded_call(server: str, call_id: str) -> dict:
    calls = {c["id"]: c for c in read(server, "recent_calls", {"filters": {}}, 500)}
    assert call_id in calls, f"no call recorded under the answer's id {call_id}"
    return calls[call_id]


def test_a_model_call_is_recorded_under_the_id_the_answer_names(server, oai, claude, fake):
    fake.reply(OPENAI_PATH, Reply(json=text_reply()))
    r = oai.chat.completions.create(model="loop/openai", messages=ASK)
    assert r._request_id and recorded_call(server, r._request_id)["model_id"] == "loop/openai"

    fake.reply(OPENAI_PATH, Reply(chunks=sse({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
                                             {"id": "c", "choices": [{"index": 0, "delta": {"content": "lo"},
                                                                      "finish_reason": "stop"}]})))
    with oai.chat.completions.with_streaming_response.create(model="loop/openai", messages=ASK, stream=True) as s:
        streamed_id = s.headers["x-request-id"]
        assert "".join(c.choices[0].delta.content or "" for c in s.parse() if c.choices) == "Hello"
    assert recorded_call(server, streamed_id)["status"] == "ok"

    fake.reply(OPENAI_PATH, Reply(json=text_reply()))
    msg = claude.messages.create(model="loop/openai", max_tokens=10, messages=ASK)
    assert msg._request_id and recorded_call(server, msg._request_id)["model_id"] == "loop/openai"
    assert len({r._request_id, streamed_id, msg._request_id}) == 3


def test_a_failed_call_is_recorded_under_its_id_too(server, oai, fake):
    fake.reply(OPENAI_PATH, Reply(status=500, json={"error": {"message": "boom"}}))
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="loop/openai", messages=ASK)
    call = recorded_call(server, caught.value.request_id)
    assert call["status"] == "error" and call["model_id"] == "loop/openai"


def test_a_pipeline_answer_names_its_run(server, home, oai):
    PipelineRegistry(home).save(load_pipeline(ECHO))
    r = oai.chat.completions.create(model="pipeline/gw-id-echo", messages=ASK)
    assert r.choices[0].message.content == "echo: Hi"
    run = read(server, "get_run", r._request_id)
    assert run is not None and run["pipeline_id"] == "gw-id-echo" and run["status"] == "succeeded"


def test_a_refused_request_still_names_itself(raw):
    answer = raw.post("/chat/completions", json={"model": "loop/openai"})
    assert answer.status_code == 400 and len(answer.headers["x-request-id"]) == 32
    assert answer.headers["request-id"] == answer.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_the_doors_refusals_name_their_request(server, path):
    bad_token = httpx.post(server + path, json={}, headers={"authorization": "Bearer wrong"})
    not_json = httpx.post(server + path, content="{}", headers={"authorization": f"Bearer {TOKEN}",
                                                                "content-type": "text/plain"})
    for answer, status in ((bad_token, 401), (not_json, 415)):
        assert answer.status_code == status and len(answer.headers.get("x-request-id", "")) == 32
        assert answer.headers["request-id"] == answer.headers["x-request-id"]
