"""Blocking UI work in a thread (studio/ui/threads.py): the call's result, or CancelledError
where NiceGUI's io_bound would hand back None for a stopping server or a cancelled task —
which the start's background work used to trip over with a traceback on Ctrl+C."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest
from nicegui import app
from nicegui.app.app import State

from studio.ui.app import check_builtin_models, refresh_health_on_schedule
from studio.ui.threads import io_bound


@pytest.fixture
def stopping(monkeypatch):
    monkeypatch.setattr(app, "_state", State.STOPPING)


async def test_the_result_comes_back_none_included():
    assert await io_bound(lambda a, b=0: a + b, 2, b=3) == 5
    assert await io_bound(lambda: None) is None


async def test_a_stopping_server_ends_the_caller_instead_of_answering_none(stopping):
    with pytest.raises(asyncio.CancelledError):
        await io_bound(lambda: [1, 2])


async def test_a_cancelled_caller_is_cancelled_not_handed_none():
    async def caller():
        value = await io_bound(time.sleep, 0.3)
        return ("went on with", value)

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_the_start_checks_end_quietly_when_the_server_stops_under_them(stopping, caplog):
    studio = SimpleNamespace(providers=SimpleNamespace(check=lambda spec: None),
                             models=SimpleNamespace(all=lambda: []), home=None)
    caplog.set_level(logging.ERROR)
    with pytest.raises(asyncio.CancelledError):
        await check_builtin_models(studio)
    with pytest.raises(asyncio.CancelledError):
        await refresh_health_on_schedule(studio)
    assert not caplog.records
