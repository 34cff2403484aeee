"""Opt-in fault injection (`spec.faults`): added latency, random server errors, 429s with a
retry-after, timeouts — so a person can watch routing and fallback without breaking a real
provider. The random source is injectable so tests decide what happens."""

from __future__ import annotations

import asyncio
import random as _random

from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.model import FaultInjection

INJECTED = "injected fault"


def active(faults: FaultInjection | None) -> bool:
    return bool(faults and faults.enabled)


async def inject(faults: FaultInjection | None, rng: _random.Random) -> None:
    """Before the real call: wait the added latency, then maybe raise one injected error."""
    if not active(faults):
        return
    if faults.added_latency_ms:
        await asyncio.sleep(faults.added_latency_ms / 1000)
    roll = rng.random()
    if roll < faults.timeout_rate:
        raise ProviderError(ErrorKind.TIMEOUT, INJECTED)
    roll -= faults.timeout_rate
    if roll < faults.rate_limit_rate:
        raise ProviderError(ErrorKind.RATE_LIMITED, INJECTED, status=429, retry_after_s=faults.retry_after_s)
    roll -= faults.rate_limit_rate
    if roll < faults.error_rate:
        raise ProviderError(ErrorKind.SERVER, INJECTED, status=500)


def label(faults: FaultInjection | None) -> str:
    """How a faulty model is marked wherever it shows."""
    return " (faults)" if active(faults) else ""
