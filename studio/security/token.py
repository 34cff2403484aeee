"""The gateway token: what `/v1/*` and the studio's local API require as `Authorization:
Bearer <token>` (what the OpenAI and Anthropic SDKs send as their api_key), and what the UI
asks for when it is served beyond loopback.

Made at first use. Kept in the OS keyring beside the API keys when there is one; otherwise in
`IOM_HOME/gateway-token`, readable by the user only (said once in the log). `IOM_GATEWAY_TOKEN`
overrides both, for headless deployments and tests, like JUPYTER_TOKEN.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

import keyring
import keyring.errors

from studio.secrets import SERVICE, redactor

log = logging.getLogger(__name__)
KEY_NAME = "IOM_GATEWAY_TOKEN"
TOKEN_FILE = "gateway-token"
ENV = "IOM_GATEWAY_TOKEN"
_RELOAD_EVERY_S = 5.0  # the token in memory is re-read from storage when older (renewed elsewhere)

_lock = threading.Lock()
_cache: dict[str, tuple[str, float]] = {}
_said_file: set[str] = set()


def gateway_token(home: Path, keys=None) -> str:
    """The token for this IOM_HOME, made and stored on first use."""
    env = os.environ.get(ENV, "").strip()
    if env:
        redactor.remember(env)
        return env
    key = str(home)
    with _lock:
        if key in _cache:
            return _cache[key][0]
        token = _load(Path(home), keys) or _store(Path(home), keys, _fresh())
        _cache[key] = (token, time.monotonic())
        redactor.remember(token)
        return token


def new_gateway_token(home: Path, keys=None) -> str:
    """Replace the token: the old one stops working at once in this process, and within a few
    seconds in a web app that runs beside it."""
    if os.environ.get(ENV, "").strip():
        from studio.errors import UserError

        raise UserError(f"the token is set by the environment variable {ENV}; change it there and restart.")
    with _lock:
        token = _store(Path(home), keys, _fresh())
        _cache[str(home)] = (token, time.monotonic())
        redactor.remember(token)
        return token


def token_matches(home: Path, given: str, keys=None) -> bool:
    """Constant-time check of a presented token. The stored token is re-read when the copy in
    memory is older than a few seconds, so a token renewed by `iom gateway token --new` is
    honoured, and the old one refused, without a restart."""
    verdict = cached_verdict(home, given)
    if verdict is not None:
        return verdict
    with _lock:
        token = _load(Path(home), keys)
        if token is not None:
            _cache[str(home)] = (token, time.monotonic())
    return _same(given, token if token is not None else gateway_token(home, keys))


def cached_verdict(home: Path, given: str) -> bool | None:
    """The answer without touching storage when memory is fresh enough; None when the stored
    token must be read (a keyring call: do that off the event loop, via token_matches)."""
    if not given:
        return False
    env = os.environ.get(ENV, "").strip()
    if env:
        return _same(given, env)
    cached = _cache.get(str(home))
    if cached is None or time.monotonic() - cached[1] >= _RELOAD_EVERY_S:
        return None
    return _same(given, cached[0])


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def where_kept(home: Path, keys=None) -> str:
    if os.environ.get(ENV, "").strip():
        return f"the environment variable {ENV}"
    return "the OS keyring" if _keyring_ok(keys) else str(Path(home) / TOKEN_FILE)


def _fresh() -> str:
    return "iom-" + secrets.token_urlsafe(32)


def _keyring_ok(keys) -> bool:
    if keys is None:
        from studio.secrets import KeyStore

        keys = KeyStore()
    return keys.available()


def _load(home: Path, keys) -> str | None:
    if _keyring_ok(keys):
        try:
            value = keyring.get_password(SERVICE, KEY_NAME)
        except Exception:  # noqa: BLE001 - a backend's own errors (secretstorage's) as keyring's: the file then
            value = None
        if value:
            return value
    try:
        value = (home / TOKEN_FILE).read_text("utf-8").strip()
    except (FileNotFoundError, OSError):
        return None
    except UnicodeDecodeError:  # damaged: no client can send it, so a new one is made in its place
        log.warning("%s is not text; a new gateway token replaces it", home / TOKEN_FILE)
        return None
    return value or None


def _store(home: Path, keys, token: str) -> str:
    if _keyring_ok(keys):
        try:
            keyring.set_password(SERVICE, KEY_NAME, token)
            (home / TOKEN_FILE).unlink(missing_ok=True)
            return token
        except Exception:  # noqa: BLE001 - as in _load
            pass
    path = home / TOKEN_FILE
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if str(home) not in _said_file:
        _said_file.add(str(home))
        log.warning("no OS keyring is available: the gateway token is kept in %s, readable by you only", path)
    return token
