"""Page registration. Routes are registered by `register_all()`, not at import time, so a
test harness that resets NiceGUI's globals between tests can register them again.

Only the start page is imported when the server starts: it is what a launch serves first.
Every other page is registered here by a thin function with the page's own signature that
imports the page's module on its first visit (that visit takes the import once), so the
server answers sooner after `python run.py`.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import app, ui

from studio.ui.shell import add_assets


BATCH_CSV_PATH = "/evaluate/batches/{batch_id}/rows.csv"


def register_all() -> None:
    from studio.ui import home_page
    from studio.ui.canvas.element import register_assets as add_canvas_assets

    add_assets()
    add_canvas_assets()  # the import map must name the canvas's modules from the first page on
    home_page.register()
    ui.page("/registry")(registry_page)
    ui.page("/pipelines")(pipelines_list_page)
    ui.page("/pipelines/{pipeline_id}")(pipeline_editor_page)
    ui.page("/console")(console_page)
    ui.page("/analytics")(analytics_page)
    ui.page("/evaluate")(evaluate_page)
    app.get(BATCH_CSV_PATH)(batch_rows_csv)
    ui.page("/settings")(settings_page)


async def registry_page() -> None:
    """/registry; studio.ui.registry_page is imported on the first visit."""
    from studio.ui.registry_page import registry_page as page

    await page()


async def pipelines_list_page() -> None:
    """/pipelines; studio.ui.pipelines_page (with the canvas editor) is imported on the first visit."""
    from studio.ui.pipelines_page import pipelines_list_page as page

    await page()


async def pipeline_editor_page(pipeline_id: str) -> None:
    """/pipelines/{id}; studio.ui.pipelines_page is imported on the first visit."""
    from studio.ui.pipelines_page import pipeline_editor_page as page

    await page(pipeline_id)


async def console_page(model: str | None = None) -> None:
    """/console?model=…; studio.ui.console_page is imported on the first visit."""
    from studio.ui.console_page import console_page as page

    await page(model)


async def analytics_page() -> None:
    """/analytics; studio.ui.analytics_page (with plotly figures) is imported on the first visit."""
    from studio.ui.analytics_page import analytics_page as page

    await page()


async def evaluate_page() -> None:
    """/evaluate; studio.ui.evaluate_page (with the experiment runner) is imported on the first visit."""
    from studio.ui.evaluate_page import evaluate_page as page

    await page()


async def settings_page(request: Request) -> None:
    """/settings; studio.ui.settings_page is imported on the first visit."""
    from studio.ui.settings_page import settings_page as page

    await page(request)


def batch_rows_csv(batch_id: str):
    """A batch's rows as CSV, streamed as they are read (the Evaluate page's download): a sync
    handler, so FastAPI reads the file in its thread pool, off the event loop."""
    import itertools

    from starlette.responses import PlainTextResponse, StreamingResponse

    from studio.errors import UserError
    from studio.eval.batch import csv_chunks
    from studio.ui.app import get_studio

    chunks = csv_chunks(get_studio().home, batch_id)
    try:
        first = next(chunks)  # an unknown batch is said before anything is sent
    except UserError as e:
        return PlainTextResponse(str(e), status_code=404)
    return StreamingResponse(itertools.chain([first], chunks), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'})
