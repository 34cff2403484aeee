"""A Ray worker's side of the job's circuit breakers (`_SharedBreaker`), over a stand-in for the
actor handle that runs the real `JobState` in this process and logs each message: which
messages a call costs, and in which order they reach the job's breakers. (tests/eval/test_ray.py
runs the same through a real local Ray.)"""

from __future__ import annotations

import time

from studio.eval.ray_executor import _SharedBreaker
from studio.eval.ray_job_state import JobState


class _Answer:
    """What awaiting an actor call's reference gives: the method's answer."""

    def __init__(self, value):
        self.value = value

    def __await__(self):
        if False:
            yield
        return self.value


class _Handle:
    """`handle.method.remote(*args)` runs `JobState.method(*args)` at once and logs it."""

    def __init__(self, state: JobState):
        self.state, self.log = state, []

    def __getattr__(self, name):
        handle = self

        class _Method:
            @staticmethod
            def remote(*args):
                handle.log.append(name)
                return _Answer(getattr(handle.state, name)(*args))
        return _Method


async def _allowed(breaker: _SharedBreaker) -> bool:
    answer = breaker.allow()
    return answer if isinstance(answer, bool) else await answer


async def test_a_healthy_model_costs_one_message_per_fresh_window_not_one_per_call(monkeypatch):
    monkeypatch.setattr(_SharedBreaker, "FRESH_S", 0.2)
    handle = _Handle(JobState(threshold=5, cooldown_s=30))
    breaker = _SharedBreaker(handle, "m")
    for _ in range(50):
        assert await _allowed(breaker)
        breaker.success()
    assert handle.log == ["allow"]  # asked once; the successes had nothing to reset
    time.sleep(0.25)
    assert await _allowed(breaker)
    assert handle.log == ["allow", "success", "allow"]  # the held success goes first


async def test_a_failure_is_sent_after_the_held_success_and_the_next_call_asks():
    handle = _Handle(JobState(threshold=5, cooldown_s=30))
    breaker = _SharedBreaker(handle, "m")
    assert await _allowed(breaker)
    breaker.success()
    breaker.failure()
    assert handle.log == ["allow", "success", "failure"]
    assert await _allowed(breaker) and handle.log[-1] == "allow"  # asked: something failed here
    breaker.success()  # the job's breaker counts a failure: sent at once
    assert handle.log[-1] == "success"


async def test_failures_on_two_workers_open_the_one_breaker_of_the_job():
    state = JobState(threshold=3, cooldown_s=30)
    one, other = _SharedBreaker(_Handle(state), "m"), _SharedBreaker(_Handle(state), "m")
    for worker in (one, other, one):
        assert await _allowed(worker)
        worker.failure()
    assert not await _allowed(other) and not await _allowed(one)
    assert await _allowed(_SharedBreaker(_Handle(state), "another model"))
