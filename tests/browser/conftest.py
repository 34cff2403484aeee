"""Browser tests (the plugin is loaded in tests/conftest.py): NiceGUI's `Screen` (real headless Chromium through Debian's chromedriver)
and `User` (simulated, no JS) fixtures. Both start the studio by running run.py (see
`main_file` in pyproject.toml), with the per-test IOM_HOME from tests/conftest.py.

A missing Chromium or chromedriver makes these tests fail, never skip: the nicegui_driver
fixture raises when no driver starts."""

from __future__ import annotations

import pytest
from selenium import webdriver

@pytest.fixture(scope="session")
def nicegui_chrome_options(nicegui_chrome_options: webdriver.ChromeOptions) -> webdriver.ChromeOptions:
    # A laptop-sized window, and no background traffic to hosts this machine cannot reach.
    for arg in ("window-size=1280,720", "disable-background-networking", "disable-component-update",
                "disable-sync", "no-first-run", "disable-gpu"):
        nicegui_chrome_options.add_argument(arg)
    return nicegui_chrome_options


@pytest.fixture(scope="session")
def nicegui_driver(nicegui_driver: webdriver.Chrome) -> webdriver.Chrome:
    """NiceGUI's driver with 20 s for a page to load instead of its 4: with two test workers on
    two cores (scripts/test), the Analytics page (Plotly's bundle, DuckDB queries) once took
    longer while the other worker was busy, and three tests failed in `open` before asserting
    anything. These tests check what a page shows; how fast it loads is the benches' to measure."""
    nicegui_driver.set_page_load_timeout(20)
    return nicegui_driver


@pytest.fixture
def studio_screen(screen):
    """The Screen, for tests that seed the studio's data before opening a page: the app
    (run.py) serves the test's IOM_HOME, so data written there first is what the page shows."""
    screen.selenium.set_window_size(1400, 1000)
    return screen
