"""Surviving failing models: backoff, rate limits that queue, deadlines on calls (and a circuit
breaker per model: studio/breaker.py).

Breakers and limiters live on the Engine, so they are shared by every run in the process; the
engine's limiters also book in the data dir, shared with the other processes on it (shared_rate.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from studio.providers.errors import DEADLINE_CANCEL, ErrorKind, ProviderError


class BreakerOpen(Exception):
    """The model's circuit breaker refused the attempt (Engine.call_with_retries)."""


def breaker_refused(model_id: str, last: ProviderError | None) -> ProviderError:
    """The error of a call whose next attempt the breaker refused: the model's own last error
    of this call, if it had one, with the breaker's part said after it ("HTTP 500 — boom; then
    the circuit breaker opened"), else the breaker's own sentence. The breaker's word used to
    replace the provider's (which was lost) and read as "the provider is overloaded"."""
    if last is None or last.model_id != model_id:
        return ProviderError(ErrorKind.CIRCUIT_OPEN, model_id=model_id, sent=False)
    if not last.detail.endswith("then the circuit breaker opened"):
        last.detail = (f"{last.detail}; " if last.detail else "") + "then the circuit breaker opened"
        last.args = (last.sentence(),)
    return last


class DeadlinePassed(Exception):
    """No time was left for another attempt (Engine.call_with_retries)."""


def backoff_delay(attempt: int, *, base_s: float = 0.5, cap_s: float = 20.0,
                  retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter; a provider's retry-after is honoured as a floor."""
    rng = rng or random
    delay = rng.uniform(0, min(cap_s, base_s * (2 ** attempt)))
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return delay


class RateLimiter:
    """Requests and tokens per minute for one model, as sliding one-minute windows.
    `acquire` waits (queues) until the call fits; it never fails a call.

    Each call books its slot first (`reserve`): the earliest moment, no earlier than the last
    booking (first come, first served), at which it fits the windows. The booking is all the
    state, so one limiter can serve callers in other processes, which only need the seconds to
    wait (the Ray executor's workers: ray_executor.RateGate). A call cancelled while it waits
    keeps its booking: the limiter then errs on the side of fewer calls."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None, *, window_s: float = 60.0):
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self._requests: list[float] = []  # booked moments, in order
        self._tokens: list[tuple[float, int]] = []
        self._last = float("-inf")

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        self._requests = [t for t in self._requests if t > cutoff]
        self._tokens = [(t, n) for t, n in self._tokens if t > cutoff]

    def _wait_needed(self, now: float, tokens: int) -> float:
        waits = [0.0]
        if self.rpm and len(self._requests) >= self.rpm:
            waits.append(self._requests[len(self._requests) - self.rpm] + self.window_s - now)
        if self.tpm:
            used = sum(n for _, n in self._tokens)
            if used + tokens > self.tpm and self._tokens:
                freed, i = used, 0
                while freed + tokens > self.tpm and i < len(self._tokens):
                    freed -= self._tokens[i][1]
                    i += 1
                waits.append(self._tokens[i - 1][0] + self.window_s - now)
        return max(waits)

    def _now(self) -> float:
        return time.monotonic()

    def reserve(self, tokens: int = 0) -> float:
        """Book the call's slot; returns the seconds until it (0 when it fits now)."""
        now = self._now()
        self._prune(now)
        at = max(now, self._last)
        at += self._wait_needed(at, tokens)
        self._requests.append(at)
        if tokens and self.tpm:
            self._tokens.append((at, tokens))
        self._last = at
        return at - now

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until the call fits; returns the seconds waited."""
        wait = self.reserve(tokens)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


class RateLimiters:
    """One limiter per model, made again when the model's limits change. Given a bookings
    folder (the engine's: IOM_HOME/rate-bookings/), each books there, shared with the other
    processes on the same data dir (shared_rate.py)."""

    def __init__(self, window_s: float = 60.0, bookings: Path | None = None):
        self.window_s = window_s
        self.bookings = bookings
        self._by_model: dict[str, RateLimiter] = {}

    def get(self, model_id: str, rpm: int | None, tpm: int | None) -> RateLimiter | None:
        if not (rpm or tpm):
            return None
        found = self._by_model.get(model_id)
        if found is None or (found.rpm, found.tpm) != (rpm, tpm):
            if self.bookings is None:
                found = RateLimiter(rpm, tpm, window_s=self.window_s)
            else:
                from studio.engine.shared_rate import SharedRateLimiter

                found = SharedRateLimiter(self.bookings, model_id, rpm, tpm, window_s=self.window_s)
            self._by_model[model_id] = found
        return found


class CallDeadlines:
    """The engine's safety net over each call's own timeout: a call still going when the time
    it was watched for has passed is cancelled, and its caller reports a timeout. The adapters keep their own timeouts;
    this catches what they cannot (a stream that trickles forever, a caller that ignores them).

    One timer for every call in flight, ticking every `tick_s` while there are calls, instead
    of `asyncio.timeout`'s timer per call: arming and disarming one of those is a heap push and
    a cancelled handle for each node, a tenth of a node's cost in the engine. The price is
    precision the net does not need: a call is stopped within `tick_s` after its deadline."""

    def __init__(self, tick_s: float = 0.25):
        self.tick_s = tick_s
        self._due: dict[asyncio.Task, tuple[float, int]] = {}  # task -> (deadline, its cancelling() then)
        self._fired: set[asyncio.Task] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def watch(self, task: asyncio.Task, seconds: float) -> None:
        self._due[task] = (time.monotonic() + seconds, task.cancelling())
        loop = task.get_loop()
        if self._timer is None or self._timer_loop is not loop:  # (a timer of a closed loop never fires)
            self._timer, self._timer_loop = loop.call_later(self.tick_s, self._sweep), loop

    def timed_out(self, task: asyncio.Task) -> bool:
        """Asked when the watched call raised CancelledError: True when this net cancelled it
        (the cancel is taken back, and the caller raises a timeout instead), False for any
        other cancel, which goes on."""
        if task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() <= self._due[task][1]

    def forget(self, task: asyncio.Task) -> None:
        """Stop watching the task's call (it ended, one way or another)."""
        self._due.pop(task, None)
        self._fired.discard(task)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = None
        now = time.monotonic()
        for task, (deadline, _) in list(self._due.items()):
            if task.get_loop() is not loop:  # left behind by a loop that closed mid-call
                if task.get_loop().is_closed():
                    self._due.pop(task, None)
                continue
            if deadline <= now and task not in self._fired:
                self._fired.add(task)
                task.cancel(DEADLINE_CANCEL)  # the hub records the call as timed out, not cancelled
        if self._due:
            self._timer, self._timer_loop = loop.call_later(self.tick_s, self._sweep), loop
