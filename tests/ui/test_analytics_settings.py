"""The Analytics page over a damaged analytics.json: the file's sentence where its settings
would be, and the rest of the page drawn (it was a 500 page with a traceback in the log)."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.util import element


async def test_a_damaged_settings_file_is_its_sentence_on_the_page_not_a_500(user: User, iom_home, caplog):
    (iom_home / "analytics.json").write_bytes(b"\x00\xff{{not json")
    await user.open("/analytics")
    said = element(user, "analytics-settings-error").text
    assert said == f"{iom_home / 'analytics.json'} is not valid analytics settings (UnicodeDecodeError); fix or delete it."
    await user.should_see("Run history")
    await user.should_not_see("Save settings")
    caplog.clear()  # the writer's one line about the spool waiting is expected
