"""The console in real Chromium: an error's toast leaves the page's tabs free to use."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from tests.browser.helpers import by_testid, replace_text
from tests.fakes.provider_server import FakeProvider, Reply
from tests.ui.fake_chat import CHAT_PATH, save_loopback_model


def test_an_error_toast_does_not_cover_the_tabs(screen: Screen, memory_keyring):
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, Reply(status=429, headers={"retry-after": "7"}, json={"error": {
            "message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}))
        screen.open("/")
        from studio.ui.app import get_studio

        save_loopback_model(get_studio(), fake)
        screen.open("/console?model=loop/chat")
        replace_text(screen, "field-prompt", "Say hello")
        by_testid(screen, "run").click()
        said = "loop/chat: the provider is rate-limiting this key"
        screen.wait_for(lambda: said in " ".join(n.text for n in screen.selenium.find_elements(By.CSS_SELECTOR, ".q-notification")))
        screen.wait(1)  # the toast has slid in
        tabs = screen.selenium.find_elements(By.CSS_SELECTOR, ".q-tab")
        assert len(tabs) == 5  # Form, Raw JSON; Output, Raw request, Raw response
        toasts = [n.rect for n in screen.selenium.find_elements(By.CSS_SELECTOR, ".q-notification")]
        for tab in tabs:
            t = tab.rect
            for n in toasts:
                apart = (n["x"] + n["width"] <= t["x"] or t["x"] + t["width"] <= n["x"]
                         or n["y"] + n["height"] <= t["y"] or t["y"] + t["height"] <= n["y"])
                assert apart, f"the toast covers the tab {tab.text!r}"
        raw_request = next(t for t in tabs if "RAW REQUEST" in t.text.upper())
        raw_request.click()  # while the toast is still up
        screen.wait_for(lambda: "q-tab--active" in raw_request.get_attribute("class"))
        assert by_testid(screen, "call-error").get_attribute("textContent").startswith(said)  # beside the answer too
