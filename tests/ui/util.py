"""Find elements in a simulated `User` page by the data-testid props the pages set (the same
hooks the Chromium tests use), so both kinds of test address the page the same way."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction


def all_by_testid(user: User, testid: str) -> list[ui.element]:
    return [e for e in user.current_layout.descendants() if e.props.get("data-testid") == testid]


def by_testid(user: User, testid: str) -> UserInteraction:
    found = all_by_testid(user, testid)
    assert found, f"no element with data-testid={testid} on the page"
    return UserInteraction(user, set(found), None)


def element(user: User, testid: str) -> ui.element:
    found = all_by_testid(user, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid}"
    return found[0]


def set_value(user: User, testid: str, value) -> None:
    el = element(user, testid)
    with user.client:
        el.value = value


async def settle(rounds: int = 20) -> None:
    """Let handlers that hop to worker threads (run.io_bound) finish."""
    for _ in range(rounds):
        await asyncio.sleep(0.01)


def table_rows(user: User, testid: str) -> list[dict]:
    return element(user, testid).rows


async def wait_until(condition, what: str, rounds: int = 500) -> None:
    """Poll `condition` while the event loop runs the page's tasks; fail naming `what`."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")
