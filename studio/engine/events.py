"""Run events published as they happen, for the canvas and any other watcher.

Events are plain dicts (JSON-ready): {"type": "node", "runId", "pipelineId", "nodeId",
"status", ...figures}, {"type": "text", "runId", "nodeId", "text"} and {"type": "run",
"runId", "status"}. Each carries "perf_counter" (time.perf_counter() at emission) so a
watcher can measure how late it sees them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for every event; returns the function that unsubscribes."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    @property
    def listening(self) -> bool:
        """Whether anyone is subscribed (events are only built for someone)."""
        return bool(self._handlers)

    def publish(self, event: dict[str, Any]) -> None:
        event["perf_counter"] = time.perf_counter()
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:  # a broken watcher must not break the run
                log.exception("run event handler failed")
