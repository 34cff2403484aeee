"""API keys in the OS keyring, looked up by key reference (a name such as OPENAI_API_KEY).

All keys live under one keyring service name. Keyring has no portable "list", so the *names*
of stored keys (never values) are kept in IOM_HOME/keys.json. When no keyring backend exists
the studio says so and refuses to store; it never falls back to a plaintext file. Reading a
key also tries the environment variable of the same name, then the provider's usual names.

A key reference comes from a model file, which may come from anyone: it never names the
studio's own secrets (IOM_*, e.g. the gateway token in the same keyring service), and the
environment is read only for names that say they hold a credential (…KEY, …TOKEN, …SECRET…),
so a model cannot have PATH or DATABASE_URL sent to its endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import keyring
import keyring.errors
from keyring.backends import fail

from studio.atomic import write_json
from studio.errors import UserError
from studio.paths import data_home
from studio.secrets.redact import has_key_shape, redactor
from studio.spec.base import is_studio_own

SERVICE = "iom-studio"
log = logging.getLogger(__name__)

# Usual environment variable names per key reference, tried in order.
ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "OPENAI_API_KEY": ("OPENAI_API_KEY",),
    "ANTHROPIC_API_KEY": ("ANTHROPIC_API_KEY",),
    "GEMINI_API_KEY": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "GOOGLE_API_KEY": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "HF_TOKEN": ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
}


# Words of an environment variable's name that say it holds a credential
_CREDENTIAL_WORDS = {"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PAT", "CREDENTIAL", "CREDENTIALS"}


def env_names(name: str) -> tuple[str, ...]:
    """The environment variables a key reference may be read from: the provider's usual names,
    else the name itself when it says it is a credential; none for the studio's own."""
    if is_studio_own(name):
        return ()
    if name in ENV_ALIASES:
        return ENV_ALIASES[name]
    words = set(name.upper().replace("-", "_").replace(".", "_").split("_"))
    return (name,) if words & _CREDENTIAL_WORDS else ()


def how_to_set(names: list[str]) -> str:
    """How to set keys that are not set, in the words every such sentence uses. Settings and
    `iom keys set` need an OS keyring; the environment works where there is none."""
    if len(names) == 1:
        env = env_names(names[0])
        if not env:
            return f"set it in Settings or with 'iom keys set {names[0]}'"
        return f"set it in Settings, with 'iom keys set {names[0]}', or as the environment variable {env[0]}"
    return f"set them in Settings, with 'iom keys set {names[0]}' and so on, or as environment variables of those names"


NO_BACKEND_HELP = (
    "No OS keyring is available, so keys cannot be stored; start a Secret Service "
    "(on Linux: install gnome-keyring and dbus, and run inside a desktop session or "
    "'dbus-run-session'), or set the key as an environment variable such as OPENAI_API_KEY."
)


UNLOCK_HELP = ("unlock it (log in to the desktop session, or unlock the 'login' keyring in your keyring manager) "
               "and try again.")


@dataclass(frozen=True)
class KeyStatus:
    name: str
    source: str  # "keyring", "env:NAME" or "missing"

    @property
    def is_set(self) -> bool:
        return self.source != "missing"


