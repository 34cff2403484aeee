"""Blocking work from the UI in NiceGUI's thread pool, without NiceGUI's shutdown answer.

`nicegui.run.io_bound` gives None instead of the call's result once the server is stopping,
and when the awaiting task is cancelled (NiceGUI 4.0 will raise CancelledError instead). Code
that used the result then failed on it: Ctrl+C just after a start printed the start's built-in
model check failing with "'NoneType' object is not iterable" and its traceback. `io_bound`
here raises CancelledError in those cases, which ends a page handler or background task
quietly, and gives the result otherwise."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

from nicegui import app, run

T = TypeVar("T")


async def io_bound(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    result = await run.io_bound(fn, *args, **kwargs)
    if result is None and _ending():
        raise asyncio.CancelledError
    return result


def _ending() -> bool:
    """The server stopping, or this task asked to stop: NiceGUI's two None answers (a task
    still running after the stop is cancelled by NiceGUI's teardown, so it is the second)."""
    task = asyncio.current_task()
    return app.is_stopping or (task is not None and task.cancelling() > 0)
