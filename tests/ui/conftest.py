"""Fixtures of the simulated page tests."""

from __future__ import annotations

import pytest

from tests.fakes.provider_server import FakeProvider
from tests.ui.fake_chat import save_loopback_model, script_chat


@pytest.fixture
def loopback_model(memory_keyring):
    """The fake provider with a scripted chat stream, and a model in the registry that uses it."""
    from studio.ui.app import get_studio

    with FakeProvider() as fake:
        script_chat(fake)
        save_loopback_model(get_studio(), fake)
        yield fake


@pytest.fixture(autouse=True)
def simulated_host(monkeypatch):
    """The simulated User sends `Host: test`; the server answers only names it knows."""
    monkeypatch.setenv("IOM_ALLOWED_HOSTS", "test")
