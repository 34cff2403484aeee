"""The output cache answers as the model did, or not at all: an answer holding a key (or
anything the audit trail masks) is not kept, masked or plain; a damaged file is set aside at
any use, and `iom cache clear` always succeeds on one; a temperature that is not a number is
no crash; temperature 0 and 0.0 are one key; IOM_HOME/cache being a file is a miss, said once."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time

from studio.engine.cache import cache_key, deterministic
from studio.engine.output_cache import OutputCache, cache_path
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.provider_server import Reply

KEY = "sk-integrity-known-secret-0042"
SHAPED = "sk-example-not-a-real-key-1234567890"


def flow(params=None):
    node = {"id": "x", "kind": "model", "model": "t/m", "prompt": "{{ text }}", "params": params or {}}
    return pipeline([TEXT_IN, node, OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])


def stored_bytes(home) -> bytes:
    return b"".join(p.read_bytes() for p in (home / "cache").rglob("*") if p.is_file())


async def test_an_answer_holding_a_key_is_not_cached_and_every_run_gets_the_models_text(engine, registry, fake,
                                                                                       iom_home):
    """It used to be stored masked (a hit answered "••••" where the model had said the key) or,
    for a key shape the process never handled, in plain text in outputs.sqlite3."""
    from studio.secrets import redactor

    redactor.remember(KEY)
    openai_model(registry, fake, "t/m", "/v1/chat/completions")  # temperature 0: deterministic
    said = {"known": f"token={KEY} ok", "shaped": f"api_key: {SHAPED}", "bearer": "use Bearer abcdefghijkl"}
    for name, text in said.items():
        fake.reply("/v1/chat/completions", Reply(json=chat_reply(text)), Reply(json=chat_reply(text)))
        runs = [await engine.run(flow(), {"text": name}) for _ in range(2)]
        assert [r.outputs for r in runs] == [{"text": text}] * 2, name
        assert [r.nodes["x"].status for r in runs] == ["succeeded"] * 2, name
    assert len(fake.requests) == 6
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("nothing secret")))
    await engine.run(flow(), {"text": "plain"})
    assert (await engine.run(flow(), {"text": "plain"})).nodes["x"].status == "cached"
    on_disk = stored_bytes(iom_home)
    assert b"nothing secret" in on_disk
    assert KEY.encode() not in on_disk and SHAPED.encode() not in on_disk and b"abcdefghijkl" not in on_disk


def test_entries_an_earlier_version_masked_or_kept_plain_are_dropped_once(tmp_path):
    path = cache_path(tmp_path)
    with OutputCache(path) as cache:
        cache.put("clean", {"output": {"text": "fine"}}, model="m/a")
    db, now = sqlite3.connect(path, isolation_level=None), time.time()
    for key, text in (("masked", "token=•••• ok"), ("shaped", f"see {SHAPED}")):  # as the old version wrote them
        entry = json.dumps({"output": {"text": text}}, ensure_ascii=False)
        db.execute("INSERT INTO outputs VALUES (?, ?, ?, ?, ?, ?)", (key, entry, len(entry), 1e12, "m/a", 1e12))
    db.execute("PRAGMA user_version = 0")
    db.close()
    with OutputCache(path) as cache:
        assert cache.get("masked") is None and cache.get("shaped") is None
        assert cache.get("clean") == {"output": {"text": "fine"}}
    assert SHAPED.encode() not in stored_bytes(tmp_path)


def damaged_cache(home, entries=40) -> OutputCache:
    """A cache file one of whose pages was overwritten (a torn write): it opens, then fails."""
    path = cache_path(home)
    with OutputCache(path) as cache:
        for i in range(entries):
            cache.put(f"k{i}", {"output": {"text": f"t{i}" + "x" * 500}}, model="m/a")
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(path, "r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xff" * 4096)
    return OutputCache(path)


def test_a_damaged_file_is_set_aside_at_a_put_and_the_entry_kept_in_a_new_one(tmp_path, caplog):
    cache = damaged_cache(tmp_path)
    with caplog.at_level(logging.WARNING):
        cache.put("new", {"output": {"text": "n"}}, model="m/a")
        cache.put("newer", {"output": {"text": "m"}}, model="m/a")
    assert cache.get("new") == {"output": {"text": "n"}} and cache.get("newer") == {"output": {"text": "m"}}
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "damaged" in warned[0] and "set aside" in warned[0], warned
    assert len(list(cache.path.parent.glob("outputs.sqlite3.unreadable-*"))) == 1
    cache.close()


def test_a_damaged_file_is_seen_by_show_and_cleared_by_clear(tmp_path, iom_home):
    cache = damaged_cache(tmp_path)
    summary = cache.summary()
    assert summary["entries"] == 0 and summary["setAside"], summary
    cache.close()

    damaged_cache(iom_home).close()
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    r = subprocess.run([sys.executable, "-m", "studio", "cache", "clear"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "the cache file was damaged: set aside as" in r.stdout and "0 remain" in r.stdout, r.stdout
    r = subprocess.run([sys.executable, "-m", "studio", "cache", "show", "--json"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["entries"] == 0, r.stderr


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


async def test_a_cache_folder_that_is_a_file_is_a_miss_said_once(engine, registry, fake, iom_home, caplog):
    (iom_home / "cache").write_text("not a folder")
    openai_model(registry, fake, "t/m", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("a")))
    with caplog.at_level(logging.WARNING, logger="studio.engine.output_cache"):
        runs = [await engine.run(flow(), {"text": "q"}) for _ in range(2)]
    assert [r.nodes["x"].status for r in runs] == ["succeeded"] * 2, [r.error for r in runs]
    assert [r.outputs for r in runs] == [{"text": "a"}] * 2
    warned = [r.getMessage() for r in caplog.records if r.name == "studio.engine.output_cache"]
    assert warned == [f"output cache: {iom_home / 'cache'} is a file, not a folder, so no output is cached; "
                      "move it away or delete it"], warned


def test_an_answer_with_a_password_in_a_url_is_not_cached(tmp_path):
    """The redaction masks a URL's password (https://user:pass@host); the cache's quick test
    looked only for key prefixes, bearer and secret-named fields, and kept such an answer."""
    from studio.engine.output_cache import OutputCache

    cache = OutputCache(tmp_path / "cache" / "outputs.sqlite3")
    cache.put("k", {"output": {"text": "connect to postgres://admin:hunter2pass@db.example.com/app"}}, model="m")
    assert cache.get("k") is None
