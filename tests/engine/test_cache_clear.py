"""The output cache as a person sees it: what it holds per model, clearing all of it, one
model's or the older entries (the file shrinks), a file written by the previous version
upgraded in place, a busy file not mistaken for a broken one, and a built-in model whose code
or library changed not answered from what the old one computed."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from studio.engine.output_cache import OutputCache, cache_path
from studio.errors import UserError


def make_cache(home, start=1000.0):
    cache = OutputCache(cache_path(home))
    now = [start]
    cache.clock = lambda: now[0]
    return cache, now


def test_summary_per_model_and_clearing_by_model_by_age_and_all(tmp_path):
    cache, now = make_cache(tmp_path)
    for i in range(3):
        cache.put(f"a{i}", {"output": {"text": "x" * 20_000}}, model="m/a")
        now[0] += 10
    cache.put("b0", {"output": {"text": "y"}}, model="m/b")
    summary = cache.summary()
    assert summary["entries"] == 4 and summary["bytes"] > 60_000
    by_model = {m["model"]: m for m in summary["models"]}
    assert by_model["m/a"]["entries"] == 3 and (by_model["m/a"]["oldest"], by_model["m/a"]["newest"]) == (1000.0, 1020.0)
    assert by_model["m/b"]["entries"] == 1 and by_model["m/b"]["bytes"] < 100

    assert cache.clear(model="m/b") == 1
    assert cache.get("b0") is None and cache.get("a0") is not None
    assert cache.clear(model="m/a", older_than_s=25) == 1  # at 1030 only the one made at 1000 is older than 25 s
    assert cache.get("a0") is None and cache.get("a1") is not None
    big = cache.summary()["fileBytes"]
    assert cache.clear() == 2
    assert cache.summary()["entries"] == 0
    assert cache.summary()["fileBytes"] < big - 30_000  # the space went back to the disk
    assert cache.clear() == 0
    cache.close()


def test_nothing_cached_yet_makes_no_file(tmp_path):
    cache = OutputCache(cache_path(tmp_path))
    assert cache.summary()["entries"] == 0 and cache.clear() == 0
    assert not cache_path(tmp_path).exists()


def test_a_file_of_the_previous_version_is_upgraded_in_place(tmp_path):
    path = cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript("""CREATE TABLE outputs (key TEXT PRIMARY KEY, entry TEXT NOT NULL, size INTEGER NOT NULL,
                         used REAL NOT NULL); CREATE INDEX outputs_by_use ON outputs(used);""")
    old.execute("INSERT INTO outputs VALUES ('k', ?, 10, 500.0)", (json.dumps({"modelId": "m/old", "output": {"text": "kept"}}),))
    old.commit()
    old.close()
    cache, _ = make_cache(tmp_path)
    assert cache.get("k") == {"modelId": "m/old", "output": {"text": "kept"}}
    assert cache.summary()["models"] == [{"model": "m/old", "entries": 1, "bytes": 10, "oldest": 500.0, "newest": 500.0}]
    cache.put("n", {"output": {"text": "new"}}, model="m/new")
    assert cache.clear(model="m/old") == 1 and cache.get("n") is not None
    cache.close()


def test_a_file_busy_in_another_process_is_a_miss_not_a_broken_file(tmp_path):
    """Upgrading the file needs a write; another process holding it answers "busy", which is
    no reason to set the file aside as unreadable (and lose every entry)."""
    path = cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE outputs (key TEXT PRIMARY KEY, entry TEXT NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL)")
    other.execute("INSERT INTO outputs VALUES ('k', '{\"output\": {}}', 2, ?)", (time.time(),))
    other.execute("BEGIN IMMEDIATE")  # another studio process in the middle of a write
    cache = OutputCache(path)
    assert cache.get("k") is None
    with pytest.raises(UserError, match="another studio process is writing to it; try again"):
        cache.summary()
    assert path.exists() and not list(path.parent.glob("*unreadable*"))
    other.execute("COMMIT")
    assert cache.get("k") == {"output": {}}
    other.close()
    cache.close()


def test_a_built_in_model_keys_on_its_code_and_libraries(monkeypatch):
    import importlib.metadata

    import studio.providers.local as local
    from studio.engine.cache import model_version
    from studio.spec.model import ModelSpec

    builtin = ModelSpec(id="local/sentiment-vader", name="s", provider="local", api="local", model="sentiment-vader")
    remote = ModelSpec(id="t/m", name="m", provider="openai", api="openai-chat", model="gpt", endpoint="http://127.0.0.1:9/v1")
    real_version = importlib.metadata.version
    today = local.implementation_version.__wrapped__()
    with monkeypatch.context() as patch:
        patch.setattr(importlib.metadata, "version", lambda name: "99.0" if name == "yake" else real_version(name))
        assert local.implementation_version.__wrapped__() != today

    before = model_version(builtin), model_version(remote)
    monkeypatch.setattr(local, "implementation_version", lambda: "the next release")
    after = model_version(builtin.model_copy()), model_version(remote.model_copy())  # new objects: not the memo
    assert after[0] != before[0] and after[1] == before[1]


def test_an_answer_that_echoed_a_key_is_not_stored(tmp_path):
    """The audit trail masks a key a provider echoed; the cache file must not keep it either,
    nor keep it masked (a hit would answer differently from the model): it keeps nothing."""
    from studio.secrets import redactor

    redactor.remember("sk-cache-echo-secret-0042")
    cache, _ = make_cache(tmp_path)
    cache.put("k", {"output": {"text": "you sent Bearer sk-cache-echo-secret-0042, thanks"}}, model="m/a")
    cache.put("plain", {"output": {"text": "nothing secret"}}, model="m/a")
    assert cache.get("k") is None
    assert cache.get("plain")["output"]["text"] == "nothing secret"
    cache.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"sk-cache-echo-secret-0042" not in stored and b"nothing secret" in stored
