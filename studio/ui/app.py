"""Start the NiceGUI app: one Studio object, the pages, and the server on 127.0.0.1."""

from __future__ import annotations

import os

from nicegui import app, ui

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


def register_pages() -> None:
    from studio.ui import pages  # noqa: F401  (registers @ui.page routes on import)


def serve(host: str | None = None, port: int | None = None) -> None:
    register_pages()
    app.on_startup(get_studio)
    app.on_shutdown(lambda: _studio.close() if _studio is not None else None)
    ui.run(
        host=host or os.environ.get("IOM_HOST", "127.0.0.1"),
        port=port or int(os.environ.get("IOM_PORT", "8080")),
        title="IoM Studio",
        reload=False,
        show=False,
        favicon="🕸",
        dark=None,
    )
