"""Images in the test console: an images field takes image files (each a data: URL in the call),
shows them as thumbnails with a remove button, refuses a non-image or too big a file in one
sentence, and the call reaches a loopback OpenAI or Anthropic server with the image in that
provider's shape. (The real file picker in Chromium: tests/browser/test_console_images.py.)"""

from __future__ import annotations

import base64
import json

import pytest
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from studio.errors import UserError
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.ui.console_page import short_images
from studio.ui.schema_form import MAX_IMAGE_BYTES, collect_input, fields_for, image_data_url, split_images
from tests.fakes.provider_server import FakeProvider, Reply, sse_events
from tests.ui.fake_chat import png, save_vision_model, script_chat
from tests.ui.util import all_by_testid, by_testid, element, set_value, table_rows, wait_until

PNG_URL = "data:image/png;base64," + base64.b64encode(png()).decode()


def test_an_images_list_is_its_own_kind_of_field():
    fields = {f.name: f for f in fields_for(CANONICAL_SCHEMAS["vision"][0])}
    assert fields["images"].kind == "images"
    assert fields_for({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}})[0] \
        .kind == "strings"
    assert collect_input(list(fields.values()), {"prompt": "What is it?", "images": ["https://x/a.png", PNG_URL]}) == \
        {"prompt": "What is it?", "images": ["https://x/a.png", PNG_URL]}
    assert collect_input(list(fields.values()), {"prompt": "Hi", "images": " \n"}) == {"prompt": "Hi"}
    assert split_images(["https://x/a.png", PNG_URL]) == ("https://x/a.png", [PNG_URL])


def test_an_uploaded_file_becomes_a_data_url_of_its_real_type():
    assert image_data_url("red.png", png()) == PNG_URL
    assert image_data_url("photo.jpg", b"\xff\xd8\xff\xe0rest").startswith("data:image/jpeg;base64,")
    assert image_data_url("a.gif", b"GIF89a....").startswith("data:image/gif;base64,")
    assert image_data_url("a.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ").startswith("data:image/webp;base64,")
    assert image_data_url("named.txt", png()) == PNG_URL  # the bytes decide, not the name
    with pytest.raises(UserError) as e:
        image_data_url("notes.png", b"just some text")
    assert str(e.value) == "notes.png is not an image the models take; use a PNG, JPEG, GIF or WebP file."
    with pytest.raises(UserError) as e:
        image_data_url("huge.png", png() + b"\x00" * MAX_IMAGE_BYTES)
    assert str(e.value) == (f"huge.png is {len(png()) + MAX_IMAGE_BYTES:,} bytes, more than the 5,000,000 bytes "
                            "an image may be; use a smaller or more compressed image.")
    with pytest.raises(UserError) as e:
        image_data_url("photo.jpg", b"\xff\xd8\xff" + bytes(12_000_000))
    assert str(e.value) == "photo.jpg is 12.0 MB, more than the 5.0 MB an image may be; use a smaller or more compressed image."


def test_the_raw_tab_shows_an_images_start_and_size_not_its_base64():
    big = "data:image/png;base64," + "A" * 5000
    shown = short_images({"messages": [{"content": [{"type": "image_url", "image_url": {"url": big}}]},
                                       {"content": [{"type": "image", "source": {"type": "base64",
                                                                                 "media_type": "image/png",
                                                                                 "data": "B" * 5000}}]}],
                          "prompt": "short stays"})
    text = str(shown)
    assert "A" * 200 not in text and "B" * 200 not in text and "5,022 characters" in text
    assert shown["prompt"] == "short stays"


async def _upload(user: User, name: str, data: bytes) -> None:
    with user.client:
        await element(user, "upload-images").handle_uploads([SmallFileUpload(name, "image/png", data)])


def _anthropic_stream() -> list[str]:
    return sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "A red square."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}))


