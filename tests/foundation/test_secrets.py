"""Secrets: keyring round trip (in memory), env fallback, no-backend message, redaction."""

import keyring
import pytest
from keyring.backends import fail

from studio.errors import UserError
from studio.secrets import KeyStore, redact, redact_data, redactor


def test_round_trip_and_names(memory_keyring):
    keys = KeyStore()
    keys.set("OPENAI_API_KEY", "sk-test-round-trip-0000000001")
    assert keys.get("OPENAI_API_KEY") == "sk-test-round-trip-0000000001"
    assert keys.status("OPENAI_API_KEY").source == "keyring"
    assert keys.names() == ["OPENAI_API_KEY"]
    keys.delete("OPENAI_API_KEY")
    assert keys.get("OPENAI_API_KEY") is None and keys.names() == []
    with pytest.raises(UserError, match="no stored key named OPENAI_API_KEY"):
        keys.delete("OPENAI_API_KEY")


def test_environment_fallback_uses_the_providers_usual_names(memory_keyring, monkeypatch):
    keys = KeyStore()
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-env-value")
    assert keys.get("GEMINI_API_KEY") == "AIza-env-value"
    assert keys.status("GEMINI_API_KEY").source == "env:GOOGLE_API_KEY"
    monkeypatch.setenv("HF_TOKEN", "hf-env")
    assert keys.get("HF_TOKEN") == "hf-env"
    assert keys.status("MISSING_KEY").source == "missing"


def test_a_key_reference_never_reaches_the_studios_own_secrets_or_other_environment_variables(memory_keyring, monkeypatch):
    """A model file may come from anyone; its keyRef is sent to its endpoint."""
    from pydantic import ValidationError

    from studio.secrets.store import SERVICE
    from studio.spec.model import ModelSpec

    keys = KeyStore()
    keyring.set_password(SERVICE, "IOM_GATEWAY_TOKEN", "iom-the-gateway-token")  # where security/token.py keeps it
    monkeypatch.setenv("IOM_GATEWAY_TOKEN", "iom-from-the-environment")
    assert keys.get("IOM_GATEWAY_TOKEN") is None and keys.status("iom_gateway_token").source == "missing"
    for act in (lambda: keys.set("IOM_GATEWAY_TOKEN", "x"), lambda: keys.delete("IOM_GATEWAY_TOKEN")):
        with pytest.raises(UserError, match="the studio's own"):
            act()
    assert keyring.get_password(SERVICE, "IOM_GATEWAY_TOKEN") == "iom-the-gateway-token"
    with pytest.raises(ValidationError, match="studio's own secrets"):
        ModelSpec(id="x/steal", name="x", provider="openai", api="openai-chat", endpoint="http://evil.example/v1",
                  key_ref="IOM_GATEWAY_TOKEN")
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/prod")
    monkeypatch.setenv("MISTRAL_API_KEY", "mistral-env")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-env")
    assert keys.get("DATABASE_URL") is None and keys.get("PATH") is None
    assert keys.get("MISTRAL_API_KEY") == "mistral-env" and keys.get("GITHUB_TOKEN") == "ghp-env"


def test_without_a_backend_the_studio_says_so_and_writes_no_plaintext(monkeypatch, iom_home):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        keys = KeyStore()
        assert not keys.available()
        with pytest.raises(UserError, match="No OS keyring is available.*gnome-keyring"):
            keys.set("OPENAI_API_KEY", "sk-should-never-be-written-anywhere")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
        assert keys.get("OPENAI_API_KEY") == "sk-from-env"
    finally:
        keyring.set_keyring(previous)
    for path in iom_home.rglob("*"):
        assert not path.is_file() or b"sk-should-never" not in path.read_bytes()


def test_bad_names_and_empty_values_are_refused(memory_keyring):
    with pytest.raises(UserError, match="not a usable key name"):
        KeyStore().set("my key", "v")
    with pytest.raises(UserError, match="not a usable key name; use up to 128"):  # `keys list` unreadable
        KeyStore().set("K" * 5000, "v")
    with pytest.raises(UserError, match="empty"):
        KeyStore().set("GOOD_NAME", "   ")


def test_a_key_given_as_a_keys_name_is_refused_without_being_echoed(memory_keyring, iom_home):
    """Pasted where the name goes, a key was stored as a name: in keys.json, `iom keys list` and
    the Settings page."""
    key = "sk-proj-" + "AAAAQQQQ1111zzzz2222yyyy3333"
    with pytest.raises(UserError) as refused:
        KeyStore().set(key, "whatever")
    assert key not in str(refused.value) and "looks like an API key, not a key's name" in str(refused.value)
    assert key not in KeyStore().names()
    for path in iom_home.rglob("*"):
        assert not path.is_file() or key.encode() not in path.read_bytes()


def test_a_remembered_key_is_masked_as_a_url_spells_it_too():
    """A provider that echoes the request's URL writes 'Secret%21' for 'Secret!': that stayed."""
    redactor.remember("Zq9Custom!Secret#Val%42")
    said = redact("internal error for token Zq9Custom!Secret#Val%42 urlenc Zq9Custom%21Secret%23Val%2542 "
                  "form Zq9Custom%21Secret%23Val%2542")
    assert "Zq9Custom" not in said and said.count("••••") == 3


