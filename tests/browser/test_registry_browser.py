"""The registry page in real Chromium: register a model through the form, see a bad schema
flagged under its field, filter with the keyboard, and a script-like name shown as text."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.keys import Keys

from studio.registry.samples import sample_models

from tests.browser.helpers import by_testid, choose, click, field, replace_text

N = len(sample_models())  # the seeded registry


def test_register_a_model_through_the_form(screen: Screen):
    screen.open("/registry")
    screen.should_contain(f"{N} of {N} models")
    by_testid(screen, "register").click()
    screen.should_contain("Register a model")
    replace_text(screen, "form-id", "local/browser-made")
    replace_text(screen, "form-name", "Made in Chromium")
    choose(screen, "form-provider", "local")
    choose(screen, "form-api", "local")
    replace_text(screen, "form-model", "echo")
    by_testid(screen, "form-save").click()
    screen.should_contain("Saved local/browser-made.")
    screen.should_contain(f"{N + 1} of {N + 1} models")
    screen.should_contain("Made in Chromium")
    from studio.ui.app import get_studio

    assert get_studio().models.get("local/browser-made").name == "Made in Chromium"


def test_saving_an_empty_form_marks_every_problem_on_its_field(screen: Screen):
    screen.open("/registry")
    by_testid(screen, "register").click()
    click(screen, "form-save")  # the dialog may still be opening
    screen.should_contain("2 fields need attention")
    # Both problems at once, each under its own field (not one toast saying "and 1 more").
    for testid, sentence in (("form-id", "An id is required"), ("form-name", "A name is required.")):
        wrapper = screen.selenium.find_element(
            "xpath", f'//*[@data-testid="{testid}"]/ancestor::label[contains(@class, "q-field")]')
        assert "q-field--error" in wrapper.get_attribute("class")
        assert sentence in wrapper.get_attribute("textContent")
    # The toast sits at the top, clear of the dialog's Save button.
    toast = screen.find_by_css(".q-notification").rect
    save = by_testid(screen, "form-save").rect
    assert toast["y"] + toast["height"] <= save["y"] or toast["y"] >= save["y"] + save["height"]
    replace_text(screen, "form-id", "local/fixed")
    replace_text(screen, "form-name", "Fixed")
    choose(screen, "form-api", "local")
    choose(screen, "form-provider", "local")
    replace_text(screen, "form-model", "echo")
    by_testid(screen, "form-save").click()
    screen.should_contain("Saved local/fixed.")


def test_a_bad_schema_is_flagged_under_the_field(screen: Screen):
    screen.open("/registry")
    by_testid(screen, "register").click()
    replace_text(screen, "form-input-schema", '{"type": "strng"}')
    screen.should_contain("Not a valid JSON Schema at type")
    replace_text(screen, "form-input-schema", '{"type": "object"')
    screen.should_contain("It is not valid JSON (line 1")
    replace_text(screen, "form-input-schema", '{"type": "object"}')
    screen.should_not_contain("not valid JSON")


def test_slash_focuses_search_and_typing_filters(screen: Screen):
    screen.open("/registry")
    screen.should_contain(f"{N} of {N} models")
    screen.selenium.find_element("tag name", "body").send_keys("/")
    screen.wait(0.3)
    active = screen.selenium.switch_to.active_element
    assert active == field(screen, "search")
    active.send_keys("ollama")
    screen.should_contain(f"2 of {N} models")
    active.send_keys(Keys.ESCAPE)
    screen.selenium.execute_script("document.activeElement.blur()")
    screen.selenium.find_element("tag name", "body").send_keys("n")
    screen.should_contain("Register a model")


def test_navigation_works_from_the_keyboard(screen: Screen):
    screen.open("/registry")
    screen.should_contain(f"{N} of {N} models")
    item = by_testid(screen, "nav-settings")
    screen.selenium.execute_script("arguments[0].focus()", item)
    screen.selenium.switch_to.active_element.send_keys(Keys.ENTER)
    screen.should_contain("API keys")


def test_a_script_name_is_shown_as_text(screen: Screen):
    screen.open("/registry")
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    get_studio().models.save(ModelSpec(id="local/xss", name="<script>alert(1)</script>", provider="local",
                                       api="local", description="<img src=x onerror=alert(2)>"))
    screen.open("/registry")
    screen.should_contain("<script>alert(1)</script>")
    by_testid(screen, "models-table")
    screen.click("<script>alert(1)</script>")
    screen.should_contain("<img src=x onerror=alert(2)>")
    # an alert would have opened a browser dialog; none may exist
    assert not screen.selenium.execute_script("return document.querySelectorAll('img[src=x]').length")
