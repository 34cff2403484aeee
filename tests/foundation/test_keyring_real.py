"""The keyring through the real Secret Service (gnome-keyring under dbus-run-session).

These fail, never skip, when the Secret Service is missing: scripts/test starts it."""

import os
import subprocess
import sys
import threading
import time

import pytest

from studio.secrets import KeyStore

pytestmark = pytest.mark.keyring


def test_round_trip_through_the_secret_service(secret_service):
    keys = KeyStore()
    assert keys.backend_name().endswith("SecretService.Keyring")
    keys.set("TEST_STUDIO_KEY", "real-secret-service-value")
    assert KeyStore().get("TEST_STUDIO_KEY") == "real-secret-service-value"
    assert secret_service.get_password("iom-studio", "TEST_STUDIO_KEY") == "real-secret-service-value"
    keys.delete("TEST_STUDIO_KEY")
    assert keys.get("TEST_STUDIO_KEY") is None


def test_a_key_read_is_kept_briefly_and_a_change_here_applies_at_once(secret_service, monkeypatch):
    """A Secret Service read costs milliseconds, so a read value is reused for FRESH_S seconds;
    set/delete through the same store forget it, and after FRESH_S another process's change shows."""
    keys, other_process = KeyStore(), KeyStore()
    keys.set("TEST_FRESH_KEY", "first-value")
    assert keys.recent("TEST_FRESH_KEY") is None  # nothing read yet
    assert keys.get("TEST_FRESH_KEY") == "first-value"
    assert keys.recent("TEST_FRESH_KEY") == "first-value"
    keys.set("TEST_FRESH_KEY", "second-value")  # changed here: forgotten at once
    assert keys.recent("TEST_FRESH_KEY") is None and keys.get("TEST_FRESH_KEY") == "second-value"
    other_process.set("TEST_FRESH_KEY", "third-value")  # changed elsewhere: seen once the value is stale
    assert keys.recent("TEST_FRESH_KEY") == "second-value"
    monkeypatch.setattr(KeyStore, "FRESH_S", 0.0)
    assert keys.recent("TEST_FRESH_KEY") is None and keys.get("TEST_FRESH_KEY") == "third-value"
    keys.delete("TEST_FRESH_KEY")
    assert keys.recent("TEST_FRESH_KEY") is None and keys.get("TEST_FRESH_KEY") is None


def _until(condition, timeout_s: float = 5.0) -> bool:
    ends = time.monotonic() + timeout_s
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_value_past_half_its_freshness_is_read_again_behind_the_call(secret_service, monkeypatch):
    """Calls that keep coming never wait on the keyring: past FRESH_S / 2 the value in memory
    is still the answer while a thread reads the key again, which renews it (or drops it when
    another process deleted the key). A set or delete here outranks a read begun before it.
    FRESH_S is 2 s here: a renewal (one Secret Service read, ~15 ms) has 0.8 s to land."""
    fresh = 2.0
    past_half = 0.6 * fresh  # an answer this old is given and renewed
    lands = 0.35 * fresh  # how long a renewal may take and still land before the answer expires
    monkeypatch.setattr(KeyStore, "FRESH_S", fresh)
    keys, other_process = KeyStore(), KeyStore()
    settled = lambda: not getattr(keys, "_refreshing", ())  # no renewal under way
    other_process.set("TEST_AHEAD_KEY", "first-value")
    assert keys.get("TEST_AHEAD_KEY") == "first-value"
    other_process.set("TEST_AHEAD_KEY", "second-value")
    assert keys.recent("TEST_AHEAD_KEY") == "first-value"  # young: no read
    time.sleep(past_half)
    assert keys.recent("TEST_AHEAD_KEY") == "first-value"  # the answer does not wait
    assert _until(lambda: keys.recent("TEST_AHEAD_KEY") == "second-value", timeout_s=lands)
    time.sleep(0.5 * fresh)  # past FRESH_S since the first read: without the renewal it would be stale
    assert keys.recent("TEST_AHEAD_KEY") == "second-value"
    assert _until(settled, timeout_s=lands)

    other_process.delete("TEST_AHEAD_KEY")  # deleted elsewhere: the renewal drops the value
    keys._forget("TEST_AHEAD_KEY")
    other_process.set("TEST_AHEAD_KEY", "third-value")
    assert keys.get("TEST_AHEAD_KEY") == "third-value"
    other_process.delete("TEST_AHEAD_KEY")
    time.sleep(past_half)
    assert keys.recent("TEST_AHEAD_KEY") == "third-value"
    assert _until(lambda: keys.recent("TEST_AHEAD_KEY") is None, timeout_s=lands)
    assert keys.get("TEST_AHEAD_KEY") is None

    other_process.set("TEST_AHEAD_KEY", "status-value")  # "is it set?" (the pages) is renewed the same way
    keys._forget("TEST_AHEAD_KEY")
    assert keys.status("TEST_AHEAD_KEY").source == "keyring"
    other_process.delete("TEST_AHEAD_KEY")
    time.sleep(past_half)
    assert keys.status("TEST_AHEAD_KEY").is_set  # the answer in hand, while it is read again
    assert _until(lambda: not keys.status("TEST_AHEAD_KEY").is_set, timeout_s=lands)  # before FRESH_S

    other_process.set("TEST_AHEAD_KEY", "old-value")  # a set here outranks a read begun before it
    assert keys.get("TEST_AHEAD_KEY") == "old-value"
    time.sleep(past_half)
    reads_old = threading.Event()
    go_on = threading.Event()
    real_read = keys._read

    def slow_read(name):
        value = real_read(name)
        reads_old.set()
        go_on.wait(5)
        return value

    monkeypatch.setattr(keys, "_read", slow_read)
    assert keys.recent("TEST_AHEAD_KEY") == "old-value"  # starts the renewal, which reads "old-value"
    assert reads_old.wait(5)
    monkeypatch.setattr(keys, "_read", real_read)
    keys.set("TEST_AHEAD_KEY", "new-value")
    assert keys.get("TEST_AHEAD_KEY") == "new-value"
    go_on.set()
    assert _until(settled)
    assert keys.recent("TEST_AHEAD_KEY") == "new-value"

    uncaught = []  # a renewal that fails says nothing (no thread traceback) and keeps the answer
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    monkeypatch.setattr(keys, "_read", lambda name: 1 / 0)
    time.sleep(past_half)
    assert keys.recent("TEST_AHEAD_KEY") == "new-value"
    assert _until(settled, timeout_s=lands) and not uncaught
    assert keys.recent("TEST_AHEAD_KEY") == "new-value"
    monkeypatch.setattr(keys, "_read", real_read)
    keys.delete("TEST_AHEAD_KEY")


