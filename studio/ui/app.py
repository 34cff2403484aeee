"""Start the studio's one server on 127.0.0.1: the NiceGUI pages and the OpenAI-compatible
gateway (studio/gateway), both over the same Studio object."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from studio.paths import home_dir

# NiceGUI keeps per-user storage in ./.nicegui unless told; keep it with the studio's data.
os.environ.setdefault("NICEGUI_STORAGE_PATH", str(home_dir() / "nicegui"))

from nicegui import app, background_tasks, ui  # noqa: E402

from studio.core import Studio
from studio.errors import UserError
from studio.heap import freeze_long_lived
from studio.security.guard import Guard
from studio.security.policy import AccessPolicy
from studio.security.preflight import (check_binding, check_home_writable, check_not_served, check_port_free,
                                       ui_token_required)
from studio.ui.first_answer import FirstAnswer
from studio.ui.threads import io_bound

_studio: Studio | None = None
_studio_lock = threading.Lock()  # held while the Studio is built or closed
_serving: FirstAnswer | None = None  # the running server's; None once it shuts down


def get_studio() -> Studio:
    """The one Studio of this process, built on first use (after IOM_HOME is settled). Built
    under a lock: a first request on the event loop and one on a worker thread (or a test
    seeding data beside the starting server) built two, and both wrote the one analytics
    database (studio/analytics/owners.py)."""
    global _studio
    studio = _studio
    if studio is None:
        with _studio_lock:
            if _studio is None:
                _studio = Studio()
            studio = _studio
    return studio


def reset_studio(*, keep_home: Path | None = None) -> None:
    """Tests point IOM_HOME elsewhere between runs; the next page builds a fresh Studio. With
    `keep_home`, a Studio of that data dir stays (one a test built to seed the data it serves)."""
    global _studio
    with _studio_lock:
        if _studio is not None and _studio.home != keep_home:
            _studio.close()
            _studio = None


async def _shutdown() -> None:
    """Close provider connections on the loop that made them, then flush analytics."""
    from studio.serverinfo import withdraw

    global _serving
    _serving = None  # a start still waiting for its first answer must not build a Studio now
    if _studio is not None:
        withdraw(_studio.home)
        await _studio.aclose()
    reset_studio()


def _startup(host: str, port: int, first: FirstAnswer):
    async def start() -> None:
        """Own the analytics database from the start (CLI commands beside us then hand their
        records over through the spool; a long one that holds it already is asked to let it go,
        studio/analytics/handover.py) and tell them where we listen: once the first request is
        answered (studio/ui/first_answer.py)."""
        from studio.serverinfo import announce

        await first.wait()
        if _serving is not first:  # the server stopped (or another took its place) meanwhile
            return
        studio = get_studio()
        await io_bound(lambda: studio.analytics.start(take_over=True, serving_pages=True))
        announce(studio.home, host, port)
        if "PYTEST_CURRENT_TEST" not in os.environ:  # NiceGUI's page fixtures swap keyrings per test
            from studio.security.token import gateway_token

            # made at first start, beside the first page rather than before it (a keyring call)
            background_tasks.create(io_bound(gateway_token, studio.home, studio.keys), name="gateway token")
        background_tasks.create(check_builtin_models(studio), name="check built-in models")
        background_tasks.create(refresh_health_on_schedule(studio), name="refresh health on schedule")

    return start


async def check_builtin_models(studio) -> None:
    """The built-in models need no key or network: check them in the background at start, so
    the registry shows them healthy instead of "unknown" (the first page does not wait)."""
    try:
        await refresh_health(studio, lambda specs: [s for s in specs if s.api == "local"])
    except Exception:  # noqa: BLE001 — a failed check must never stop the server
        import logging

        logging.getLogger(__name__).exception("checking the built-in models at start failed")


async def refresh_health(studio, pick=None) -> int:
    """Probe the models the schedule covers (or `pick(all models)`) and store the results;
    returns how many."""
    from studio.registry.health_schedule import models_to_probe

    check = getattr(getattr(studio, "providers", None), "check", None)  # taken once: the hub may be swapped meanwhile
    if not callable(check):
        return 0  # a build without the provider hub: nothing to check with
    specs = await io_bound(models_to_probe, studio) if pick is None else pick(await io_bound(studio.models.all))
    for spec in specs:
        status = await check(spec)
        await io_bound(studio.models.set_health, spec.id, status)
    return len(specs)


async def refresh_health_on_schedule(studio) -> None:
    """Every N minutes (Settings page; the user may turn it off) refresh every model's health.
    The setting is read each round, so a change applies without a restart."""
    import asyncio
    import logging

    from studio.registry.health_schedule import load_schedule

    while True:
        schedule = await io_bound(load_schedule, studio.home)
        await asyncio.sleep(schedule.every_minutes * 60)
        schedule = await io_bound(load_schedule, studio.home)
        if not schedule.enabled:
            continue
        try:
            await refresh_health(studio)
        except Exception:  # noqa: BLE001 — a failed round must never stop the server or the schedule
            logging.getLogger(__name__).exception("the scheduled health refresh failed")


def serve(host: str | None = None, port: int | None = None) -> None:
    """Register the pages and run the server (blocking) until Ctrl+C, which is how it is
    stopped: said in one line (uvicorn raises the interrupt again after its shutdown)."""
    try:
        _serve(host, port)
    except KeyboardInterrupt:
        print("IoM Studio stopped.", file=sys.stderr)


def _serve(host: str | None, port: int | None) -> None:
    """A Studio of another IOM_HOME is replaced, so a test that runs the app again with another
    IOM_HOME gets its own data."""
    # The imported modules (NiceGUI, FastAPI, pydantic's schemas: ~90,000 objects) out of the
    # collector's view, and the collector back on (run.py turns it off while they are
    # imported): the first page paid for a full pass over them, ~35 ms of the start.
    freeze_long_lived()
    from studio.ui.pages import register_all

    from studio.gateway.api_app import BuiltOnFirstRequest
    from studio.logs import log_sentences_for_the_server
    from studio.secrets.store import choose_backend_early

    host = host or os.environ.get("IOM_HOST", "127.0.0.1")
    port = port or _port_from_env()
    in_test_harness = "PYTEST_CURRENT_TEST" in os.environ  # NiceGUI's own test server picks its port
    try:
        check_binding(host)
        if not in_test_harness:
            check_port_free(host, port)
        check_home_writable(home_dir())
        if not in_test_harness:  # (NiceGUI's page tests serve one data dir from one process, test after test)
            check_not_served(home_dir())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    if not in_test_harness:  # tests install their own keyring; a late backend choice must not replace it
        print(where_to_open(host, port), file=sys.stderr, flush=True)
        choose_backend_early()
        log_sentences_for_the_server()  # (and pytest captures the logs of a server in its own process)
    reset_studio(keep_home=home_dir())  # a Studio built for this data dir before the server is the one it serves
    register_all()
    policy, ui_token = AccessPolicy.from_env(host), ui_token_required()
    api = BuiltOnFirstRequest(get_studio)
    global _serving
    first = _serving = FirstAnswer()
    put_in_front(app, lambda pages: first.wrap(Guard(pages, policy=policy, home=lambda: get_studio().home,
                                                     keys=lambda: get_studio().keys, ui_token=ui_token, api_app=api)))
    app.on_startup(_startup(host, port, first))
    app.on_shutdown(_shutdown)
    ui.run(host=host, port=port, title="IoM Studio", reload=False, show=False, favicon="🕸", dark=None)


def where_to_open(host: str, port: int) -> str:
    """The start line: the address a browser reaches (a wildcard bind is 127.0.0.1 here), and
    for one open to other machines, that they must be named (the Guard refuses other Host names)."""
    wildcard = host in ("0.0.0.0", "::")
    shown = "127.0.0.1" if wildcard else (f"[{host}]" if ":" in host else host)
    line = f"IoM Studio: open http://{shown}:{port} in your browser (Ctrl+C stops it)"
    if wildcard:
        line += ("; from other machines, add the name or address they use for this one to IOM_ALLOWED_HOSTS "
                 "(other Host names are refused)")
    return line


def put_in_front(app, door) -> None:
    """Make `door(pages)` the first thing every request meets, ahead of the middleware NiceGUI
    adds when it starts (gzip, redirects, cache headers): Starlette builds its stack on the
    first request from `build_middleware_stack`, and the door wraps what that builds."""
    build = type(app).build_middleware_stack
    app.build_middleware_stack = lambda: door(build(app))


def _port_from_env() -> int:
    raw = os.environ.get("IOM_PORT", "8080")
    try:
        port = int(raw)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        print(f"error: IOM_PORT={raw!r} is not a port number; use a number from 1 to 65535.", file=sys.stderr)
        raise SystemExit(1) from None
    return port
