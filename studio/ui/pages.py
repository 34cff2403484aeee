"""Page registration. Routes are registered by `register_all()`, not at import time, so a
test harness that resets NiceGUI's globals between tests can register them again."""

from __future__ import annotations

from nicegui import ui

from studio.registry.search import price_label
from studio.ui.app import get_studio
from studio.ui.shell import frame


def registry_page() -> None:
    studio = get_studio()
    with frame("Registry"):
        rows = [
            {"id": s.id, "name": s.name, "type": s.model_type, "provider": s.provider, "price": price_label(s)}
            for s in studio.models.all()
        ]
        columns = [{"name": k, "label": k.title(), "field": k, "align": "left"} for k in ("id", "name", "type", "provider", "price")]
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full")
        for problem in studio.models.problems():
            ui.label(str(problem)).classes("text-negative")


def register_all() -> None:
    from studio.ui import pipelines_page

    ui.page("/")(registry_page)
    pipelines_page.register()