class KeyStore:
    """Keys in the OS keyring (else the environment). A Secret Service read costs 13–18 ms
    (a D-Bus session per read), so a value read is kept in memory for `FRESH_S` seconds: calls
    in a burst pay for one read. A value used when it is past half that age is read again in
    a thread of its own while the call goes on with it, so calls that keep coming never wait
    on the keyring; no value older than `FRESH_S` is ever used. Setting or deleting a key here
    forgets it at once; a change made by another process (`iom keys set` beside the web app)
    is seen within `FRESH_S`."""

    FRESH_S = 10.0

    def __init__(self) -> None:
        self._recent: dict[str, tuple[str, float]] = {}
        self._statuses: dict[str, tuple[KeyStatus, float]] = {}  # the same freshness, for "is it set?"
        self._lock = threading.Lock()
        self._refreshing: set[tuple[int, str]] = set()  # (table, name) being read again in the background
        self._forgotten: dict[str, int] = {}  # name -> times forgotten: a refresh begun before it is dropped

    def recent(self, name: str) -> str | None:
        """The value if it was read within FRESH_S seconds, without touching the keyring (safe
        on the event loop); None when it must be read afresh. Past half that age it is read
        again in the background (`_refresh`), and the answer is still the value in memory."""
        return self._kept(self._recent, name, self._read)

    def _kept(self, table: dict, name: str, read: Callable[[str], Any]):
        """table[name]'s answer while it is younger than FRESH_S, else None; past half that
        age one thread per answer reads it again with `read`."""
        with self._lock:
            found = table.get(name)
            if found is None:
                return None
            age = time.monotonic() - found[1]
            if age >= self.FRESH_S:
                return None
            which = (id(table), name)
            refresh = age >= self.FRESH_S / 2 and which not in self._refreshing
            if refresh:
                self._refreshing.add(which)
                forgotten = self._forgotten.get(name, 0)
        if refresh:
            threading.Thread(target=self._refresh, args=(table, name, read, forgotten), name="key refresh",
                             daemon=True).start()
        return found[0]

    def _refresh(self, table: dict, name: str, read: Callable[[str], Any], forgotten: int) -> None:
        """Read the answer again and keep it, unless the store forgot the key meanwhile (set or
        deleted here: its own answer is newer than this read). A value that is gone is dropped:
        the next call reads it and says it is missing."""
        try:
            try:
                answer = read(name)
            except Exception:  # noqa: BLE001 - the call that reads it once the answer is stale reports it
                return
            with self._lock:
                if self._forgotten.get(name, 0) != forgotten:
                    return
                if answer:
                    table[name] = (answer, time.monotonic())
                else:
                    table.pop(name, None)
        finally:
            with self._lock:
                self._refreshing.discard((id(table), name))

    def _forget(self, name: str) -> None:
        with self._lock:
            self._recent.pop(name, None)
            self._statuses.pop(name, None)
            self._forgotten[name] = self._forgotten.get(name, 0) + 1

    def backend_name(self) -> str:
        kr = keyring.get_keyring()
        return f"{type(kr).__module__}.{type(kr).__name__}"

    def available(self) -> bool:
        kr = keyring.get_keyring()
        if isinstance(kr, fail.Keyring):
            return False
        chainer = getattr(kr, "backends", None)
        return not (chainer is not None and not chainer)

    def set(self, name: str, value: str) -> None:
        _check_name(name)
        value = value.strip()
        if not value:
            raise UserError(f"the value for key {name} is empty; nothing was stored.")
        if not value.isprintable():
            raise UserError(f"the value for key {name} has more than one line (or another control character); a key "
                            "is one line: give only the key. Nothing was stored.")
        if not self.available():
            raise UserError(NO_BACKEND_HELP)
        try:
            keyring.set_password(SERVICE, name, value)
        except keyring.errors.KeyringLocked:
            raise UserError(f"the keyring is locked, so {name} was not stored; {UNLOCK_HELP}") from None
        except Exception as e:  # noqa: BLE001 - a backend's own errors (secretstorage's, D-Bus's) too
            raise UserError(f"the keyring refused to store {name} ({type(e).__name__}); {NO_BACKEND_HELP}") from None
        redactor.remember(value)
        self._forget(name)
        names = self._names()
        if name not in names:
            self._save_names(sorted({*names, name}))

    def get(self, name: str) -> str | None:
        """The key's value from the keyring, else from the environment; None if neither. A
        value read within FRESH_S seconds is answered from memory."""
        return self._answer(self._recent, name, self._read)

    def status(self, name: str) -> KeyStatus:
        """Where the key comes from. Pages ask for every key a list of models or pipelines
        needs at each render, so an answer is kept (and renewed) like a value."""
        return self._answer(self._statuses, name, self._read_status)

    def _answer(self, table: dict, name: str, read: Callable[[str], Any]):
        """The answer kept in `table` (`_kept`), else `read`'s, kept when there is one."""
        found = self._kept(table, name, read)
        if found is not None:
            return found
        answer = read(name)
        if answer:
            with self._lock:
                table[name] = (answer, time.monotonic())
        return answer

    def _read(self, name: str) -> str | None:
        """The key's value (remembered for redaction)."""
        value, _ = self._look_up(name)
        redactor.remember(value)
        return value

    def _read_status(self, name: str) -> KeyStatus:
        return KeyStatus(name, self._look_up(name)[1])

    def _look_up(self, name: str) -> tuple[str | None, str]:
        """(value, where it is: "keyring", "env:NAME" or "missing"): the keyring first, then
        the environment (`env_names`). The studio's own names are always missing."""
        if is_studio_own(name):
            return None, "missing"
        if self.available():
            try:
                value = keyring.get_password(SERVICE, name)
            except Exception as e:  # noqa: BLE001 - a backend's own errors (secretstorage's, D-Bus's) too
                _said_unreadable(e)
                value = None
            if value:
                return value, "keyring"
        for env in env_names(name):
            value = os.environ.get(env)
            if value:
                return value, f"env:{env}"
        return None, "missing"

    def delete(self, name: str) -> None:
        _check_name(name)
        self._forget(name)
        if not self.available():
            raise UserError(NO_BACKEND_HELP)
        try:
            keyring.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            if name not in self._names():
                raise UserError(f"there is no stored key named {name}.") from None
        except keyring.errors.KeyringLocked:
            raise UserError(f"the keyring is locked, so {name} was not deleted; {UNLOCK_HELP}") from None
        except Exception as e:  # noqa: BLE001 - a backend's own errors
            raise UserError(f"the keyring could not delete {name} ({type(e).__name__}); {NO_BACKEND_HELP}") from None
        finally:
            self._forget(name)  # and after: a read begun meanwhile may have found the old value
        self._save_names([n for n in self._names() if n != name])

    def names(self) -> list[str]:
        """Names of keys stored through the studio (values stay in the keyring)."""
        return self._names()

    def _index(self):
        return data_home() / "keys.json"

    def _names(self) -> list[str]:
        try:
            data = json.loads(self._index().read_text("utf-8"))
            return [n for n in data.get("names", []) if isinstance(n, str)]
        except (FileNotFoundError, ValueError, AttributeError):
            return []

    def _save_names(self, names: list[str]) -> None:
        write_json(self._index(), {"names": names})


