"""Images in the console with Chromium's own file input: a PNG picked in the images field's
uploader is shown as a thumbnail and reaches a loopback OpenAI-style vision model as an
image_url part; a text file or an image over 5 MB is refused in one sentence and nothing is
attached; a big image does not break an edit of the Raw JSON tab."""

from __future__ import annotations

import base64

from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.helpers import by_testid, field, replace_text, wait_until
from tests.fakes.provider_server import FakeProvider
from tests.ui.fake_chat import FIRST, REST, png, save_vision_model, script_chat


def _pick(screen: Screen, path) -> None:
    """Choose a file as a person does, through the uploader's <input type=file>."""
    by_testid(screen, "upload-images").find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))


def _ask_about(screen: Screen, fake: FakeProvider, image) -> None:
    """The console on a loopback vision model, a question typed and `image` picked and shown."""
    script_chat(fake)
    fake.gate.set()
    screen.open("/")
    from studio.ui.app import get_studio

    save_vision_model(get_studio(), fake, "openai-chat", "/v1/chat/completions")
    screen.open("/console?model=loop/vision")
    replace_text(screen, "field-prompt", "What is in this picture?")
    _pick(screen, image)
    wait_until(lambda: by_testid(screen, "image-images-0").find_element(By.TAG_NAME, "img"))


def test_a_picked_image_reaches_the_vision_model(screen: Screen, memory_keyring, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(png())
    with FakeProvider() as fake:
        _ask_about(screen, fake, image)
        by_testid(screen, "run").click()
        screen.wait_for(lambda: by_testid(screen, "output").text == FIRST + "".join(REST))
        sent = next(r.json for r in reversed(fake.requests) if r.path == "/v1/chat/completions")
        assert sent["messages"][-1]["content"] == [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png()).decode()}}]


def test_a_text_file_and_a_too_big_image_are_refused_in_one_sentence(screen: Screen, memory_keyring, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with FakeProvider() as fake:
        screen.open("/")
        from studio.ui.app import get_studio

        save_vision_model(get_studio(), fake, "openai-chat", "/v1/chat/completions")
        screen.open("/console?model=loop/vision")
        _pick(screen, notes)
        screen.wait_for(lambda: by_testid(screen, "image-problem-images").text ==
                        "notes.txt is not an image the models take; use a PNG, JPEG, GIF or WebP file.")
        huge = tmp_path / "huge.png"
        huge.write_bytes(png() + bytes(6_000_000))
        _pick(screen, huge)  # refused by the browser's uploader before it is sent
        screen.wait_for(lambda: by_testid(screen, "image-problem-images").text ==
                        "huge.png is 6.0 MB, more than the 5.0 MB an image may be; use a smaller or more compressed image.")
        assert not screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=image-images-0]")


def test_a_big_image_survives_an_edit_of_the_raw_json(screen: Screen, memory_keyring, tmp_path):
    """The raw tab names an uploaded file instead of holding its base64: with a 2 MB image in
    the text, an edit sent the whole text back, which NiceGUI dropped ("Payload size 2667122
    exceeds the maximum allowed limit"), and the call went out with the text before the edit."""
    image = tmp_path / "big.png"
    image.write_bytes(png() + bytes(range(256)) * (2_000_000 // 256))  # bytes after the end: still a PNG
    with FakeProvider() as fake:
        _ask_about(screen, fake, image)
        by_testid(screen, "tab-raw").click()
        screen.wait_for(lambda: "file 1: big.png (2.0 MB)" in field(screen, "raw-input").get_attribute("value"))
        edited = field(screen, "raw-input")
        edited.click()
        edited.send_keys(Keys.CONTROL, Keys.HOME)
        edited.send_keys(Keys.DOWN, Keys.END, Keys.LEFT, Keys.LEFT, "!")  # the prompt's line: "…picture?!",
        edited.send_keys(Keys.TAB)
        by_testid(screen, "run").click()
        screen.wait_for(lambda: by_testid(screen, "output").text == FIRST + "".join(REST))
        sent = next(r.json for r in reversed(fake.requests) if r.path == "/v1/chat/completions")
        assert sent["messages"][-1]["content"] == [
            {"type": "text", "text": "What is in this picture?!"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()}}]
