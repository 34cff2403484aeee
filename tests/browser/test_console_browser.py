"""The console in real Chromium: a streamed call through the provider hub to a loopback
OpenAI-style server; the first words are on the page before the rest has been sent."""

from __future__ import annotations

from nicegui.testing import Screen

from tests.browser.helpers import by_testid, replace_text
from tests.browser.test_screenshots import shoot
from tests.fakes.provider_server import FakeProvider
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
