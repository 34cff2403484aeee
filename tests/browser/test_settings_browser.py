"""Settings in real Chromium against the real Secret Service (dbus + gnome-keyring, started by
scripts/test): set a key through the masked field, see its status, delete it."""

from __future__ import annotations

import keyring
import pytest
from nicegui.testing import Screen

import studio.secrets.store as key_store
from tests.browser.helpers import by_testid, field, replace_text

VALUE = "sk-browser-secret-0123456789abcdef"


@pytest.mark.keyring
def test_set_and_delete_a_key_in_the_real_keyring(screen: Screen, secret_service, monkeypatch):
    # The studio's entries under a service name of this test's own: the tests run side by side
    # on one Secret Service, and OPENAI_API_KEY set here would be a key another test expects unset.
    SERVICE = f"{key_store.SERVICE}-{id(screen)}"
    monkeypatch.setattr(key_store, "SERVICE", SERVICE)
    screen.open("/settings")
    screen.should_contain("SecretService")
    screen.should_contain("OPENAI_API_KEY")
    assert by_testid(screen, "status-OPENAI_API_KEY").text == "missing"
    box = replace_text(screen, "value-OPENAI_API_KEY", VALUE)
    assert box.get_attribute("type") == "password"
    by_testid(screen, "set-OPENAI_API_KEY").click()
    screen.should_contain("OPENAI_API_KEY stored in the keyring.")
    screen.wait_for(lambda: by_testid(screen, "status-OPENAI_API_KEY").text == "set in the keyring")
    assert secret_service.get_password(SERVICE, "OPENAI_API_KEY") == VALUE
    assert VALUE not in screen.selenium.page_source
    assert field(screen, "value-OPENAI_API_KEY").get_attribute("value") == ""

    by_testid(screen, "delete-OPENAI_API_KEY").click()
    by_testid(screen, "confirm-ok").click()
    screen.should_contain("OPENAI_API_KEY deleted from the keyring.")
    screen.wait_for(lambda: by_testid(screen, "status-OPENAI_API_KEY").text == "missing")
    assert keyring.get_keyring() is secret_service
    assert secret_service.get_password(SERVICE, "OPENAI_API_KEY") is None
