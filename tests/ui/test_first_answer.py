"""The start's background work waits for the first answered request (studio/ui/first_answer.py)."""

import asyncio
import time

from studio.ui.first_answer import FirstAnswer


async def _answer(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _noop_send(message):
    pass


async def test_the_first_http_answer_releases_the_waiting_work():
    first = FirstAnswer().wrap(_answer)
    waiting = asyncio.create_task(first.wait(at_most_s=30))
    await first({"type": "websocket"}, None, _noop_send)  # a websocket is not a page answered
    await asyncio.sleep(0)
    assert not waiting.done()
    await first({"type": "http", "path": "/"}, None, _noop_send)
    await asyncio.wait_for(waiting, 1)


async def test_a_failed_request_counts_as_answered():
    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    first = FirstAnswer().wrap(broken)
    try:
        await first({"type": "http", "path": "/"}, None, _noop_send)
    except RuntimeError:
        pass
    assert first.answered.is_set()


async def test_without_any_request_the_work_starts_after_the_limit():
    first = FirstAnswer().wrap(_answer)
    started = time.monotonic()
    await first.wait(at_most_s=0.2)
    assert 0.15 < time.monotonic() - started < 2
