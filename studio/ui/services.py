"""The pages' one door to the provider hub and its health probe.

Pages never call HTTP providers; they go through `studio.providers` (the hub, see the
contract in studio/providers/hub.py). The hub and its probe land from another part of the
project, so this module looks them up and says clearly when they are not there yet.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Awaitable, Callable

from nicegui import run

from studio.errors import UserError
from studio.spec.base import utcnow
from studio.spec.model import HealthStatus, ModelSpec

NO_HUB = "Model calls are not available in this build (the provider hub is missing); update the studio."
NO_PROBE = "Health checks are not available in this build (the provider hub has no probe); update the studio."

# Names the hub's probe may have: async or sync fn(spec) -> HealthStatus (or its state).
_PROBE_NAMES = ("check", "check_health", "health_check", "probe")


def hub(studio) -> Any:
    """The studio's provider hub, or None while it is not part of the build."""
    return getattr(studio, "providers", None)


def can_call(studio) -> bool:
    return callable(getattr(hub(studio), "call", None))


def health_probe(studio) -> Callable[[ModelSpec], Any] | None:
    h = hub(studio)
    for name in _PROBE_NAMES:
        fn = getattr(h, name, None)
        if callable(fn):
            return fn
    return None


async def check_health(studio, spec: ModelSpec) -> HealthStatus:
    """Probe one model through the hub and keep the result in the registry."""
    probe = health_probe(studio)
    if probe is None:
        raise UserError(NO_PROBE)
    started = time.perf_counter()
    result = probe(spec)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, HealthStatus):
        status = result
    elif hasattr(result, "model_dump"):  # a HealthStatus from a reloaded module copy
        status = HealthStatus.model_validate(result.model_dump())
    else:
        status = HealthStatus(state=str(result or "unknown"), latency_ms=(time.perf_counter() - started) * 1000, checked=utcnow())
    await run.io_bound(studio.models.set_health, spec.id, status)
    return status


async def call_model(studio, spec: ModelSpec, request, *, on_text: Callable[[str], Awaitable[None] | None] | None = None):
    """One call through the hub (validation, key, streaming, cost and recording happen there)."""
    if not can_call(studio):
        raise UserError(NO_HUB)
    return await hub(studio).call(spec, request, on_text=on_text)
