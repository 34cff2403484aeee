"""Datasets on the Evaluate page: import a CSV, JSONL or Parquet file from this computer, see
the chosen dataset's columns, row count and first rows, and map its columns to a pipeline's
inputs and to expected values, and delete it, as `iom datasets import|show|map|delete` do."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Awaitable, Callable

from nicegui import events, ui

from studio.errors import UserError
from studio.eval.datasets import (MappingChanged, delete_dataset, deleted_note, describe, free_id,
                                  import_dataset, parse_pairs, save_mapping)
from studio.ui.threads import io_bound
from studio.ui.widgets import confirm

PREVIEW_ROWS = 5


def _import_saved(home: Path, saved: Path):
    return import_dataset(home, saved, free_id(home, saved.name), source=f"uploaded to the web app: {saved.name}")


async def import_upload(home: Path, upload: events.UploadEventArguments):
    """The uploaded file saved under its own name in a scratch folder, then imported (copied in
    as given) under an id no dataset has; the scratch folder goes either way."""
    scratch = Path(tempfile.mkdtemp(prefix="iom-upload-"))
    try:
        saved = scratch / (Path(upload.file.name).name or "upload")
        await upload.file.save(saved)
        return await io_bound(_import_saved, home, saved)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pairs_text(pairs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


def _split(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


async def datasets_panel(home: Path, choice: ui.select, on_imported: Callable[[str], Awaitable[None]],
                         on_deleted: Callable[[], Awaitable[None]]) -> None:
    """An import button and, in an expansion, the preview, mapping and delete of `choice`'s dataset."""
    async def uploaded(e: events.UploadEventArguments) -> None:
        upload.reset()
        try:
            ds = await import_upload(home, e)
        except UserError as err:
            ui.notify(str(err), type="negative", multi_line=True, position="top")  # (each sentence starts with the file's name)
            return
        dialog.close()
        # (at the top: at the bottom a toast covered the panel's own Preview and Delete buttons)
        ui.notify(f"Imported {ds.id}: {ds.rows:,} rows, columns {', '.join(ds.column_names)}.", type="positive", position="top")
        await on_imported(ds.id)

    with ui.dialog() as dialog, ui.card():
        ui.label("Import a dataset").classes("text-h6")
        ui.label("A CSV, JSONL or Parquet file, kept as given; the first row of a CSV names its columns.").classes(
            "text-sm")
        upload = ui.upload(on_upload=uploaded, auto_upload=True, max_files=1).props(
            'accept=".csv,.jsonl,.ndjson,.parquet" data-testid=eval-dataset-upload').classes("w-full")
        ui.button("Close", on_click=dialog.close).props("flat")
    with ui.row().classes("w-full items-start no-wrap gap-4"):
        ui.button("Import a dataset", icon="upload_file", on_click=dialog.open).classes("shrink-0").props(
            "outline no-wrap data-testid=eval-dataset-import")
        with ui.expansion("Preview and mapping", icon="table_view").classes("w-full").props(
                "dense data-testid=eval-dataset-preview"):
            body = ui.column().classes("w-full gap-2")
    dialogs = ui.element()  # a confirmation outside `body`, which the choice it changes clears

    def ask_delete(dataset_id: str) -> None:
        async def remove() -> None:
            try:
                gone = await io_bound(delete_dataset, home, dataset_id)
            except UserError as err:  # a batch reads it, or it went meanwhile
                ui.notify(str(err), type="negative", multi_line=True, position="top")
                return
            ui.notify(deleted_note(*gone), type="positive", multi_line=True, position="top")
            await on_deleted()
        with dialogs:
            confirm(f"Delete dataset {dataset_id}? Its imported copy goes; the file you imported it from is not "
                    "touched, and batches over it keep their rows.", remove)

    async def show() -> None:
        ref = choice.value
        body.clear()
        if not ref:
            return
        try:
            ds, first = await io_bound(describe, home, ref, PREVIEW_ROWS)
        except UserError as err:
            with body:
                ui.label(str(err)).classes("text-negative")
            return
        with body:
            ui.label(f"{ds.rows:,} rows, {ds.format}; columns " + ", ".join(f"{c['name']} ({c['type']})" for c in ds.columns)
                     ).props("data-testid=eval-dataset-schema")
            ui.table(columns=[{"name": c, "label": c, "field": c, "align": "left"} for c in ds.column_names],
                     rows=[{c: str(row.get(c, ""))[:120] for c in ds.column_names} for row in first]).classes(
                "w-full").props("dense flat wrap-cells data-testid=eval-dataset-rows")
            if not ds.id:
                ui.label("A column with an input's name feeds that input; the others are expected values. "
                         "Import the file to save another mapping.").classes("text-grey-7")
                return
            ui.label("A column with an input's name feeds that input, the others are expected values, unless "
                     "mapped here (comma-separated NAME=COLUMN).").classes("text-grey-7")
            with ui.row().classes("items-center gap-4"):
                inputs = ui.input("Inputs: INPUT=COLUMN, …", value=_pairs_text(ds.inputs)).classes("w-96").props(
                    "data-testid=eval-map-inputs")
                expected = ui.input("Expected: NAME=COLUMN, …", value=_pairs_text(ds.expected)).classes("w-96").props(
                    "data-testid=eval-map-expected")

                drawn = {"ds": ds}  # the mapping as this page last showed or saved it

                async def save() -> None:
                    try:
                        pairs_in = parse_pairs(_split(inputs.value), "Inputs")
                        pairs_out = parse_pairs(_split(expected.value), "Expected")
                        drawn["ds"] = await io_bound(save_mapping, home, ds, pairs_in, pairs_out, drawn=drawn["ds"])
                    except MappingChanged as err:  # the CLI or another tab saved one since: say it, save over it if asked again
                        drawn["ds"] = err.now
                        save_button.text = "Save mine over it"
                        ui.notify(str(err), type="warning", multi_line=True, position="top")
                        return
                    except UserError as err:
                        ui.notify(str(err), type="negative", multi_line=True, position="top")
                        return
                    save_button.text = "Save mapping"
                    ui.notify(f"Saved the mapping of {ds.id}.", type="positive", position="top")

                save_button = ui.button("Save mapping", icon="save", on_click=save).props(
                    "outline data-testid=eval-map-save")
                ui.button("Delete dataset", icon="delete", color="negative", on_click=lambda: ask_delete(ds.id)).props(
                    "flat data-testid=eval-dataset-delete")

    choice.on_value_change(show)
    await show()
