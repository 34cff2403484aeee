"""A pipeline's `gateway` block through the running studio, with both official SDKs: the default
(last user message, {"text"} reply) unchanged, the whole chat into a named input, a JSON-only
pipeline answering a plain sentence with a 400, the reply picked from the outputs (streamed
too), and a block naming inputs or outputs that do not exist refused by validation."""

from __future__ import annotations

import anthropic
import openai
import pytest

from studio.engine.validate import validate_pipeline
from studio.errors import UserError
from studio.registry import ModelRegistry
from studio.registry.pipelines import PipelineRegistry
from studio.spec.migrations import load_pipeline
from tests.fakes.provider_server import Reply, sse
from tests.gateway.conftest import OPENAI_PATH
from tests.providers.conftest import DictKeys


def _doc(pid, schema, middle, gateway=None, to_out=None):
    """input -> middle node(s) -> output; `to_out` overrides the edges into the output."""
    nodes = [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": schema}},
             *middle, {"id": "out", "kind": "output"}]
    edges = [{"id": "e1", "source": "in", "target": middle[0]["id"]}]
    edges += to_out or [{"id": "e2", "source": middle[0]["id"], "target": "out"}]
    doc = {"format": "iom.pipeline", "version": 1, "id": pid, "name": pid, "nodes": nodes, "edges": edges}
    if gateway is not None:
        doc["gateway"] = gateway
    return doc


ECHO = _doc("gw-echo", {"text": {"type": "string"}},
            [{"id": "t", "kind": "transform", "template": "echo: {{ text }}"}])
CHAT = _doc("gw-chat", {"chat": {"type": "array"}, "note": {"type": "string"}},
            [{"id": "t", "kind": "transform", "expression": "{count: length(chat), roles: join(',', chat[*].role)}"}],
            gateway={"input": "messages", "inputPort": "chat", "reply": "roles"})
COUNT = {**CHAT, "id": "gw-count", "name": "gw-count", "gateway": {"input": "messages", "reply": "count"}}
NAMED = _doc("gw-json", {"name": {"type": "string"}},
             [{"id": "t", "kind": "transform", "expression": "{greeting: join(' ', ['hello', name]), size: length(name)}"}],
             gateway={"input": "json", "reply": "greeting"})
ANSWER = _doc("gw-answer", {"text": {"type": "string"}},
              [{"id": "m", "kind": "model", "model": "loop/openai", "prompt": "{{ text }}"}],
              gateway={"reply": "answer"},
              to_out=[{"id": "e2", "source": "m", "sourcePort": "text", "target": "out", "targetPort": "answer"},
                      {"id": "e3", "source": "in", "sourcePort": "text", "target": "out", "targetPort": "question"}])
BAD_REPLY = {**NAMED, "id": "gw-bad", "name": "gw-bad", "gateway": {"input": "json", "reply": "nope"}}


@pytest.fixture(scope="module", autouse=True)
def pipelines(home):
    registry = PipelineRegistry(home)
    for doc in (ECHO, CHAT, COUNT, NAMED, ANSWER, BAD_REPLY):
        registry.save(load_pipeline(doc))


