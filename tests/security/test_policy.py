"""The access policy and the token, as pure functions: which Host names and Origins are ours."""

from __future__ import annotations

import stat

from studio.security.policy import AccessPolicy, is_loopback, split_host
from studio.security.token import TOKEN_FILE, gateway_token, new_gateway_token, token_matches


def test_loopback_names_and_iom_host_are_served_others_are_not(monkeypatch):
    monkeypatch.delenv("IOM_ALLOWED_HOSTS", raising=False)
    p = AccessPolicy.from_env("127.0.0.1")
    for host in ("127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.0.0.1"):
        assert p.host_allowed(host), host
    for host in ("evil.example:8080", "evil.example", "127.0.0.1.evil.example", "", None, "0.0.0.0:8080"):
        assert not p.host_allowed(host), host
    assert AccessPolicy.from_env("studio.lan").host_allowed("studio.lan:8080")
    monkeypatch.setenv("IOM_ALLOWED_HOSTS", "proxy.example, other.example")
    assert AccessPolicy.from_env("127.0.0.1").host_allowed("proxy.example")


def test_only_the_studios_own_origin_or_a_listed_one_may_drive_it(monkeypatch):
    monkeypatch.delenv("IOM_ALLOWED_ORIGINS", raising=False)
    p = AccessPolicy.from_env("127.0.0.1")
    assert p.origin_allowed(None, "127.0.0.1:8080")  # curl, SDKs
    assert p.origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert p.origin_allowed("http://localhost:8080", "localhost:8080")
    assert not p.origin_allowed("http://evil.example", "127.0.0.1:8080")
    assert not p.origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080")  # another local port is another site
    assert not p.origin_allowed("null", "127.0.0.1:8080")
    assert not p.origin_allowed("http://evil.example:8080", "evil.example:8080")  # rebinding: host not ours
    monkeypatch.setenv("IOM_ALLOWED_ORIGINS", "https://tools.example")
    assert AccessPolicy.from_env("127.0.0.1").origin_allowed("https://tools.example/", "127.0.0.1:8080")


def test_host_parsing():
    assert split_host("[::1]:8080") == "::1" and split_host("Example.COM:1") == "example.com"
    assert is_loopback("127.0.0.2") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_without_a_keyring_the_token_lives_in_a_file_only_the_user_can_read(iom_home, monkeypatch):
    from keyring.backends import fail
    import keyring

    monkeypatch.delenv("IOM_GATEWAY_TOKEN", raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    token = gateway_token(iom_home)
    path = iom_home / TOKEN_FILE
    assert path.read_text() == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_matches(iom_home, token) and not token_matches(iom_home, token + "x")
    assert not token_matches(iom_home, "")
    renewed = new_gateway_token(iom_home)
    assert renewed != token and token_matches(iom_home, renewed) and not token_matches(iom_home, token)


def test_a_token_renewed_by_another_process_retires_the_old_one_within_seconds(iom_home, monkeypatch):
    """The web app keeps the token in memory; `iom gateway token --new` in a shell writes a new
    one to storage. Once the copy in memory is older than the reload interval, the old token
    is refused and the new one accepted, with no restart."""
    from keyring.backends import fail
    import keyring

    from studio.security import token as tokens

    monkeypatch.delenv("IOM_GATEWAY_TOKEN", raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    old = gateway_token(iom_home)
    assert token_matches(iom_home, old)
    (iom_home / TOKEN_FILE).write_text("renewed-elsewhere-0123456789")  # what the other process stored
    assert token_matches(iom_home, old)  # memory is fresh: storage is not read on every request
    monkeypatch.setattr(tokens, "_RELOAD_EVERY_S", 0.0)
    assert not token_matches(iom_home, old)
    assert token_matches(iom_home, "renewed-elsewhere-0123456789")


def test_the_environment_overrides_the_stored_token(iom_home, monkeypatch):
    monkeypatch.setenv("IOM_GATEWAY_TOKEN", "from-the-env-123456")
    assert gateway_token(iom_home) == "from-the-env-123456"
    assert not (iom_home / TOKEN_FILE).exists()



def test_the_token_is_made_at_first_start(iom_home):
    import subprocess
    import sys
    import time

    import httpx

    from tests.helpers.studio_server import ROOT, cli_env, free_port

    port = free_port()
    env = cli_env(iom_home, IOM_PORT=str(port))
    env.pop("IOM_GATEWAY_TOKEN")  # the studio makes its own
    proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        path, deadline = iom_home / TOKEN_FILE, time.monotonic() + 60
        while time.monotonic() < deadline and not ((iom_home / "server.json").exists() and path.exists()):
            time.sleep(0.2)
        token = path.read_text()  # no request was needed to make it
        r = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert out.count("readable by you only") == 1 and token not in out
