"""A call whose events the HTTP answer reads: started before any header is sent, so a failure
before the first token becomes the real status (429 with retry-after, 5xx, 400) like a plain
call, and only a failure after it has to travel inside the stream."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

_END = object()


@dataclass
class Reply:
    """One finished chat call, whoever answered it (a model or a pipeline)."""

    text: str
    finish: str = "stop"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int | None = None
    streamed: bool = False  # text already went out as deltas
    logprobs: list[dict[str, Any]] | None = None  # OpenAI's logprobs.content of this (the first) choice
    more: list["Reply"] = field(default_factory=list)  # the other choices when several were asked for (n)


class Upstream:
    """`run(on_text)` started at once; with `choices=True` it is `run(on_text, on_choice_text)`
    and the text of the choices after the first (n > 1) is queued too, under its index."""

    def __init__(self, run: Callable[..., Awaitable[Reply]], *, choices: bool = False):
        self._queue: asyncio.Queue = asyncio.Queue()
        put = self._queue.put_nowait  # the first choice's text as it is; another's as (index, text)
        self._task = asyncio.ensure_future(
            run(put, lambda index, text: put((index, text))) if choices else run(put))
        self._task.add_done_callback(lambda _t: self._queue.put_nowait(_END))
        self._first: Any = None

    async def start(self) -> None:
        """Wait for the first text or the end; a failure before any text raises here."""
        self._first = await self._queue.get()
        if self._first is _END:
            self._task.result()  # raises the call's error

    async def texts(self) -> AsyncIterator[str]:
        """The first choice's text as it arrives, joined as in `deltas`."""
        async with aclosing(self.deltas()) as arriving:  # closing this one closes that one (and the call)
            async for deltas in arriving:
                if 0 in deltas:
                    yield deltas[0]

    async def deltas(self) -> AsyncIterator[dict[int, str]]:
        """The text as it arrives, by choice index; deltas that queued up while the last ones
        were being sent go out as one per index (the client sees the same text in fewer events,
        and the server writes less)."""
        item = self._first
        try:
            while item is not _END:
                parts: dict[int, list[str]] = {}
                while True:
                    if isinstance(item, str):
                        parts.setdefault(0, []).append(item)
                    else:
                        parts.setdefault(item[0], []).append(item[1])
                    if self._queue.empty():
                        item = None
                        break
                    item = self._queue.get_nowait()
                    if item is _END:
                        break
                yield {index: "".join(texts) for index, texts in parts.items()}
                if item is None:
                    item = await self._queue.get()
        finally:
            if not self._task.done():
                self._task.cancel()

    @property
    def finished(self) -> bool:
        """The call is over and every text it sent has been taken: what is left is the tail."""
        return self._task.done() and self._queue.empty()

    def result(self) -> Reply:
        return self._task.result()

    def cancel(self) -> None:
        if not self._task.done():
            self._task.cancel()
