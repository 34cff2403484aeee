"""What an OpenAI caller sends reaches an OpenAI-format model as sent, through the `openai` SDK
and the running studio over the loopback fakes: a message's speaker `name`, system messages
where the caller put them, the Responses API's `reasoning.effort`; and `/v1/models/{id}` knows
the models `/v1/models` lists, and no others."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.provider_server import Reply
from tests.gateway.conftest import ANTHROPIC_PATH, HF_PATH, OPENAI_PATH
from tests.gateway.test_sdk_openai import text_reply

CLAUDE_OK = {"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
             "content": [{"type": "text", "text": "ok"}], "usage": {"input_tokens": 1, "output_tokens": 1}}


def test_a_speaker_name_reaches_openai_format_models_and_is_refused_or_dropped_for_others(oai, fake):
    """`name` was dropped even OpenAI -> OpenAI: a multi-speaker chat lost who said what."""
    chat = [{"role": "user", "name": "alice", "content": "hi"}, {"role": "user", "name": "bob", "content": "yo"}]
    for model, path in (("loop/openai", OPENAI_PATH), ("loop/hf", HF_PATH)):
        fake.reply(path, Reply(json=text_reply("ok")))
        oai.chat.completions.create(model=model, messages=chat)
        assert fake.last.json["messages"] == [{"role": "user", "name": "alice", "content": "hi"},
                                              {"role": "user", "name": "bob", "content": "yo"}]
    requests = len(fake.requests)
    with pytest.raises(openai.BadRequestError, match="a message's 'name' cannot be sent to loop/claude") as e:
        oai.chat.completions.create(model="loop/claude", messages=chat)
    assert e.value.body["param"] == "messages[].name" and len(fake.requests) == requests
    fake.reply(ANTHROPIC_PATH, Reply(json=CLAUDE_OK))
    raw = oai.chat.completions.with_raw_response.create(model="loop/claude", messages=chat,
                                                        extra_headers={"x-iom-drop-params": "true"})
    assert raw.headers["x-iom-dropped-params"] == "messages[].name" and raw.parse().choices[0].message.content == "ok"
    assert "name" not in str(fake.last.json["messages"])


def test_system_messages_keep_their_place_for_openai_and_are_joined_for_claude(oai, fake):
    """[system s1, user u, system s2] reached OpenAI as [system "s1\\n\\ns2", user u]: the later
    instruction was moved before the turn it follows. Claude takes one system prompt: joined."""
    chat = [{"role": "system", "content": "s1"}, {"role": "user", "content": "u"},
            {"role": "developer", "content": "s2"}, {"role": "user", "content": "v"}]
    fake.reply(OPENAI_PATH, Reply(json=text_reply("ok")))
    oai.chat.completions.create(model="loop/openai", messages=chat)
    assert fake.last.json["messages"] == [{"role": "system", "content": "s1"}, {"role": "user", "content": "u"},
                                          {"role": "system", "content": "s2"}, {"role": "user", "content": "v"}]
    fake.reply(ANTHROPIC_PATH, Reply(json=CLAUDE_OK))
    oai.chat.completions.create(model="loop/claude", messages=chat)
    assert fake.last.json["system"] == "s1\n\ns2"
    assert [m["role"] for m in fake.last.json["messages"]] == ["user", "user"]


def test_responses_reasoning_effort_reaches_openai_and_is_refused_in_its_own_words_elsewhere(oai, fake):
    """`reasoning` was refused for every model, although Chat Completions' `reasoning_effort`
    reaches OpenAI."""
    fake.reply(OPENAI_PATH, Reply(json=text_reply("Bonjour")))
    r = oai.responses.create(model="loop/openai", input="Hi", reasoning={"effort": "high"})
    assert r.output_text == "Bonjour" and fake.last.json["reasoning_effort"] == "high"
    requests = len(fake.requests)
    with pytest.raises(openai.BadRequestError, match="'reasoning.effort' is not supported by loop/claude") as e:
        oai.responses.create(model="loop/claude", input="Hi", reasoning={"effort": "high"})
    assert e.value.body["param"] == "reasoning.effort" and len(fake.requests) == requests
    with pytest.raises(openai.BadRequestError, match="reasoning.summary cannot be carried"):
        oai.responses.create(model="loop/openai", input="Hi", reasoning={"effort": "low", "summary": "auto"})
    fake.reply(ANTHROPIC_PATH, Reply(json=CLAUDE_OK))
    raw = oai.responses.with_raw_response.create(model="loop/claude", input="Hi", reasoning={"effort": "high"},
                                                 extra_headers={"x-iom-drop-params": "true"})
    assert raw.headers["x-iom-dropped-params"] == "reasoning.effort" and "reasoning_effort" not in fake.last.json


def test_retrieve_agrees_with_the_list(oai, raw):
    """A classifier is not listed and chat refuses it; retrieving it answered 200."""
    listed = {m.id for m in oai.models.list()}
    assert "local/sentiment-vader" not in listed and {"loop/openai", "loop/embed"} <= listed
    r = raw.get("/models/local/sentiment-vader")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "model_not_found" and "classifier" in r.json()["error"]["message"]
    for ident in ("loop/openai", "loop/embed"):
        assert oai.models.retrieve(ident).id == ident