def test_default_is_unchanged_last_user_message_and_text_reply(oai, claude):
    r = oai.chat.completions.create(model="pipeline/gw-echo", messages=[
        {"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "echo: hi"
    r = oai.chat.completions.create(model="pipeline/gw-echo", messages=[{"role": "user", "content": '{"text": "obj"}'}])
    assert r.choices[0].message.content == "echo: obj"
    msg = claude.messages.create(model="pipeline/gw-echo", max_tokens=10, messages=[{"role": "user", "content": "yo"}])
    assert msg.content[0].text == "echo: yo"


def test_messages_mode_gets_the_whole_chat_on_both_endpoints(oai, claude):
    chat = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    r = oai.chat.completions.create(model="pipeline/gw-chat", messages=chat)
    assert r.choices[0].message.content == "system,user,assistant,user"  # a string output as is
    chunks = list(oai.chat.completions.create(model="pipeline/gw-chat", messages=chat, stream=True))
    assert "".join(ch.delta.content or "" for c in chunks for ch in c.choices) == "system,user,assistant,user"
    msg = claude.messages.create(model="pipeline/gw-chat", max_tokens=10, system="be kind", messages=chat[1:])
    assert msg.content[0].text == "system,user,assistant,user"
    # no inputPort: the first declared input; a non-string reply arrives as JSON
    assert oai.chat.completions.create(model="pipeline/gw-count", messages=chat).choices[0].message.content == "4"
    with claude.messages.stream(model="pipeline/gw-count", max_tokens=10, messages=chat[1:]) as stream:
        assert "".join(stream.text_stream) == "3"


def test_json_mode_takes_an_object_and_answers_anything_else_with_one_sentence(oai, claude):
    r = oai.chat.completions.create(model="pipeline/gw-json", messages=[{"role": "user", "content": '{"name": "Ada"}'}])
    assert r.choices[0].message.content == "hello Ada"
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="pipeline/gw-json", messages=[{"role": "user", "content": "Ada"}])
    message = e.value.body["message"]
    assert "JSON object" in message and '{"name": "…"}' in message and "Traceback" not in message
    with pytest.raises(openai.BadRequestError, match="JSON object"):
        list(oai.chat.completions.create(model="pipeline/gw-json", stream=True,
                                         messages=[{"role": "user", "content": "[1, 2]"}]))
    with pytest.raises(anthropic.BadRequestError, match="JSON object"):
        claude.messages.create(model="pipeline/gw-json", max_tokens=10, messages=[{"role": "user", "content": "Ada"}])
    with claude.messages.stream(model="pipeline/gw-json", max_tokens=10,
                                messages=[{"role": "user", "content": '{"name": "Bo"}'}]) as stream:
        assert "".join(stream.text_stream) == "hello Bo"


def test_the_reply_output_streams_from_its_model_node(oai, claude, fake):
    part = lambda t: {"id": "c", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
    fake.reply(OPENAI_PATH, Reply(chunks=sse(part("Sun"), part("ny"),
                                             {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})))
    chunks = list(oai.chat.completions.create(model="pipeline/gw-answer", stream=True,
                                              messages=[{"role": "user", "content": "Weather?"}]))
    deltas = [ch.delta.content for c in chunks for ch in c.choices if ch.delta.content]
    assert "".join(deltas) == "Sunny"  # the question output is not in the reply (deltas queued together go as one)
    fake.reply(OPENAI_PATH, Reply(json={"id": "x", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Rainy"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}))
    msg = claude.messages.create(model="pipeline/gw-answer", max_tokens=10, messages=[{"role": "user", "content": "Weather?"}])
    assert msg.content[0].text == "Rainy"


def test_a_gateway_block_naming_nothing_real_is_refused(oai, claude, home):
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="pipeline/gw-bad", messages=[{"role": "user", "content": '{"name": "x"}'}])
    assert "gateway.reply 'nope' is not an output of pipeline 'gw-bad'" in e.value.body["message"]
    with pytest.raises(anthropic.BadRequestError, match="gateway.reply"):
        claude.messages.create(model="pipeline/gw-bad", max_tokens=10, messages=[{"role": "user", "content": "{}"}])
    models = ModelRegistry(home, DictKeys({}))
    bad_port = {**CHAT, "gateway": {"input": "messages", "inputPort": "history"}}
    problems = [str(p) for p in validate_pipeline(load_pipeline(bad_port), models)]
    assert problems == ["pipeline: gateway.inputPort 'history' is not an input of pipeline 'gw-chat'; "
                        "use one of 'chat', 'note'"]
    stray = {**ECHO, "gateway": {"inputPort": "text"}}
    assert "only used with gateway.input 'messages'" in str(validate_pipeline(load_pipeline(stray), models)[0])
    assert validate_pipeline(load_pipeline(CHAT), models) == []
    with pytest.raises(UserError, match="gateway.input"):
        load_pipeline({**ECHO, "gateway": {"input": "everything"}})


PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_text_parts_arrive_a_line_apart_and_an_image_is_refused_not_dropped(oai, claude):
    parts = [{"type": "text", "text": "What is in"}, {"type": "text", "text": "this picture?"}]
    r = oai.chat.completions.create(model="pipeline/gw-echo", messages=[{"role": "user", "content": parts}])
    assert r.choices[0].message.content == "echo: What is in\nthis picture?"
    msg = claude.messages.create(model="pipeline/gw-echo", max_tokens=10, messages=[{"role": "user", "content": parts}])
    assert msg.content[0].text == "echo: What is in\nthis picture?"
    image = {"type": "image_url", "image_url": {"url": PNG}}
    for content in ([parts[0], image, parts[1]], [image]):  # an image alone ran the pipeline on "" with a 200
        with pytest.raises(openai.BadRequestError) as e:
            oai.chat.completions.create(model="pipeline/gw-echo", messages=[{"role": "user", "content": content}])
        assert e.value.body["message"] == (
            "pipeline/gw-echo takes the text of the last user message, which holds an image it cannot take; send "
            "text only, or give the pipeline a gateway block with \"input\": \"messages\" to hand it the whole chat, "
            "images included.")
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",", 1)[1]}}
    with pytest.raises(anthropic.BadRequestError, match="holds an image it cannot take"):
        claude.messages.create(model="pipeline/gw-echo", max_tokens=10,
                               messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}, block]}])
    # a pipeline given the whole chat takes the image along with it
    r = oai.chat.completions.create(model="pipeline/gw-count", messages=[{"role": "user", "content": [parts[0], image]}])
    assert r.choices[0].message.content == "1"
