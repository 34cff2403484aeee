"""Hold the start's background work until the server has answered its first request.

At start the studio opens its analytics database (importing DuckDB), makes the gateway token
(a keyring call), and checks the built-in models. Run at once, that work takes the GIL and a
core from the first page the user is waiting for; it can as well begin once the server has
answered a request, or after a few seconds when nobody asks for anything. Nothing is lost
meanwhile: records wait in the spool, and a CLI command beside the server works on its own.
"""

from __future__ import annotations

import asyncio

WAIT_AT_MOST_S = 2.0


class FirstAnswer:
    """An ASGI wrapper whose `answered` event is set when the first HTTP request is done."""

    def __init__(self) -> None:
        self.app = None
        self.answered = asyncio.Event()

    def wrap(self, app) -> "FirstAnswer":
        self.app = app
        return self

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and not self.answered.is_set():
                self.answered.set()

    async def wait(self, at_most_s: float = WAIT_AT_MOST_S) -> None:
        """Until the first answer, or `at_most_s`."""
        try:
            await asyncio.wait_for(self.answered.wait(), at_most_s)
        except TimeoutError:
            pass
