"""A streamed chat answer: an ASGI app that runs the call in its own task and writes each
piece of text as the call hands it over.

The hub hands text over a network read at a time (providers/adapters/base.py holds the
tokens of one read), with no task or queue between it and this answer. The first text is
held until the call first waits for the provider: when the whole stream came in one read (a
short answer, a fast provider) it goes out with the end, in one write; otherwise it goes out
as soon as the call waits, and each later read is one write. A failure before any text is
answered with its real status (429 with retry-after, 5xx, 400) like a plain call; after
text, written or held, it travels inside the stream. An answer that has no text until the
call ends (tool calls only, a pipeline whose reply is not streamed) goes out whole. The task
that writes the held text stays to hear the client hang up and cancels the call, which
stops the tokens it would have paid for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from studio.gateway.errors import GatewayError, classify


@dataclass
class Reply:
    """One finished chat call, whoever answered it (a model or a pipeline)."""

    text: str
    finish: str = "stop"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    logprobs: list[dict[str, Any]] | None = None  # OpenAI's logprobs.content of this (the first) choice
    more: list["Reply"] = field(default_factory=list)  # the other choices when several were asked for (n)
    provider_finish: str | None = None  # the provider's own word for `finish` (Anthropic's API passes its own on)
    stop_sequence: str | None = None  # which `stop` string ended it, where the provider said
    thinking: list[dict[str, Any]] = field(default_factory=list)  # Claude's thinking blocks, signed, in order


class Frames(Protocol):
    """One API's stream format (OpenAI's chunks, Anthropic's events)."""

    def opening(self) -> str:
        """What goes before the first text."""

    def text(self, index: int, text: str) -> str:
        """A piece of choice `index`'s text."""

    def closing(self, reply: Reply) -> str:
        """Everything after the last text, up to the stream's end marker."""

    def failure(self, error: GatewayError) -> str:
        """The end of a stream whose call failed after its first text."""

    def refusal(self, error: GatewayError) -> Response:
        """The whole answer to a call that failed before its first text."""


class StreamedAnswer:
    def __init__(self, run: Callable[..., Awaitable[Reply]], frames: Frames,
                 headers: Mapping[str, str] | None = None, *, choices: bool = False):
        """`run(on_text)`, or with `choices` `run(on_text, on_choice_text)` for n > 1."""
        self.run, self.frames, self.choices = run, frames, choices
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _Answer(self, receive, send)
        try:
            await answer.run()
        except GatewayError as e:  # before the first text: the real status
            await self.frames.refusal(e)(scope, receive, send)


class _Answer:
    """The state of one answer being written."""

    def __init__(self, stream: StreamedAnswer, receive: Receive, send: Send):
        self.stream, self.frames, self.receive, self.send = stream, stream.frames, receive, send
        self.task = asyncio.current_task()
        self.started = self.finished = self.left = False
        self.held: list[str] = []  # text not yet written: it goes when the call first waits, or with the end
        self.sending = asyncio.Lock()
        self.listener: asyncio.Task | None = None

    async def run(self) -> None:
        try:
            try:
                # frames that carry Claude's thinking blocks (Anthropic's) get them as they stream
                blocks = {"on_block": self.on_block} if hasattr(self.frames, "block") else {}
                reply = await (self.stream.run(self.on_text, self.on_choice_text, **blocks) if self.stream.choices
                               else self.stream.run(self.on_text, **blocks))
            except Exception as e:  # noqa: BLE001 - classify re-raises what it does not know
                error = classify(e)
                if not (self.started or self.held):
                    raise error from None
                await self.write(self.frames.failure(error), last=True)
                return
            # with no text before it, this is the whole answer, in one write
            await self.write(self.frames.closing(reply), last=True)
        except asyncio.CancelledError:
            if not self.left:
                raise
            self.task.uncancel()  # we cancelled it ourselves: the client is gone, nothing to report
        finally:
            self.finished = True
            if self.listener is not None:
                self.listener.cancel()

    async def on_text(self, text: str) -> None:
        await self.write(self.frames.text(0, text))

    async def on_block(self, event: dict[str, Any]) -> None:
        await self.write(self.frames.block(event))

    async def on_choice_text(self, index: int, text: str) -> None:
        await self.write(self.frames.text(index, text))

    async def write(self, data: str, *, last: bool = False) -> None:
        if last:
            self.finished = True  # the end of the body wakes the listener; it is not the client leaving
        elif not self.started:
            # Held until this task first waits (the loop then runs `_write_held`): an answer
            # whose whole stream came in one read goes out in one write, with no listener task.
            if not self.held:
                asyncio.get_running_loop().call_soon(self._write_held)
            self.held.append(data)
            return
        async with self.sending:  # this task's writes and the listener's go one at a time, in order
            await self._write_now(data, last)

    def _write_held(self) -> None:
        if self.held and not self.finished:
            self.listener = asyncio.create_task(self._write_held_then_listen())

    async def _write_held_then_listen(self) -> None:
        async with self.sending:
            if self.started or self.finished:  # the end went out first, with the held text
                return
            await self._write_now("", last=False)
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.client_left()

    async def _write_now(self, data: str, last: bool) -> None:
        """Write `data`, after the headers and the held text the first time; `sending` is held."""
        if not self.started:
            self.started = True
            data = self.frames.opening() + "".join(self.held) + data
            self.held.clear()
            await self.send({"type": "http.response.start", "status": 200, "headers": self.stream.raw_headers})
        try:
            await self.send({"type": "http.response.body", "body": data.encode("utf-8"), "more_body": not last})
        except OSError:  # a server that raises once the client has gone (uvicorn returns quietly)
            self.client_left()

    def client_left(self) -> None:
        """Cancel the call (the hub records it as cancelled), unless the answer is complete."""
        if not self.finished and not self.left:
            self.left = True
            self.task.cancel()
