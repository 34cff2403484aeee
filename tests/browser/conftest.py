"""Real headless Chromium for page tests, through NiceGUI's `Screen` fixture.

NiceGUI's screen plugin is wired in here rather than in the root conftest, so only browser
tests pay for it: its hooks and fixtures are imported, its `pytest_configure` runs when this
conftest loads, and every test here is marked to start the app with `ui.run` in-process (no
main.py). `nicegui_reset_globals` drops all routes before each test, so the `studio_screen`
fixture re-registers the studio's pages by reloading the page modules, and gives each test a
fresh Studio on the test's own IOM_HOME. Chromium runs headless with --no-sandbox (root);
when Chromium or chromedriver is missing the driver fixture raises: the test FAILS, never skips.
"""

from __future__ import annotations

import importlib
import sys

import pytest
from nicegui.testing import screen_plugin
from nicegui.testing.screen import Screen
from nicegui.testing.screen_plugin import (  # noqa: F401  (fixtures and hooks used by pytest)
    nicegui_chrome_options,
    nicegui_driver,
    nicegui_remove_all_screenshots,
    nicegui_reset_globals,
    pytest_runtest_makereport,
    screen,
)

BROWSER_DIR = __file__.rsplit("/", 1)[0]
PAGE_MODULES_KEPT = {"studio.ui", "studio.ui.app", "studio.ui.shell"}


def pytest_configure(config):
    screen_plugin.pytest_configure(config)  # free port, screenshot and download dirs, storage path


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(BROWSER_DIR):
            item.add_marker(pytest.mark.nicegui_main_file(""))  # start with ui.run, not a main.py
            item.add_marker(pytest.mark.browser)


def register_studio_pages() -> None:
    """(Re)run every page module's @ui.page decorators after NiceGUI dropped the routes."""
    from studio.ui import app

    app.register_pages()
    for name in sorted(n for n in sys.modules if n.startswith("studio.ui.") and n not in PAGE_MODULES_KEPT):
        if name != "studio.ui.pages":
            importlib.reload(sys.modules[name])
    importlib.reload(sys.modules["studio.ui.pages"])


@pytest.fixture
def studio_screen(screen: Screen, iom_home):
    """A Screen whose app serves the studio's pages on a fresh Studio (on this test's IOM_HOME)."""
    from studio.ui import app

    app.reset_studio()
    register_studio_pages()
    screen.selenium.set_window_size(1400, 1000)  # the shell's drawer needs room; 600×600 hides content
    yield screen
    app.reset_studio()
