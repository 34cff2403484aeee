"""Shared fixtures. Every test gets its own IOM_HOME (a temporary dir); nothing touches the
real data dir. Unit tests use an in-memory keyring; tests marked `keyring` use the real
Secret Service, which `scripts/test` starts under dbus-run-session."""

from __future__ import annotations

import pytest

# NiceGUI's User and Screen fixtures (browser tests) and our keyring fixtures.
pytest_plugins = ["nicegui.testing.plugin", "tests.helpers.memory_keyring"]


@pytest.fixture(autouse=True)
def iom_home(tmp_path, monkeypatch):
    home = tmp_path / "iom-home"
    home.mkdir()
    monkeypatch.setenv("IOM_HOME", str(home))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home
