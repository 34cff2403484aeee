"""Settings, simulated: keys are set and deleted through the page (in-memory keyring here;
tests/browser/test_settings_browser.py does it against the real Secret Service), values
never appear on the page, the no-keyring case explains itself, the data dir is shown."""

from __future__ import annotations

import keyring
from keyring.backends import fail
from nicegui.testing import User

from studio.secrets import NO_BACKEND_HELP, SERVICE
from tests.ui.util import by_testid, element, set_value, settle

SECRET = "sk-ui-test-0123456789abcdefXYZ"


def page_text(user: User) -> str:
    return "\n".join(str(getattr(e, "text", "")) + str(e.props) for e in user.current_layout.descendants())


async def test_set_and_delete_a_key(user: User, memory_keyring, iom_home):
    await user.open("/settings")
    await user.should_see("OPENAI_API_KEY")
    assert element(user, "status-OPENAI_API_KEY").text == "missing"
    assert not element(user, "delete-OPENAI_API_KEY").enabled  # nothing stored yet
    set_value(user, "value-OPENAI_API_KEY", SECRET)
    by_testid(user, "set-OPENAI_API_KEY").click()
    await settle()
    assert memory_keyring.store[(SERVICE, "OPENAI_API_KEY")] == SECRET
    await user.should_see("OPENAI_API_KEY stored in the keyring.")
    assert element(user, "status-OPENAI_API_KEY").text == "set in the keyring"
    assert SECRET not in page_text(user)
    assert SECRET not in (iom_home / "keys.json").read_text()

    by_testid(user, "delete-OPENAI_API_KEY").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    assert (SERVICE, "OPENAI_API_KEY") not in memory_keyring.store
    await user.should_see("OPENAI_API_KEY deleted from the keyring.")
    assert element(user, "status-OPENAI_API_KEY").text == "missing"


async def test_an_empty_value_is_refused_in_one_sentence(user: User, memory_keyring):
    await user.open("/settings")
    by_testid(user, "set-HF_TOKEN").click()
    await settle()
    await user.should_see("the value for key HF_TOKEN is empty; nothing was stored.")
    assert [k for k in memory_keyring.store if k[1] != "IOM_GATEWAY_TOKEN"] == []  # no API key stored