def test_cli_stores_a_key_from_stdin_and_never_prints_it(secret_service, iom_home):
    env = dict(os.environ, IOM_HOME=str(iom_home))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "studio", *a], env=env, capture_output=True, text=True, **kw)
    r = run("keys", "set", "CLI_TEST_KEY", input="cli-secret-value-9\n")
    assert r.returncode == 0, r.stderr
    assert "cli-secret-value-9" not in r.stdout + r.stderr
    assert secret_service.get_password("iom-studio", "CLI_TEST_KEY") == "cli-secret-value-9"
    r = run("keys", "list", "--json")
    assert '"CLI_TEST_KEY"' in r.stdout and "cli-secret-value-9" not in r.stdout
    # two lines piped in: refused, not the first kept without a word (and neither line echoed)
    r = run("keys", "set", "CLI_TEST_KEY", input="sk-first-line-000000\nsk-second-line-00000\n")
    assert r.returncode == 1 and "has more than one line" in r.stderr and "line-0000" not in r.stderr + r.stdout
    assert secret_service.get_password("iom-studio", "CLI_TEST_KEY") == "cli-secret-value-9"
    assert run("keys", "delete", "CLI_TEST_KEY").returncode == 0
    assert secret_service.get_password("iom-studio", "CLI_TEST_KEY") is None
    for path in iom_home.rglob("*"):
        assert not path.is_file() or b"cli-secret-value-9" not in path.read_bytes()


def test_cli_export_refuses_a_pipeline_holding_a_stored_keys_value(secret_service, iom_home, tmp_path):
    """Each command is its own process: the export has read no key when it starts, yet the
    value `iom keys set` stored must not leave in the file (the run record masks it)."""
    import json

    env = dict(os.environ, IOM_HOME=str(iom_home))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "studio", *a], env=env, capture_output=True, text=True, **kw)
    value = "myKeyValue-9f8e7d6c5b4a"
    assert run("keys", "set", "EXPORT_TEST_KEY", input=value + "\n").returncode == 0
    try:
        f = tmp_path / "sec.json"
        f.write_text(json.dumps({"format": "iom.pipeline", "version": 1, "id": "sec-keyring", "name": "Sec",
                                 "nodes": [{"id": "a", "kind": "model", "model": "fake/a",
                                            "prompt": f"key {value} {{{{ text }}}}"}]}))
        assert run("pipelines", "import", str(f)).returncode == 0  # this process never read the key
        out = tmp_path / "out.json"
        for args in (("export", "sec-keyring", "-o", str(out)), ("export", "sec-keyring"), ("show", "sec-keyring")):
            r = run("pipelines", *args)
            assert r.returncode == 1, r.stdout
            assert r.stderr.strip() == (
                "error: pipeline sec-keyring holds what looks like an API key in node 'a', field 'prompt'; store the "
                "key with 'iom keys set NAME' (or in Settings) and refer to it by name (keyRef, or {{key}} in a "
                "header) instead. Nothing was written.")
            assert value not in r.stdout and not out.exists()
    finally:
        run("keys", "delete", "EXPORT_TEST_KEY")


def test_cli_keys_set_and_delete_drop_the_stale_health_of_the_models_using_the_key(secret_service, iom_home):
    """A model checked as key_missing kept that health after 'iom keys set' (another process than
    the web app that stored it), and capability nodes refused it until the next check."""
    from studio.core import Studio
    from studio.spec import HealthStatus, ModelSpec

    s = Studio(iom_home)
    s.models.save(ModelSpec(id="acme/uses", name="Uses", provider="http", api="http",
                            endpoint="http://127.0.0.1:1/x", key_ref="HEALTH_TEST_KEY"))
    s.models.set_health("acme/uses", HealthStatus(state="key_missing", detail="key HEALTH_TEST_KEY is not set"))
    env = dict(os.environ, IOM_HOME=str(iom_home))
    env.pop("PYTHON_KEYRING_BACKEND", None)
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "studio", *a], env=env, capture_output=True, text=True, **kw)
    try:
        r = run("keys", "set", "HEALTH_TEST_KEY", input="health-test-value-1\n")
        assert r.returncode == 0, r.stderr
        assert s.models.health("acme/uses").state == "unknown"
        assert "acme/uses" in r.stderr and "'iom models check ID'" in r.stderr
        s.models.set_health("acme/uses", HealthStatus(state="ok"))
        assert run("keys", "delete", "HEALTH_TEST_KEY").returncode == 0
        assert s.models.health("acme/uses").state == "unknown"
    finally:
        run("keys", "delete", "HEALTH_TEST_KEY")
