"""The console in real Chromium: a streamed call through the provider hub to a loopback
OpenAI-style server; the first words are on the page before the rest has been sent."""

from __future__ import annotations

from nicegui.testing import Screen

from tests.browser.helpers import by_testid, replace_text
from tests.browser.test_screenshots import shoot
from tests.fakes.provider_server import FakeProvider
from studio.spec.calls import CANONICAL_SCHEMAS
from tests.ui.fake_chat import FIRST, KEY, REST, save_loopback_model, script_chat


def test_streamed_text_appears_as_it_arrives(screen: Screen, memory_keyring):
    with FakeProvider() as fake:
        script_chat(fake)
        screen.open("/")
        from studio.ui.app import get_studio

        save_loopback_model(get_studio(), fake, prices={"input_per_token": 1.5e-7, "output_per_token": 6e-7})
        screen.open("/console?model=loop/chat")
        screen.should_contain("openai · openai-chat · llm")
        replace_text(screen, "field-prompt", "Say hello to the loopback")
        by_testid(screen, "run").click()
        output = by_testid(screen, "output")
        screen.wait_for(lambda: output.text == FIRST)  # the server holds the rest back
        fake.gate.set()
        screen.wait_for(lambda: output.text == FIRST + "".join(REST))
        screen.wait_for(lambda: "out" in by_testid(screen, "metric-tokens").text)
        assert KEY not in screen.selenium.page_source
        shoot(screen, "console-run")


def test_a_model_whose_key_is_missing_is_marked_before_the_call(screen: Screen, memory_keyring):
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    screen.open("/")
    get_studio().models.save(ModelSpec(
        id="keyless/chat", name="Keyless chat", provider="openai", api="openai-chat", endpoint="http://127.0.0.1:9/v1",
        model="m-1", key_ref="NOT_SET_KEY", input_schema=CANONICAL_SCHEMAS["llm"][0],
        output_schema=CANONICAL_SCHEMAS["llm"][1]))
    screen.open("/console")
    by_testid(screen, "model-picker").click()
    screen.should_contain("Keyless chat · keyless/chat — needs NOT_SET_KEY")  # in the picker, before any call
    screen.find("Keyless chat · keyless/chat — needs NOT_SET_KEY").click()
    screen.should_contain("NOT_SET_KEY is not set, so a call will be refused.")
    link = by_testid(screen, "key-hint").find_element("css selector", "a")
    assert link.get_attribute("href").endswith("/settings")
    link.click()
    screen.wait_for(lambda: "/settings" in screen.selenium.current_url)


def test_an_object_output_is_shown_as_a_table_with_copy(screen: Screen, memory_keyring):
    """A built-in classifier answers with an object: the console shows its fields, not raw JSON."""
    screen.open("/console?model=local/sentiment-vader")
    replace_text(screen, "field-text", "I love this studio, it is wonderful.")
    by_testid(screen, "run").click()
    result = by_testid(screen, "console-result")
    screen.wait_for(lambda: "positive" in result.text)
    assert "label" in result.text and "{" not in result.text
    assert not by_testid(screen, "output").is_displayed()
    by_testid(screen, "console-result-copy").click()
    screen.should_contain("Output copied.")


def test_streamed_text_gets_copy_and_download_when_done(screen: Screen, memory_keyring):
    with FakeProvider() as fake:
        script_chat(fake)
        fake.gate.set()
        screen.open("/")
        from studio.ui.app import get_studio

        save_loopback_model(get_studio(), fake)
        screen.open("/console?model=loop/chat")
        replace_text(screen, "field-prompt", "Say hello")
        by_testid(screen, "run").click()
        screen.wait_for(lambda: by_testid(screen, "output").text == FIRST + "".join(REST))
        by_testid(screen, "console-result-download").click()
        screen.should_contain("Downloading loop-chat-output.")
