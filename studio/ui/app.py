"""Start the studio's one server on 127.0.0.1: the NiceGUI pages and the OpenAI-compatible
gateway (studio/gateway), both over the same Studio object."""

from __future__ import annotations

import os

from studio.paths import data_home

# NiceGUI keeps per-user storage in ./.nicegui unless told; keep it with the studio's data.
os.environ.setdefault("NICEGUI_STORAGE_PATH", str(data_home() / "nicegui"))

from nicegui import app, ui  # noqa: E402

from studio.core import Studio

_studio: Studio | None = None


def get_studio() -> Studio:
    """The one Studio of this process, built on first use (after IOM_HOME is settled)."""
    global _studio
    if _studio is None:
        _studio = Studio()
    return _studio


def reset_studio() -> None:
    """Tests point IOM_HOME elsewhere between runs; the next page builds a fresh Studio."""
    global _studio
    if _studio is not None:
        _studio.close()
    _studio = None


async def _shutdown() -> None:
    """Close provider connections on the loop that made them, then flush analytics."""
    from studio.serverinfo import withdraw

    if _studio is not None:
        withdraw(_studio.home)
        await _studio.aclose()
    reset_studio()


def _startup(host: str, port: int):
    async def start() -> None:
        """Own the analytics database from the start (CLI commands beside us then hand their
        records over through the spool) and tell them where we listen."""
        from nicegui import run

        from studio.serverinfo import announce

        studio = get_studio()
        await run.io_bound(studio.analytics.start)
        announce(studio.home, host, port)

    return start


def serve(host: str | None = None, port: int | None = None) -> None:
    """Register the pages and run the server (blocking). A fresh Studio is built for each
    serve(), so a test that runs the app again with another IOM_HOME gets its own data."""
    from studio.ui.pages import register_all

    from studio.gateway import openai_api, studio_api

    host = host or os.environ.get("IOM_HOST", "127.0.0.1")
    port = port or int(os.environ.get("IOM_PORT", "8080"))
    reset_studio()
    register_all()
    openai_api.register(app, get_studio)
    studio_api.register(app, get_studio)
    app.on_startup(_startup(host, port))
    app.on_shutdown(_shutdown)
    ui.run(
        host=host,
        port=port,
        title="IoM Studio",
        reload=False,
        show=False,
        favicon="🕸",
        dark=None,
    )
