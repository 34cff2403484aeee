"""Issue 14.6 and the small wire fixes of issue 11: `{"text"}` reaches every chat model as one
user message (hub, CLI, pipelines share the hub), an input that fits nothing gets a sentence
with an example, OpenAI-compatible servers that are not OpenAI get `max_tokens`, and Gemini's
400 API_KEY_INVALID is a refused key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.spec.chat import expand_shorthand
from tests.fakes.provider_server import Reply
from tests.providers.conftest import make_spec, req
from tests.providers.test_cli_invoke import PATH, iom  # noqa: F401  (the CLI fixture)
from tests.providers.test_openai_chat import completion

LLM_IN, LLM_OUT = CANONICAL_SCHEMAS["llm"]


def chat(fake, **extra):
    return make_spec("openai-chat", fake.url(PATH), input_schema=LLM_IN, output_schema=LLM_OUT, **extra)


async def test_text_shorthand_is_one_user_message(fake, hub):
    fake.reply(PATH, Reply(json=completion("ok")))
    result = await hub.call(chat(fake), req({"text": "hi", "system": "be brief"}))
    assert result.output["text"] == "ok"
    assert fake.last.json["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


def test_shorthand_leaves_other_inputs_and_types_alone():
    assert expand_shorthand("classifier", {"text": "x"}) == {"text": "x"}
    both = {"text": "x", "prompt": "y"}
    assert expand_shorthand("llm", both) is both


async def test_an_input_that_fits_nothing_shows_an_example(fake, hub):
    with pytest.raises(ProviderError) as e:
        await hub.call(chat(fake), req({"words": "hi"}))
    assert e.value.kind is ErrorKind.INVALID_INPUT
    assert 'an input that fits looks like {"text": "Hello"}' in str(e.value)
    assert fake.requests == []


def test_cli_invoke_accepts_the_text_shorthand(iom, fake):  # noqa: F811
    fake.reply(PATH, Reply(json=completion("Salut")))
    r = iom("invoke", "fake/chat", "--input", '{"text": "hi"}')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Salut" and fake.last.json["messages"] == [{"role": "user", "content": "hi"}]
    r = iom("invoke", "openai/gpt-4o-mini", "--input", '{"words": "hi"}')  # a built-in with the llm schema
    assert r.returncode == 1 and "Traceback" not in r.stderr and '{"text": "Hello"}' in r.stderr


@pytest.mark.parametrize("provider,endpoint_host,name", [
    ("openai", None, "max_completion_tokens"),
    ("huggingface", None, "max_tokens"),
    ("ollama", None, "max_tokens"),
    ("http", None, "max_tokens"),
])
async def test_each_server_gets_its_own_max_tokens_name(fake, hub, provider, endpoint_host, name):
    fake.reply(PATH, Reply(json=completion("ok")))
    await hub.call(chat(fake, provider=provider), req({"text": "hi"}, max_tokens=7))
    other = {"max_tokens", "max_completion_tokens"} - {name}
    assert fake.last.json[name] == 7 and not other & set(fake.last.json)


async def test_gemini_bad_key_is_a_refused_key(fake, hub):
    path = "/v1beta/models/m-1:generateContent"
    fake.reply(path, Reply(status=400, json={"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                     "domain": "googleapis.com"}]}}))
    spec = make_spec("gemini", fake.url("/v1beta"), input_schema=LLM_IN, output_schema=LLM_OUT)
    with pytest.raises(ProviderError) as e:
        await hub.call(spec, req({"text": "hi"}))
    assert e.value.kind is ErrorKind.AUTH
