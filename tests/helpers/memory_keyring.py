"""An in-memory keyring backend for fast unit tests (`memory_keyring` fixture), and the
`secret_service` fixture that insists on the real Secret Service for `keyring` tests."""

from __future__ import annotations

import keyring
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Installed explicitly by the fixture; never picked by keyring's automatic choice."""

    @properties.classproperty
    def priority(cls):
        raise RuntimeError("the in-memory keyring is for tests that install it explicitly")

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def secret_service():
    """The real Secret Service through D-Bus. Fails (never skips) when it is missing: CI
    must prove the keyring path works."""
    from keyring.backends import SecretService

    previous = keyring.get_keyring()
    backend = SecretService.Keyring()
    try:
        backend.get_password("iom-studio-probe", "probe")
    except Exception as e:  # noqa: BLE001 — report what is missing, in one line
        pytest.fail(
            f"the real Secret Service is not reachable ({type(e).__name__}: {e}); run the tests "
            "with scripts/test, which starts dbus-run-session and gnome-keyring-daemon"
        )
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
