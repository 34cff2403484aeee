"""The pages' one door to the provider hub and its health probe.

Pages never call HTTP providers; they go through `studio.providers` (the hub,
studio/providers/hub.py: `call(...)` and `check(spec) -> HealthStatus`). A Studio built
without a hub (a stripped-down build, or a test) gets one clear sentence instead of a crash.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, TypeVar

from studio.errors import UserError
from studio.spec.model import HealthStatus, ModelSpec
from studio.ui.threads import io_bound

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_HUB = "Model calls are not available in this build (the provider hub is missing); update the studio."
NO_PROBE = "Health checks are not available in this build (the provider hub has no probe); update the studio."


def hub(studio) -> Any:
    """The studio's provider hub, or None while it is not part of the build."""
    return getattr(studio, "providers", None)


def can_call(studio) -> bool:
    return callable(getattr(hub(studio), "call", None))


def health_probe(studio) -> Callable[[ModelSpec], Awaitable[HealthStatus]] | None:
    probe = getattr(hub(studio), "check", None)
    return probe if callable(probe) else None


async def check_health(studio, spec: ModelSpec) -> HealthStatus:
    """Probe one model through the hub and keep the result in the registry."""
    probe = health_probe(studio)
    if probe is None:
        raise UserError(NO_PROBE)
    status = await probe(spec)
    await io_bound(studio.models.set_health, spec.id, status)
    return status


async def call_model(studio, spec: ModelSpec, request, *, on_text: Callable[[str], Awaitable[None] | None] | None = None):
    """One call through the hub (validation, key, streaming, cost and recording happen there)."""
    if not can_call(studio):
        raise UserError(NO_HUB)
    return await hub(studio).call(spec, request, on_text=on_text)


KEY_CHECK_WAIT_S = 1.5  # of NiceGUI's 3 s for a page to be built


async def keys_in_time(check: Callable[..., T], *args: Any, default: T) -> T:
    """`check(*args)` (a keyring question, in a thread), or `default` once KEY_CHECK_WAIT_S has
    passed: a keyring that answers slowly (locked, busy) made the page miss NiceGUI's time to be
    built, a raw "500 Server error". The check goes on in its thread and warms the key store,
    so the next page has the answer."""
    try:
        return await asyncio.wait_for(asyncio.shield(io_bound(check, *args)), KEY_CHECK_WAIT_S)
    except asyncio.TimeoutError:
        log.warning("the OS keyring answered slowly; this page does not mark the models whose key is not set")
        return default


def missing_keys(studio, specs: list[ModelSpec]) -> dict[str, str]:
    """{model id: key name} for models whose key is set nowhere (keyring or environment), so
    pages can mark them before a call. Blocking (keyring): call it in a thread."""
    is_set: dict[str, bool] = {}
    out: dict[str, str] = {}
    for spec in specs:
        if spec.key_ref:
            if spec.key_ref not in is_set:
                is_set[spec.key_ref] = studio.keys.status(spec.key_ref).is_set
            if not is_set[spec.key_ref]:
                out[spec.id] = spec.key_ref
    return out
