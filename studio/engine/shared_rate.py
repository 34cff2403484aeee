"""A model's rate limits shared by every process on one data dir.

A provider's requests and tokens per minute are its account's, not one process's: the web app,
an `iom batch run` beside it and the gateway each keeping to 60 a minute sent 180. Each call
books its slot in the model's file under `IOM_HOME/rate-bookings/`, holding a `flock` on it while
it reads the bookings, makes its own and writes them back, so the bookings of all of them make
one queue. Only models with limits book, and a booking costs tens of microseconds: the file is
the booked moments as 8-byte floats, not JSON (JSON of 600 bookings took ~0.8 ms to read and
write). Times are the wall clock: the machine's monotonic clock starts again at each boot, and
bookings left from before would lie far ahead.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import time
from array import array
from pathlib import Path

from studio.engine.resilience import RateLimiter


class SharedRateLimiter(RateLimiter):
    def __init__(self, folder: Path, model_id: str, rpm: int | None, tpm: int | None, *, window_s: float):
        super().__init__(rpm, tpm, window_s=window_s)
        self.path = Path(folder) / f"{hashlib.sha256(model_id.encode()).hexdigest()[:24]}.bin"

    def _now(self) -> float:
        return time.time()

    def reserve(self, tokens: int = 0) -> float:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the folder, made at the first booking (not at every one)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for the read, the booking and the write (closing frees it)
            self._take(os.pread(fd, os.fstat(fd).st_size, 0))
            wait = super().reserve(tokens)
            blob = self._bytes()
            os.pwrite(fd, blob, 0)
            os.ftruncate(fd, len(blob))
        finally:
            os.close(fd)
        return wait

    def _bytes(self) -> bytes:
        """[last booking, n, n request times, then (time, tokens) pairs] as doubles."""
        flat = array("d", [self._last, len(self._requests)])
        flat.extend(self._requests)
        for t, n in self._tokens:
            flat.extend((t, n))
        return flat.tobytes()

    def _take(self, blob: bytes) -> None:
        """The bookings as the file has them; none where it does not read (cut short by a crash)."""
        flat = array("d")
        flat.frombytes(blob[:len(blob) - len(blob) % 8])
        n = int(flat[1]) if len(flat) >= 2 and 0 <= flat[1] <= len(flat) - 2 else -1
        pairs = flat[2 + n:] if n >= 0 else array("d")
        if n < 0 or len(pairs) % 2 or not all(map(math.isfinite, flat)):  # an inf would hold calls forever
            self._requests, self._tokens, self._last = [], [], float("-inf")
            return
        self._last = flat[0]
        self._requests = flat[2:2 + n].tolist()
        self._tokens = [(pairs[i], int(pairs[i + 1])) for i in range(0, len(pairs), 2)]
