"""Server-sent events for the API routes, without Starlette's StreamingResponse.

Under uvicorn (ASGI 2.3) a StreamingResponse runs every stream inside an anyio task group, only
to hear the client leave. Here one plain task waits for `http.disconnect` and cancels the
stream, which closes the events' generator and, through it, the call upstream: a client that
hangs up stops the tokens it would have paid for. A generator marks its last piece `Final`, which
then carries the end of the body (one write fewer per call). When the first piece is already
the last (an answer complete by the time it is sent: every fast call), there is nothing to
listen for and no listening task is made. The first piece is taken before listening starts:
the generators here have it at hand, as the call's first text arrived before the answer began.
"""

from __future__ import annotations

import asyncio
from typing import AsyncGenerator, Mapping

from starlette.types import Receive, Scope, Send


class Final(str):
    """A stream's last piece: it goes out with the end of the body, in one write."""


class EventStream:
    def __init__(self, events: AsyncGenerator[str, None], headers: Mapping[str, str] | None = None):
        self.events = events
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            first = await self.events.__anext__()
        except StopAsyncIteration:
            first = Final("")
        except BaseException:
            await self.events.aclose()
            raise
        if isinstance(first, Final):  # the whole answer is here already: nothing to listen for
            try:
                await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
                await send({"type": "http.response.body", "body": first.encode("utf-8"), "more_body": False})
            finally:
                await self.events.aclose()
            return
        await self._stream(first, receive, send)

    async def _stream(self, first: str, receive: Receive, send: Send) -> None:
        stream = asyncio.current_task()
        state = {"finished": False, "left": False}

        async def hear_the_client_leave() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not state["finished"]:
                state["left"] = True
                stream.cancel()

        listener = asyncio.create_task(hear_the_client_leave())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": first.encode("utf-8"), "more_body": True})
            final = False
            async for text in self.events:
                final = isinstance(text, Final)
                state["finished"] = final
                await send({"type": "http.response.body", "body": text.encode("utf-8"), "more_body": not final})
                if final:
                    break
            if not final:
                state["finished"] = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["left"]:
                raise
            stream.uncancel()  # we cancelled it ourselves: the client is gone, nothing to report
        finally:
            state["finished"] = True
            listener.cancel()
            await self.events.aclose()
