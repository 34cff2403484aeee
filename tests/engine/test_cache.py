"""The output cache: a hit on an identical re-run (recorded with the money saved), a miss
after a parameter changes, nothing cached for non-deterministic calls unless asked, and the
cache surviving a new engine (a restart)."""

from __future__ import annotations

import pytest

from studio.engine import Engine, RunOptions
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.provider_server import Reply


def flow(params=None, cache=None):
    node = {"id": "x", "kind": "model", "model": "t/m", "prompt": "{{ text }}", "params": params or {}}
    if cache is not None:
        node["policy"] = {"cache": cache}
    return pipeline([TEXT_IN, node, OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])


async def test_identical_rerun_hits_and_a_changed_param_misses(engine, registry, fake, recorder, iom_home):
    openai_model(registry, fake, "t/m", "/v1/chat/completions")  # temperature 0: deterministic
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("first", 100, 50)), Reply(json=chat_reply("second")))
    first = await engine.run(flow(), {"text": "q"})
    again = await engine.run(flow(), {"text": "q"})
    assert again.nodes["x"].status == "cached" and again.outputs == first.outputs == {"text": "first"}
    assert len(fake.requests) == 1 and again.cached_nodes == 1
    hit = [c for c, _, _ in recorder.calls if c.cache_hit]
    assert len(hit) == 1 and hit[0].saved_usd == pytest.approx(100e-6 + 50 * 2e-6) and hit[0].cost_usd == 0.0
    changed = await engine.run(flow({"max_tokens": 10}), {"text": "q"})
    assert changed.nodes["x"].status == "succeeded" and changed.outputs == {"text": "second"}
    assert len(fake.requests) == 2
    restarted = Engine(models=registry, caller=engine.caller, recorder=recorder, keys=engine.keys, home=iom_home)
    assert (await restarted.run(flow(), {"text": "q"})).nodes["x"].status == "cached"
    no_cache = await engine.run(flow(), {"text": "q"}, RunOptions(use_cache=False))
    assert no_cache.nodes["x"].status == "succeeded" and len(fake.requests) == 3


async def test_non_deterministic_calls_are_not_cached_unless_the_node_asks(engine, registry, fake):
    openai_model(registry, fake, "t/m", "/v1/chat/completions", defaultParams={"temperature": 0.8})
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("a")))
    for _ in range(2):
        assert (await engine.run(flow(), {"text": "q"})).nodes["x"].status == "succeeded"
    assert len(fake.requests) == 2
    seeded = flow({"seed": 7})
    await engine.run(seeded, {"text": "q"})
    assert (await engine.run(seeded, {"text": "q"})).nodes["x"].status == "cached"
    asked = flow(cache=True)
    await engine.run(asked, {"text": "z"})
    assert (await engine.run(asked, {"text": "z"})).nodes["x"].status == "cached"
    refused = flow({"temperature": 0}, cache=False)
    await engine.run(refused, {"text": "w"})
    assert (await engine.run(refused, {"text": "w"})).nodes["x"].status == "succeeded"


async def test_a_model_edited_within_the_same_second_misses(engine, registry, fake):
    """A spec's time is kept to the second; an edit of what the model is (its endpoint, its
    upstream model, its API shape) must not find the output the previous version gave, even
    when both saves fall in one second (a script: `iom models update`, then `iom run`)."""
    from studio.spec.base import utcnow

    spec = openai_model(registry, fake, "t/m", "/v1/a")
    fake.reply("/v1/a", Reply(json=chat_reply("from a")))
    fake.reply("/v1/b", Reply(json=chat_reply("from b")))
    fake.reply("/v1/c", Reply(json=chat_reply("from c")))
    for _ in range(3):  # both saves and runs within one second of the clock
        start = utcnow()
        assert (await engine.run(flow(), {"text": "q"})).outputs == {"text": "from a"}
        registry.save(spec.model_copy(update={"endpoint": fake.url("/v1/b")}))
        moved = await engine.run(flow(), {"text": "q"})
        if utcnow() == start:
            break
        registry.save(spec)
    else:
        pytest.fail("the clock ticked over in every attempt")
    assert moved.outputs == {"text": "from b"}  # (a miss, or an earlier attempt's own "from b")
    registry.save(registry.get("t/m").model_copy(update={"endpoint": fake.url("/v1/c"), "model": "other"}))
    assert (await engine.run(flow(), {"text": "q"})).outputs == {"text": "from c"}
    registry.save(registry.get("t/m").model_copy(update={"description": "only words changed"}))
    assert (await engine.run(flow(), {"text": "q"})).nodes["x"].status == "cached"
