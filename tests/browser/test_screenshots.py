"""Screenshots of each page at 1280×720, taken in real Chromium on every run so a broken page
shows. A test run writes them to `screenshots-out/` (ignored by git), so it changes no tracked
file; `scripts/screenshots` writes them to docs/screenshots, the README's tour (IOM_SCREENSHOTS)."""

import os
from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver import ActionChains
from selenium.webdriver.common.by import By

from studio.registry.samples import sample_models
from tests.browser.helpers import click

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("IOM_SCREENSHOTS") or ROOT / "screenshots-out")

N = len(sample_models())  # the seeded registry


def shoot(screen: Screen, name: str) -> Path:
    """A 1280×720 PNG of what the browser shows now."""
    driver = screen.selenium
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
    try:
        # no hover tooltip or focus ring in the picture
        ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, ".q-header")).perform()
        driver.execute_script("document.activeElement && document.activeElement.blur()")
        screen.wait(0.5)  # let Quasar finish its layout transition after the resize
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def test_screenshot_home(screen: Screen):
    """The start page after one offline sample's Run: what a first start shows."""
    screen.open("/")
    screen.should_contain("Try it now")
    screen.find_by_css('[data-testid="run-review-triage"]').click()
    screen.wait_for(lambda: "sentiment" in screen.find_by_css('[data-testid="result-review-triage"]').text)
    shoot(screen, "home")


def test_screenshot_registry(screen: Screen):
    screen.open("/registry")
    screen.should_contain("openai/gpt-4o-mini")
    shoot(screen, "registry")


def test_screenshot_model_detail(screen: Screen):
    screen.open("/registry")
    screen.click("GPT-4o mini")
    screen.should_contain("Input schema")
    shoot(screen, "registry-detail")


def test_screenshot_register_form(screen: Screen):
    screen.open("/registry")
    click(screen, "register")  # by its test id: the text would also match its tooltip's
    screen.should_contain("Register a model")
    shoot(screen, "registry-form")
    screen.find_by_css('[data-testid="form-save"]').click()
    screen.should_contain("2 fields need attention")
    shoot(screen, "registry-form-errors")


def test_screenshot_console(screen: Screen):
    screen.open("/console?model=openai/gpt-4o-mini")
    screen.should_contain("Raw JSON")
    shoot(screen, "console")


@pytest.mark.keyring
def test_screenshot_settings(screen: Screen, secret_service):
    screen.open("/settings")
    screen.should_contain("OPENAI_API_KEY")
    shoot(screen, "settings")


def test_screenshot_dark_mode(screen: Screen):
    screen.open("/registry")
    screen.should_contain(f"{N} of {N} models")
    screen.find_by_css('[data-testid="dark-toggle"]').click()
    try:
        screen.wait_for(lambda: "body--dark" in screen.find_by_tag("body").get_attribute("class"))
        shoot(screen, "registry-dark")
    finally:
        screen.find_by_css('[data-testid="dark-toggle"]').click()  # the choice is kept; leave it light
    screen.wait_for(lambda: "body--dark" not in screen.find_by_tag("body").get_attribute("class"))


def test_screenshot_pipelines(screen: Screen):
    screen.open("/pipelines")
    screen.should_contain("Content enhancement")
    shoot(screen, "pipelines")


def test_screenshot_pipeline_canvas(screen: Screen):
    """The tour's own step: Review triage, one click on Run, the result in the Run tab."""
    screen.open("/pipelines/review-triage")
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node")) >= 3)
    screen.find_by_css("[data-testid=toolbar-run]").click()
    screen.wait_for(lambda: "Run succeeded" in screen.find_by_css("[data-testid=run-summary]").text)
    screen.wait_for(lambda: "sentiment" in screen.find_by_css("[data-testid=run-result-value]").text)
    shoot(screen, "pipeline-canvas")


def test_screenshot_analytics(screen: Screen, memory_keyring):
    """Two console calls to the fake provider first, so the dashboard has something to show."""
    from tests.browser.helpers import by_testid, replace_text
    from tests.fakes.provider_server import FakeProvider
    from tests.ui.fake_chat import save_loopback_model, script_chat

    with FakeProvider() as fake:
        script_chat(fake)
        fake.gate.set()  # no need to hold the stream here
        screen.open("/")
        from studio.ui.app import get_studio

        save_loopback_model(get_studio(), fake, prices={"input_per_token": 1.5e-7, "output_per_token": 6e-7})
        screen.open("/console?model=loop/chat")
        replace_text(screen, "field-prompt", "Say hello")
        for n in (1, 2):
            by_testid(screen, "run").click()
            screen.wait_for(lambda: len(by_testid(screen, "history").find_elements(By.CSS_SELECTOR, "tbody tr")) == n)
        get_studio().analytics.flush()  # the writer batches; the page reads what is written
        screen.open("/analytics")
        screen.click("Last hour")
        screen.should_contain("Calls and errors per minute")
        shoot(screen, "analytics")


def test_screenshot_evaluate(screen: Screen):
    """Two variants over the sample reviews, compared."""
    from tests.browser.helpers import by_testid, replace_text, wait_until

    screen.open("/evaluate")
    replace_text(screen, "eval-limit", "12")
    by_testid(screen, "eval-run").click()
    wait_until(lambda: "finished" in by_testid(screen, "eval-progress").text, 60)
    wait_until(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, ".eval-chart .main-svg"))
    shoot(screen, "evaluate")