async def test_key_from_the_environment_is_reported_as_such(user: User, memory_keyring, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-env-value-not-shown-000000000")
    await user.open("/settings")
    assert element(user, "status-GEMINI_API_KEY").text == "from $GEMINI_API_KEY"
    assert "AIza-env-value" not in page_text(user)


async def test_without_a_keyring_the_page_says_how_to_get_one(user: User):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        await user.open("/settings")
        await user.should_see(NO_BACKEND_HELP)
        assert not element(user, "set-OPENAI_API_KEY").enabled
    finally:
        keyring.set_keyring(previous)


async def test_data_dir_and_reset(user: User, memory_keyring, iom_home):
    await user.open("/settings")
    assert element(user, "data-dir").text == str(iom_home)
    (iom_home / "models" / "openai" / "gpt-4o-mini.json").unlink()
    by_testid(user, "reset").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    from studio.registry.samples import sample_models, sample_pipelines

    await user.should_see(f"Samples written: {len(sample_models())} models, {len(sample_pipelines())} pipelines.")
    assert (iom_home / "models" / "openai" / "gpt-4o-mini.json").exists()


async def test_test_button_probes_a_model_that_uses_the_key(user: User, loopback_model):
    await user.open("/settings")
    by_testid(user, "test-LOOP_KEY").click()
    await settle(50)
    await user.should_see("LOOP_KEY works — probed loop/chat.")
    probe = loopback_model.requests[-1]
    assert probe.method == "GET" and probe.path == "/v1/models"


async def test_test_button_reports_a_refused_key(user: User, loopback_model):
    from tests.fakes.provider_server import Reply

    loopback_model.reply("/v1/models", Reply(status=401, json={"error": {"message": "bad key", "type": "invalid_request_error"}}))
    await user.open("/settings")
    by_testid(user, "test-LOOP_KEY").click()
    await settle(50)
    await user.should_see("LOOP_KEY was refused by the provider — probed loop/chat.")


async def test_gateway_token_is_shown_masked_copied_and_renewed(user: User, memory_keyring, iom_home):
    from studio.security.token import KEY_NAME, token_matches

    from studio.security.token import gateway_token

    first = gateway_token(iom_home)
    await user.open("/settings")
    await user.should_see("Gateway")
    field = element(user, "gateway-token")
    assert field.value == "" and memory_keyring.store[(SERVICE, KEY_NAME)] == first
    page = repr([(e.props, getattr(e, "value", None), getattr(e, "text", None)) for e in user.client.elements.values()])
    assert first not in page  # the page is built without it
    assert element(user, "gateway-url").text == "http://test/v1"
    by_testid(user, "gateway-show").click()
    await settle()
    assert element(user, "gateway-token").value == first  # on request
    by_testid(user, "gateway-show").click()
    await settle()
    assert element(user, "gateway-token").value == ""
    by_testid(user, "gateway-copy").click()
    await user.should_see("Gateway token copied.")
    by_testid(user, "gateway-new").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    await user.should_see("the old one no longer works")
    second = element(user, "gateway-token").value
    assert second != first and memory_keyring.store[(SERVICE, KEY_NAME)] == second
    assert token_matches(iom_home, second) and not token_matches(iom_home, first)
    assert not (iom_home / "gateway-token").exists()  # the keyring holds it: no file


async def test_cached_outputs_are_counted_and_cleared(user: User, memory_keyring, iom_home):
    from studio.engine.output_cache import OutputCache, cache_path

    cache = OutputCache(cache_path(iom_home))
    for i in range(3):
        cache.put(f"k{i}", {"output": {"text": str(i)}}, model="local/text-stats" if i else "local/sentiment-vader")
    cache.close()
    await user.open("/settings")
    await user.should_see("3 from 2 models")
    by_testid(user, "cache-clear").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    await user.should_see("Removed 3 cached outputs; the next runs call the models again.")
    await user.should_see("0 from 0 models")
    assert OutputCache(cache_path(iom_home)).summary()["entries"] == 0


async def test_the_remote_max_age_is_shown_and_saved(user: User, memory_keyring, iom_home):
    from studio.engine.cache_settings import load_cache_settings

    await user.open("/settings")
    assert element(user, "cache-max-age").value == 7.0
    set_value(user, "cache-max-age", 3)
    by_testid(user, "cache-max-age-save").click()
    await settle()
    await user.should_see("Remote models' cached outputs are reused for 3 day(s).")
    assert load_cache_settings(iom_home).remote_max_age_days == 3.0
    set_value(user, "cache-max-age", None)  # cleared: until cleared
    by_testid(user, "cache-max-age-save").click()
    await settle()
    await user.should_see("Remote models' cached outputs are reused until cleared.")
    assert load_cache_settings(iom_home).remote_max_age_days is None
    set_value(user, "cache-max-age", -2)
    by_testid(user, "cache-max-age-save").click()
    await settle()
    await user.should_see("Give a number of days above 0")
    assert load_cache_settings(iom_home).remote_max_age_days is None  # nothing bad was saved


async def test_a_damaged_cache_file_set_aside_is_said_on_the_page(user: User, memory_keyring, iom_home):
    """Only the log said it: a person saw the cache empty and a strange file in the data dir."""
    from tests.engine.test_cache_integrity import damaged_cache

    damaged_cache(iom_home).close()
    await user.open("/settings")
    aside = next((iom_home / "cache").glob("outputs.sqlite3.unreadable-*"))
    await user.should_see(f"The cached-outputs file was damaged, so it was set aside as {aside} and an empty one "
                          "took its place: runs call the models again for the answers it held, and you may delete "
                          "the set-aside file.")
    await user.should_see("0 from 0 models")


async def test_a_file_set_aside_by_another_process_is_said_until_it_is_deleted(user: User, memory_keyring, iom_home):
    (iom_home / "cache").mkdir()
    older, newer = (iom_home / "cache" / f"outputs.sqlite3.unreadable-{t}" for t in (900000000, 1700000000))
    older.write_bytes(b"torn")
    newer.write_bytes(b"torn")
    await user.open("/settings")
    await user.should_see(f"set aside as {newer} (and 1 older one beside it)")
    older.unlink()
    newer.unlink()
    await user.open("/settings")
    assert not element(user, "cache-set-aside").visible


async def test_a_key_set_on_the_page_drops_the_stale_health_of_its_models(user: User, memory_keyring, iom_home):
    from studio.core import Studio
    from studio.spec import HealthStatus

    models = Studio(iom_home).models  # another instance on the page's files, as another process
    models.set_health("openai/gpt-4o-mini", HealthStatus(state="key_missing", detail="key OPENAI_API_KEY is not set"))
    await user.open("/settings")
    set_value(user, "value-OPENAI_API_KEY", SECRET)
    by_testid(user, "set-OPENAI_API_KEY").click()
    await settle()
    await user.should_see("OPENAI_API_KEY stored in the keyring.")
    assert models.health("openai/gpt-4o-mini").state == "unknown"


async def test_reset_says_a_changed_sample_is_overwritten_and_kept_as_a_backup(user: User, memory_keyring, iom_home):
    import json

    path = iom_home / "models" / "openai" / "gpt-4o-mini.json"
    await user.open("/settings")
    path.write_text(json.dumps(dict(json.loads(path.read_text()), description="mine")))
    by_testid(user, "reset").click()
    await user.should_see("A sample you changed is overwritten (its changed version is kept as a backup)")
    by_testid(user, "confirm-ok").click()
    await settle()
    await user.should_see("overwritten, as you had changed it: model openai/gpt-4o-mini")
    assert json.loads(path.read_text())["description"] != "mine"
    backups = list((iom_home / "backups" / "models" / "openai" / "gpt-4o-mini").glob("*.json"))
    assert [json.loads(b.read_text())["description"] for b in backups] == ["mine"]


async def test_a_cache_folder_that_is_a_file_is_said_on_the_page(user: User, memory_keyring, iom_home):
    """The page said "0 from 0 models" and only the log said why."""
    (iom_home / "cache").write_text("not a folder")
    await user.open("/settings")
    await user.should_see(f"No output can be cached: {iom_home / 'cache'} is a file, not a folder; move it away or "
                          "delete it (until then every call is made again).")
    assert element(user, "cache-not-a-folder").visible
    (iom_home / "cache").unlink()
    await user.open("/settings")
    assert not element(user, "cache-not-a-folder").visible
