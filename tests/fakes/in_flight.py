"""A loopback provider's answer that takes a while, counting the calls under way at once."""

from __future__ import annotations

import threading
import time

from tests.fakes.provider_server import Reply


class InFlight:
    """Each answer takes `seconds`; `most` is the most calls under way at once. Given
    `expect(n)`, the answers are held until n calls are under way (10 s at most), then take their
    `seconds`: on a busy machine the client may take longer than that to start n calls, and the
    first would end before the last began. Calls beyond n that the client lets through still
    arrive within those seconds and are counted."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.lock, self.now, self.most = threading.Condition(), 0, 0
        self.until, self.reached = 0, True

    def expect(self, n: int) -> None:
        with self.lock:
            self.most, self.until, self.reached = 0, n, False

    def __call__(self, _request):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.lock.notify_all()
            if not self.reached:
                self.lock.wait_for(lambda: self.now >= self.until, timeout=10)
                self.reached = True
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
        return Reply(json={"id": "c", "object": "chat.completion", "model": "loop-1",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