@pytest.mark.parametrize("api", ["openai-chat", "anthropic-messages"])
async def test_an_uploaded_image_reaches_the_provider_in_its_shape(user: User, memory_keyring, api):
    from studio.ui.app import get_studio

    with FakeProvider() as fake:
        path = "/v1/chat/completions" if api == "openai-chat" else "/v1/messages"
        if api == "openai-chat":
            script_chat(fake)
            fake.gate.set()
        else:
            fake.reply(path, Reply(chunks=_anthropic_stream(), content_type="text/event-stream"))
        save_vision_model(get_studio(), fake, api, path)
        await user.open("/console?model=loop/vision")
        set_value(user, "field-prompt", "What is in this picture?")
        await _upload(user, "red.png", png())
        await _upload(user, "second.png", png())
        await wait_until(lambda: len(all_by_testid(user, "remove-image-images-1")) == 1, "two thumbnails")
        by_testid(user, "remove-image-images-1").click()  # the second one goes again
        await wait_until(lambda: not all_by_testid(user, "remove-image-images-1"), "one thumbnail left")
        by_testid(user, "run").click()
        await wait_until(lambda: table_rows(user, "history") and table_rows(user, "history")[0]["state"] == "ok",
                         "the call to finish")
        sent = next(r.json for r in reversed(fake.requests) if r.path == path)
        content = sent["messages"][-1]["content"]
        if api == "openai-chat":
            assert content == [{"type": "text", "text": "What is in this picture?"},
                               {"type": "image_url", "image_url": {"url": PNG_URL}}]
        else:
            assert content == [{"type": "text", "text": "What is in this picture?"},
                               {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                            "data": PNG_URL.split(",", 1)[1]}}]
        assert PNG_URL.split(",", 1)[1] not in element(user, "raw-request").text  # shown by its size
        # recorded once, the image in the audit trail's input as any input is (the design unchanged)
        analytics = get_studio().analytics
        analytics.flush()
        rows = analytics.read(lambda cur: cur.execute(
            "SELECT c.status, b.body FROM calls c JOIN audit_blobs b ON b.sha256 = c.input_hash "
            "WHERE c.model_id = 'loop/vision'").fetchall())
        assert len(rows) == 1 and rows[0][0] == "ok" and PNG_URL in rows[0][1]


async def test_a_file_that_is_not_an_image_is_refused_in_one_sentence(user: User, memory_keyring):
    from studio.ui.app import get_studio

    with FakeProvider() as fake:
        save_vision_model(get_studio(), fake, "openai-chat", "/v1/chat/completions")
        await user.open("/console?model=loop/vision")
        await _upload(user, "notes.txt", b"hello, not a picture")
        await wait_until(lambda: element(user, "image-problem-images").text, "the refusal")
        assert element(user, "image-problem-images").text == \
            "notes.txt is not an image the models take; use a PNG, JPEG, GIF or WebP file."
        assert not all_by_testid(user, "image-images-0")


async def test_the_raw_tab_names_an_uploaded_file_and_a_run_from_it_sends_the_image(user: User, memory_keyring):
    """The raw JSON shows "file 1: red.png (…)" for the upload, not megabytes of base64, and the
    name stands for the image when the call is made from that tab or the form opens again."""
    from studio.ui.app import get_studio

    with FakeProvider() as fake:
        script_chat(fake)
        fake.gate.set()
        save_vision_model(get_studio(), fake, "openai-chat", "/v1/chat/completions")
        await user.open("/console?model=loop/vision")
        set_value(user, "field-prompt", "What is it?")
        set_value(user, "field-images", "https://example.com/cat.png")
        await _upload(user, "red.png", png())
        await wait_until(lambda: all_by_testid(user, "image-images-0"), "the thumbnail")
        tabs = element(user, "tab-raw").parent_slot.parent
        with user.client:
            tabs.value = "Raw JSON"
        await wait_until(lambda: "file 1" in element(user, "raw-input").value, "the raw JSON")
        doc = json.loads(element(user, "raw-input").value)
        assert doc["images"] == ["https://example.com/cat.png", f"file 1: red.png ({len(png())} bytes)"]
        by_testid(user, "run").click()
        await wait_until(lambda: table_rows(user, "history") and table_rows(user, "history")[0]["state"] == "ok",
                         "the call to finish")
        sent = next(r.json for r in reversed(fake.requests) if r.path == "/v1/chat/completions")
        assert [p.get("image_url") for p in sent["messages"][-1]["content"]] == \
            [None, {"url": "https://example.com/cat.png"}, {"url": PNG_URL}]
        with user.client:
            tabs.value = "Form"
        await wait_until(lambda: all_by_testid(user, "image-images-0"), "the thumbnail back on the form")
        assert element(user, "field-images").value == "https://example.com/cat.png"
