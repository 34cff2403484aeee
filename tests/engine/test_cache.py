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


def test_the_cache_is_bounded_and_keeps_what_was_used_last(tmp_path, monkeypatch):
    """Past MAX_ENTRIES (or MAX_BYTES) the least recently used entries go, a tenth below the
    bound; an entry read again lately stays however old it is."""
    from studio.engine.output_cache import OutputCache

    monkeypatch.setattr(OutputCache, "MAX_ENTRIES", 50)
    monkeypatch.setattr(OutputCache, "PRUNE_EVERY", 10)
    monkeypatch.setattr(OutputCache, "TOUCH_AFTER_S", 0.0)
    cache = OutputCache(tmp_path / "cache" / "outputs.sqlite3")
    ticks = iter(range(1_000_000))
    cache.clock = lambda: float(next(ticks))  # every put and touch a moment later than the one before
    cache.put("k0", {"output": {"text": "first"}})
    for i in range(1, 60):
        cache.put(f"k{i}", {"output": {"text": f"n{i}"}})
        if i % 7 == 0:
            assert cache.get("k0") == {"output": {"text": "first"}}  # used again and again
    count = lambda: cache._connection().execute("SELECT count(*) FROM outputs").fetchone()[0]  # noqa: E731
    assert count() < 60  # pruned: at most the bound and the puts since the last check
    assert cache.get("k0") is not None and cache.get("k59") is not None
    assert cache.get("k1") is None  # the oldest never read again went first

    monkeypatch.setattr(OutputCache, "MAX_BYTES", 400_000)  # the byte bound alone: entries of ~10 KB
    for i in range(60, 200):
        cache.put(f"k{i}", {"output": {"text": f"{i}" + "x" * 10_000}})
    db = cache._connection()
    used = (db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]) \
        * db.execute("PRAGMA page_size").fetchone()[0]
    assert used <= 400_000 + 10 * 11_000, used  # within the bound but for the puts since the last check
    assert cache.get("k199") is not None and cache.get("k60") is None
    cache.close()
    later = OutputCache(tmp_path / "cache" / "outputs.sqlite3")  # another process: its first put checks the bounds
    later.clock = lambda: 1000.0  # the ticks' time, not the epoch's (a remote entry ages after a week)
    assert later.get("k199") is not None
    monkeypatch.setattr(OutputCache, "MAX_ENTRIES", 5)
    later.put("k-new", {"output": {"text": "new"}})
    assert later._connection().execute("SELECT count(*) FROM outputs").fetchone()[0] <= 5
    later.close()


def test_an_unreadable_cache_file_is_set_aside_and_old_files_are_removed(tmp_path):
    from studio.engine.output_cache import OutputCache

    folder = tmp_path / "cache"
    (folder / "outputs" / "ab").mkdir(parents=True)
    (folder / "outputs" / "ab" / "abcdef.json").write_text("{}", "utf-8")  # an earlier version's cache
    (folder / "outputs.sqlite3").write_bytes(b"this is not a database" * 100)
    cache = OutputCache(folder / "outputs.sqlite3")
    assert cache.get("k") is None
    cache.put("k", {"output": {"text": "kept"}})
    assert cache.get("k") == {"output": {"text": "kept"}}
    assert [p.name.startswith("outputs.sqlite3.unreadable-") for p in folder.iterdir() if "unreadable" in p.name] == [True]
    import time as _time

    for _ in range(100):
        if not (folder / "outputs").exists():
            break
        _time.sleep(0.05)
    assert not (folder / "outputs").exists()
    cache.close()


def test_an_output_with_a_lone_surrogate_is_cached_exactly(tmp_path):
    """SQLite holds UTF-8 only: such an entry used to raise out of `put` and fail its run."""
    from studio.engine.output_cache import OutputCache

    cache = OutputCache(tmp_path / "outputs.sqlite3")
    entry = {"output": {"text": "half \ud83d of a pair, ü"}, "costUsd": None}
    cache.put("k", entry, model="m/a")
    assert cache.get("k") == entry
