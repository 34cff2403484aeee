"""A remote model's cached output is reused for a week by default (IOM_HOME/cache.json, `iom
cache max-age`, the Settings page), then the model is called again; a built-in model's, keyed
on its code, until cleared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from studio.engine.cache_settings import CacheSettings, save_cache_settings, settings_path
from studio.engine.output_cache import OutputCache, cache_path
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.provider_server import Reply

DAY = 86400.0
ROOT = Path(__file__).resolve().parents[2]


def test_the_max_age_applies_to_remote_entries_and_follows_the_file(tmp_path):
    cache = OutputCache(cache_path(tmp_path))
    now = [1_000_000.0]
    cache.clock = lambda: now[0]
    cache.put("k", {"output": {"text": "old"}}, model="t/m")
    now[0] += 6.9 * DAY
    assert cache.get("k") == {"output": {"text": "old"}}  # within the default week
    now[0] += 0.2 * DAY
    assert cache.get("k") is None  # past it: a miss for a remote model
    assert cache.get("k", built_in=True) == {"output": {"text": "old"}}  # a built-in model's is not aged
    save_cache_settings(tmp_path, CacheSettings(remote_max_age_days=30))
    assert cache.get("k") is not None  # the file changed: read again
    save_cache_settings(tmp_path, CacheSettings(remote_max_age_days=None))
    now[0] += 365 * DAY
    assert cache.get("k") is not None  # 'off': until cleared
    settings_path(tmp_path).write_text('{"remoteMaxAgeDays": "soon"}')  # a bad hand edit: the default week
    assert cache.get("k") is None
    cache.put("k", {"output": {"text": "new"}}, model="t/m")  # the answer called again replaces it
    assert cache.get("k") == {"output": {"text": "new"}}
    cache.close()


async def test_a_remote_node_is_called_again_after_the_max_age(engine, registry, fake, iom_home):
    openai_model(registry, fake, "t/m", "/v1/chat/completions")  # temperature 0: cached
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("first")), Reply(json=chat_reply("second")))
    flow = pipeline([TEXT_IN, {"id": "x", "kind": "model", "model": "t/m", "prompt": "{{ text }}"}, OUT],
                    [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])
    now = [2_000_000.0]
    engine.cache.clock = lambda: now[0]
    await engine.run(flow, {"text": "q"})
    now[0] += 6 * DAY
    assert (await engine.run(flow, {"text": "q"})).nodes["x"].status == "cached" and len(fake.requests) == 1
    now[0] += 2 * DAY
    again = await engine.run(flow, {"text": "q"})
    assert again.nodes["x"].status == "succeeded" and again.outputs == {"text": "second"} and len(fake.requests) == 2
    assert (await engine.run(flow, {"text": "q"})).nodes["x"].status == "cached"  # the new answer, fresh


def test_cli_sets_and_shows_the_max_age(iom_home):
    def iom(*args):
        return subprocess.run([sys.executable, "-m", "studio", "cache", *args], cwd=ROOT, capture_output=True, text=True)
    assert "reused for 7 day(s)" in iom("show").stdout
    r = iom("max-age", "2.5")
    assert r.returncode == 0 and "reused for 2.5 day(s)" in r.stdout
    assert json.loads(settings_path(iom_home).read_text()) == {"remoteMaxAgeDays": 2.5}
    assert json.loads(iom("show", "--json").stdout)["remoteMaxAgeDays"] == 2.5
    assert iom("max-age", "off").returncode == 0 and "until cleared" in iom("show").stdout
    for bad in ("0", "-1", "soon"):
        r = iom("max-age", bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "off" in r.stderr or "number of days" in r.stderr
    assert json.loads(settings_path(iom_home).read_text()) == {"remoteMaxAgeDays": None}  # nothing bad was saved
    settings_path(iom_home).write_text("{not json")
    r = iom("show")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "fix or delete it" in r.stderr
