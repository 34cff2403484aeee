"""Pages. The first page lists the registry; the full UI comes with its own issue."""

from __future__ import annotations

from nicegui import ui

from studio.registry.search import price_label
from studio.ui import analytics_page  # noqa: F401  (registers /analytics)
from studio.ui.app import get_studio


@ui.page("/")
def registry_page() -> None:
    studio = get_studio()
    ui.label("IoM Studio").classes("text-2xl font-bold")
    ui.label("Registry").classes("text-lg")
    rows = [
        {"id": s.id, "name": s.name, "type": s.model_type, "provider": s.provider, "price": price_label(s)}
        for s in studio.models.all()
    ]
    columns = [{"name": k, "label": k.title(), "field": k, "align": "left"} for k in ("id", "name", "type", "provider", "price")]
    ui.table(columns=columns, rows=rows, row_key="id").classes("w-full")
    for problem in studio.models.problems():
        ui.label(str(problem)).classes("text-negative")
