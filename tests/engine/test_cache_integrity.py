"""The output cache's key: a temperature that is not a number is no crash; temperature 0 and
0.0 are one key."""

from __future__ import annotations

from studio.engine.cache import cache_key, deterministic
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.provider_server import Reply

def flow(params=None):
    node = {"id": "x", "kind": "model", "model": "t/m", "prompt": "{{ text }}", "params": params or {}}
    return pipeline([TEXT_IN, node, OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])


def test_a_temperature_that_is_not_a_number_is_not_cacheable_and_no_crash():
    for value in ("hot", [0], {"t": 0}, True, None):
        assert deterministic("openai-chat", {"temperature": value}) is False, value
    assert deterministic("openai-chat", {"temperature": 0.0}) and deterministic("openai-chat", {"temperature": "0"})
    assert deterministic("local", {"temperature": "hot"})


async def test_a_run_with_temperature_hot_calls_the_model_every_time(engine, registry, fake):
    openai_model(registry, fake, "t/m", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("a")))
    for params in ({"temperature": "hot"}, {"temperature": [0]}):
        runs = [await engine.run(flow(params), {"text": "q"}) for _ in range(2)]
        assert [r.nodes["x"].status for r in runs] == ["succeeded"] * 2, [r.error for r in runs]
    assert len(fake.requests) == 4


def test_equal_numbers_are_one_key_and_a_numeric_string_is_not():
    def key(params):
        return cache_key(model_id="m", model_version="v", params=params, prompt="p", system=None, call_input={})

    assert key({"temperature": 0}) == key({"temperature": 0.0})
    assert key({"temperature": 1, "top_p": 1.0, "stop": [2.0]}) == key({"temperature": 1.0, "top_p": 1, "stop": [2]})
    assert key({"temperature": "0"}) != key({"temperature": 0})
    assert key({"temperature": 0.5}) != key({"temperature": 0})
    assert key({"logprobs": True}) != key({"logprobs": 1})
    big = 2**63 + 1  # a seed as an int stays exact
    assert key({"seed": big}) != key({"seed": big + 1})


async def test_temperature_0_then_0_0_is_answered_from_the_cache(engine, registry, fake):
    openai_model(registry, fake, "t/m", "/v1/chat/completions", defaultParams={})
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("a")))
    await engine.run(flow({"temperature": 0}), {"text": "q"})
    assert (await engine.run(flow({"temperature": 0.0}), {"text": "q"})).nodes["x"].status == "cached"
    assert len(fake.requests) == 1