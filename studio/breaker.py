"""The circuit breaker the engine keeps per model (`Engine.breaker`). Apart from the rest of
its resilience (studio/engine/resilience.py) so that a Ray job's breakers, in an actor's
process of their own (studio/eval/ray_job_state.py), start without importing the engine
package (~0.5 s)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class CircuitBreaker:
    """Opens after `threshold` failures in a row; after `cooldown_s` lets one probe through
    (half-open): success closes it, failure opens it again."""

    threshold: int = 5
    cooldown_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False
    clock: object = field(default=time.monotonic, repr=False)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self.probing = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()

    def release(self) -> None:
        """A call it let through ended without saying whether the model is up: refused for the
        request itself (a 400, a missing key), or cancelled. A half-open breaker lets the next
        call probe; before this, it waited for an outcome that never came and refused every
        call until the process ended."""
        self.probing = False
