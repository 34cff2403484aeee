"""What a Ray job's workers share, in one actor per job (`JobState`): the keys its models name,
in the actor's memory only, and each model's circuit breaker.

One actor, not one for each: an actor is a process of its own, and a second one's start took
~1 s of the two cores, ~8 % of a 5,000-row offline batch's rows/s. This module imports nothing
heavy for the same reason (studio/breaker.py, not the engine package), as the actor's process
imports it by name.
"""

from __future__ import annotations

from studio.breaker import CircuitBreaker


class JobState:
    """Keys: `load` on the driver, `get` by a worker when a call needs one. Breakers: Ray runs
    one caller's calls to an actor in the order they were sent, so a worker's outcomes are
    counted before its next question. Records: workers `add_records` as they go, the driver
    `take_records`, so a worker that dies mid-task has handed over the calls it made."""

    def __init__(self, threshold: int, cooldown_s: float):
        self._keys: dict[str, str] = {}
        self._records: tuple[list, list] = ([], [])  # (calls, runs) as the workers sent them
        self._threshold, self._cooldown_s = threshold, cooldown_s
        self._breakers: dict[str, CircuitBreaker] = {}

    def load(self, keys: dict[str, str]) -> None:
        self._keys.update(keys)

    def get(self, name: str) -> str | None:
        return self._keys.get(name)

    def add_records(self, calls: list, runs: list) -> None:
        self._records[0].extend(calls)
        self._records[1].extend(runs)

    def take_records(self) -> tuple[list, list]:
        taken, self._records = self._records, ([], [])
        return taken

    def _breaker(self, model_id: str) -> CircuitBreaker:
        if model_id not in self._breakers:
            self._breakers[model_id] = CircuitBreaker(self._threshold, self._cooldown_s)
        return self._breakers[model_id]

    def allow(self, model_id: str) -> tuple[bool, bool]:
        """(whether a call may go now, whether the breaker is closed with no failure counted)."""
        breaker = self._breaker(model_id)
        return breaker.allow(), breaker.state == "closed" and breaker.failures == 0

    def success(self, model_id: str) -> None:
        self._breaker(model_id).success()

    def failure(self, model_id: str) -> None:
        self._breaker(model_id).failure()

    def release(self, model_id: str) -> None:
        self._breaker(model_id).release()
