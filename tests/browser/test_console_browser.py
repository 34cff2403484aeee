"""The console in real Chromium: a streamed call through the provider hub to a loopback
OpenAI-style server; the first words are on the page before the rest has been sent."""

from __future__ import annotations

from nicegui.testing import Screen

from studio.spec.calls import CANONICAL_SCHEMAS
from tests.browser.helpers import by_testid, replace_text
from tests.browser.test_screenshots import shoot
from tests.ui.loopback_openai import FIRST, REST, LoopbackOpenAI

KEY = "sk-loopback-browser-0123456789abcdef"


def test_streamed_text_appears_as_it_arrives(screen: Screen, memory_keyring):
    with LoopbackOpenAI() as server:
        screen.open("/")
        from studio.spec.model import ModelSpec
        from studio.ui.app import get_studio

        from studio.ui import services

        studio = get_studio()
        assert services.can_call(studio), "the provider hub (studio/providers/hub.py) is not in this build yet"
        studio.keys.set("LOOP_KEY", KEY)
        studio.models.save(ModelSpec(
            id="loop/chat", name="Loopback chat", provider="openai", api="openai-chat", endpoint=server.url,
            model="loop-1", key_ref="LOOP_KEY", prices={"input_per_token": 1.5e-7, "output_per_token": 6e-7},
            input_schema=CANONICAL_SCHEMAS["llm"][0], output_schema=CANONICAL_SCHEMAS["llm"][1]))
        screen.open("/console?model=loop/chat")
        screen.should_contain("openai · openai-chat · llm")
        replace_text(screen, "field-prompt", "Say hello to the loopback")
        by_testid(screen, "run").click()
        output = by_testid(screen, "output")
        screen.wait_for(lambda: output.text == FIRST)  # only the first chunk has been sent
        server.gate.set()
        screen.wait_for(lambda: output.text == FIRST + "".join(REST))
        screen.wait_for(lambda: "out" in by_testid(screen, "metric-tokens").text)
        assert KEY not in screen.selenium.page_source
        shoot(screen, "console-run")
