"""The shell, simulated: navigation with the current page marked, the light/dark choice kept,
and errors as one sentence (ours as they are, anything else generic and logged server-side)."""

from __future__ import annotations

import logging

import pytest
from nicegui import app, ui
from nicegui.testing import User

from tests.ui.util import by_testid, element


@pytest.mark.parametrize("path, active", [("/", "home"), ("/registry", "registry"), ("/console", "console"),
                                          ("/settings", "settings")])
async def test_navigation_marks_the_current_page(user: User, path, active):
    await user.open(path)
    for name in ("home", "registry", "pipelines", "console", "analytics", "settings"):
        item = element(user, f"nav-{name}")
        assert ("active" in item.props) == (name == active), name


async def test_navigation_goes_to_the_page(user: User):
    await user.open("/")
    by_testid(user, "nav-settings").click()
    await user.should_see("API keys")


async def test_dark_mode_is_remembered(user: User):
    await user.open("/")
    assert element(user, "dark-toggle").props["icon"] == "dark_mode"
    by_testid(user, "dark-toggle").click()
    from studio.ui.shell import DARK_KEY

    assert app.storage.general[DARK_KEY] is True
    await user.open("/settings")
    assert user.find(ui.dark_mode).elements.pop().value is True
    assert element(user, "dark-toggle").props["icon"] == "light_mode"
    by_testid(user, "dark-toggle").click()
    assert app.storage.general[DARK_KEY] is False


def test_error_sentences():
    from studio.errors import UserError
    from studio.providers.errors import ErrorKind, ProviderError
    from studio.ui.widgets import GENERIC_ERROR, error_sentence

    assert error_sentence(UserError("the id is taken; choose another.")) == "the id is taken; choose another."
    e = ProviderError(ErrorKind.RATE_LIMITED, model_id="m/x", retry_after_s=3)
    assert error_sentence(e) == str(e) and "retry after 3s" in str(e)
    assert error_sentence(KeyError("internal detail")) == GENERIC_ERROR
    # the system's refusals no handler turned into a sentence: its words, where, and what to do
    assert error_sentence(OSError(28, "No space left on device", "/home/iom/pipelines/p.json")) == (
        "No space left on device (/home/iom/pipelines/p.json); free space on that disk, then try again.")


async def test_unexpected_errors_are_generic_on_the_page_and_logged(user: User, caplog):
    from studio.ui.widgets import GENERIC_ERROR, notify_error

    await user.open("/")
    with user.client:
        notify_error(ZeroDivisionError("secret internals"))
    await user.should_see(GENERIC_ERROR)
    await user.should_not_see("secret internals")
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert logged and "ZeroDivisionError" in caplog.text
    caplog.clear()  # the user fixture fails a test on ERROR logs; this one was expected



async def test_an_error_no_handler_caught_is_one_sentence_on_the_page_not_silence(user: User, caplog):
    """A button whose handler fails in a way nobody foresaw: the person is told (the generic
    sentence), the traceback goes to the server's log only."""
    from studio.ui.shell import frame
    from studio.ui.widgets import GENERIC_ERROR

    def fail() -> None:
        raise ZeroDivisionError("secret internals")

    @ui.page("/test-unforeseen")
    def page() -> None:
        with frame("Unforeseen"):
            ui.button("Go", on_click=fail)

    await user.open("/test-unforeseen")
    user.find("Go").click()
    await user.should_see(GENERIC_ERROR)
    await user.should_not_see("secret internals")
    assert "ZeroDivisionError" in caplog.text  # logged once, by NiceGUI
    assert sum("secret internals" in r.getMessage() or (r.exc_info and "secret internals" in str(r.exc_info[1]))
               for r in caplog.records) == 1
    caplog.clear()  # the user fixture fails a test on ERROR logs; this one was expected
