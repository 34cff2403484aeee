"""Shared fixtures. Every test gets its own IOM_HOME (a temporary dir); nothing touches the
real data dir. Unit tests use an in-memory keyring; tests marked `keyring` use the real
Secret Service, which `scripts/test` starts under dbus-run-session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# NiceGUI's User and Screen fixtures (browser tests) and our keyring fixtures.
pytest_plugins = ["nicegui.testing.plugin", "tests.helpers.memory_keyring"]


def pytest_configure(config):
    """With pytest-xdist (scripts/test runs two workers), each worker's temporary files go in a
    dir of its own inside the run's: Ray's session and worker dirs, Chromium's, the CLI's. A test
    that checks what its job left there (test_ray) then sees its own worker's only, and two local
    Rays never share a session dir. (xdist's loadgroup, which would keep the Ray tests on one
    worker, groups nothing under pytest 9.2: pytest-dev/pytest-xdist#1386.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        own = Path(tempfile.gettempdir()) / worker  # short: Ray's socket paths must stay under 108 bytes
        own.mkdir(exist_ok=True)
        os.environ["TMPDIR"] = str(own)
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


@pytest.fixture(autouse=True)
def iom_home(tmp_path, monkeypatch):
    home = tmp_path / "iom-home"
    home.mkdir()
    monkeypatch.setenv("IOM_HOME", str(home))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return home