async def read_keys(keys, names) -> dict[str, str | None]:
    """The values of the named keys, without the event loop waiting on the OS keyring (it
    answers over D-Bus): from the store's memory where it read a key moments ago (`recent`),
    the rest in one thread. Any store with `get(name)` will do (tests, Ray workers)."""
    recent = getattr(keys, "recent", None)
    found = {name: recent(name) for name in names} if recent is not None else {}
    unread = tuple(name for name in names if found.get(name) is None)
    if unread:
        found.update(await _read_once(keys, unread))
    return found


_READING: dict[tuple, asyncio.Future] = {}  # (loop, store, names) -> the read under way


async def _read_once(keys, names: tuple[str, ...]) -> dict[str, str | None]:
    """One thread per set of names being read: callers asking at once share its answer. A
    batch's first 64 rows each started their own read of the same key, queued on the default
    thread pool's few threads: the first row waited 300 ms for keys instead of 50."""
    which = (id(asyncio.get_running_loop()), id(keys), names)
    reading = _READING.get(which)
    if reading is None:
        reading = _READING[which] = asyncio.ensure_future(
            asyncio.to_thread(lambda: {name: keys.get(name) for name in names}))
        reading.add_done_callback(lambda _: _READING.pop(which, None))
    return dict(await asyncio.shield(reading))  # one caller cancelled does not cancel the others' read


def choose_backend_early() -> None:
    """Let keyring choose its backend now, in a daemon thread. keyring does that on its first
    call by importing every backend it knows, and on Linux the macOS one probes for its system
    libraries with ldconfig and gcc: about 40 ms, mostly spent waiting on those programs. The
    web app calls this as its server starts, so the first page's key check finds it done."""
    threading.Thread(target=keyring.get_keyring, name="choose keyring backend", daemon=True).start()


_told: set[str] = set()


def _said_unreadable(e: Exception) -> None:
    """A keyring that fails a read is logged once per kind of failure; the key reads as not set."""
    kind = type(e).__name__
    if kind not in _told:
        _told.add(kind)
        log.warning("the OS keyring could not be read (%s: %s); keys read as not set until it can", kind,
                    str(e).splitlines()[0] if str(e) else "")


def _check_name(name: str) -> None:
    if has_key_shape(name):  # the key pasted where its name goes: never echoed, never kept as a name
        raise UserError("that looks like an API key, not a key's name; give the name (e.g. OPENAI_API_KEY) "
                        "and then the key when asked for it.")
    if not name or len(name) > 128 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise UserError(
            f"{name[:40]!r}{'…' if len(name) > 40 else ''} is not a usable key name; use up to 128 letters, digits, "
            f"'_', '-' and '.', e.g. OPENAI_API_KEY."
        )
    if is_studio_own(name):
        raise UserError(f"{name} is the studio's own (IOM_ names are not provider keys); pick another name, "
                        f"e.g. OPENAI_API_KEY ('iom gateway token --new' renews the gateway token).")