def test_redaction_masks_remembered_values_and_key_shapes():
    redactor.remember("a-secret-nobody-should-see")
    assert "a-secret-nobody" not in redact("oops: a-secret-nobody-should-see in a log line")
    assert "sk-" not in redact("key sk-abcdefghijklmnopqrstuvwxyz012345")
    assert "hf_" not in redact("token hf_abcdefghijklmnopqrstuvwx")
    assert "xyz.123" not in redact("Authorization: Bearer xyz.123.abcdef")
    # each shape and any case of "bearer", past the substring tests that skip the regexes
    assert "AIzaSy" not in redact("?key=AIzaSyA1234567890abcdefghijk")
    assert "ant-api" not in redact("x sk-ant-api03-abcdefgh y")
    assert "tok.en" not in redact("BEARER tok.en.value and bEaReR tok.en.other")
    assert redact("nothing to hide here") == "nothing to hide here"
    data = redact_data({"headers": {"Authorization": "Bearer t", "x-api-key": "k"}, "body": ["a-secret-nobody-should-see"]})
    assert data == {"headers": {"Authorization": "••••", "x-api-key": "••••"}, "body": ["••••"]}


def test_a_key_status_is_read_once_per_freshness_window_and_forgotten_on_change(memory_keyring, monkeypatch):
    """Pages ask "is it set?" for every key at each render; the keyring (~18 ms a read over
    D-Bus) is asked once per window, and a key set or deleted here shows at once."""
    import keyring as kr

    keys = KeyStore()
    reads = []
    real = kr.get_password
    monkeypatch.setattr(kr, "get_password", lambda service, name: reads.append(name) or real(service, name))
    assert not keys.status("TEST_STATUS_KEY").is_set
    assert not keys.status("TEST_STATUS_KEY").is_set
    assert reads == ["TEST_STATUS_KEY"]
    keys.set("TEST_STATUS_KEY", "v-123")
    assert keys.status("TEST_STATUS_KEY").source == "keyring"
    keys.delete("TEST_STATUS_KEY")
    assert keys.status("TEST_STATUS_KEY").source == "missing"


class SlowKeys:
    """A store whose reads take as long as a D-Bus round trip, counting them."""

    def __init__(self):
        self.reads: list[str] = []

    def get(self, name):
        import time

        self.reads.append(name)
        time.sleep(0.05)
        return f"value-of-{name}"


async def test_keys_asked_for_at_once_are_read_once_and_a_cancelled_caller_stops_no_one():
    import asyncio

    from studio.secrets.store import read_keys

    keys = SlowKeys()
    first = asyncio.ensure_future(read_keys(keys, ["A"]))
    others = [asyncio.ensure_future(read_keys(keys, ["A"])) for _ in range(63)]
    await asyncio.sleep(0.01)
    first.cancel()
    answers = await asyncio.gather(*others)
    assert answers == [{"A": "value-of-A"}] * 63 and keys.reads == ["A"]
    assert (await read_keys(keys, ["A", "B"])) == {"A": "value-of-A", "B": "value-of-B"}
    assert keys.reads == ["A", "A", "B"]  # once done, a later call reads afresh (the store keeps what is recent)


def test_a_keyring_backend_failing_in_its_own_words_is_one_sentence_not_a_crash(memory_keyring, monkeypatch, iom_home):
    """secretstorage raises its own exceptions (ItemNotFoundException…), not keyring's: every
    page and every /v1 token check turned into a 500 with them."""
    from studio.security.token import token_matches

    class ItemNotFoundException(Exception):
        pass

    def broken(*_):
        raise ItemNotFoundException("Object does not exist at path /org/freedesktop/secrets/collection/login/2")

    monkeypatch.setattr(memory_keyring, "get_password", broken)
    monkeypatch.setattr(memory_keyring, "set_password", broken)
    monkeypatch.setattr(memory_keyring, "delete_password", broken)
    keys = KeyStore()
    assert keys.get("OPENAI_API_KEY") is None and keys.status("OPENAI_API_KEY").source == "missing"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-still-works")
    assert KeyStore().get("OPENAI_API_KEY") == "sk-env-still-works"
    for act in (lambda: keys.set("OPENAI_API_KEY", "x"), lambda: keys.delete("OPENAI_API_KEY")):
        with pytest.raises(UserError, match="ItemNotFoundException"):
            act()
    assert token_matches(iom_home, "not-the-token") is False


def test_a_bearer_token_after_a_tab_or_a_line_break_is_seen_in_json_text_too():
    """`text()` masks "Bearer<TAB>token"; in JSON text the tab is written \\t, and `is_clean`
    said such a text was clean, so the output cache and the kept outputs stored the token."""
    import json

    from studio.secrets.redact import redactor

    for gap in ("\t", "\n", "\r\n", " "):
        doc = {"text": f"use Bearer{gap}abcdefghijkl0123 here"}
        assert redactor.data(doc) != doc
        assert not redactor.is_clean(json.dumps(doc)), repr(gap)
    assert redactor.is_clean(json.dumps({"text": "a bearer of good news"}))
