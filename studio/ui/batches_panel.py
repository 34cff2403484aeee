"""The batches on the Evaluate page: every batch in the studio, whichever process runs it
(`iom batch run` in a terminal, an experiment, this page), a running one's rows counting up as
they finish. A click on a batch shows its rows; its rows download as CSV; a stopped one goes on
from here (studio/eval/batch_jobs.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nicegui import ui

from studio.errors import UserError
from studio.eval.batch import Tally, batch_dir, delete_batch, load_plan, rows_in_order, target_label
from studio.eval.batch_jobs import BatchJob, batch_jobs, resumable_plan
from studio.eval.batch_watch import STOPPED, batch_state, shared_watch
from studio.eval.experiments import experiments_by_batch, kept_note
from studio.formats import dollars, money_total
from studio.ui.pages import BATCH_CSV_PATH
from studio.ui.threads import io_bound
from studio.ui.widgets import confirm, says_when_empty, transient_dialog

LOOK_EVERY_S = 2.0
ROWS_SHOWN = 500  # a dialog of 100,000 rows would be a page of megabytes: the CSV holds them all
STATE_WORDS = {"running": "running", "finished": "finished", "stopped": "stopped (its rows can go on)"}


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


def _data_name(batch: dict[str, Any]) -> str:
    return batch["datasetId"] or Path(batch["data"]).name


def batch_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows, newest batch first."""
    return [{"id": b["id"], "target": target_label(b["target"], b["swaps"]), "data": _data_name(b),
             "done": f"{b['done']:,} / {b['rows']:,}", "state": STATE_WORDS[b["state"]], "failed": f"{b['failed']:,}",
             "cost": money_total(b["costUsd"], b.get("unpricedRows")), "p50": _ms(b["latencyP50Ms"]),
             "created": b["created"][:16].replace("T", " ")} for b in reversed(summaries)]


COLUMNS = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in [
    ("id", "Batch"), ("target", "Target"), ("data", "Data"), ("done", "Rows done"), ("state", "State"),
    ("failed", "Failed"), ("cost", "Cost"), ("p50", "p50"), ("created", "Started (UTC)")]]
ROW_COLUMNS = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in [
    ("row", "Row"), ("status", "Status"), ("cost", "Cost"), ("latency", "Latency"), ("input", "Input"),
    ("output", "Output or error")]]


def _row_view(r: dict) -> dict[str, Any]:
    shown = r.get("error") or json.dumps(r.get("output"), ensure_ascii=False, default=str)  # as `iom batch show`
    return {"row": r["index"], "status": r["status"], "latency": _ms(r.get("latencyMs")),
            "cost": "unpriced" if r.get("costUsd") is None else dollars(r["costUsd"]),
            "input": json.dumps(r.get("inputs"), ensure_ascii=False, default=str)[:80], "output": shown[:160]}


def _load_batch(home: Path, batch_id: str) -> tuple[dict, list[dict]]:
    """The dialog's figures and first rows, the rows read one at a time (a batch of a million)."""
    plan = load_plan(home, batch_id)
    tally, shown = Tally(), []
    for row in rows_in_order(home, batch_id):
        tally.add(row)
        if len(shown) < ROWS_SHOWN:
            shown.append(_row_view(row))
    state = batch_state(batch_dir(home, batch_id), plan, tally.done)
    return {**plan.to_json(), **tally.result(plan), "state": state}, shown


async def batches_panel(studio) -> None:
    """The table of batches, looked at again every LOOK_EVERY_S while the page is open."""
    home = studio.home
    watch = shared_watch(home)
    jobs = batch_jobs(studio)
    watched: set[BatchJob] = set()  # the batches run here that this page saw running: told once they end
    ui.label("Batches").classes("text-h6")
    ui.label("Every batch in this studio: from 'iom batch run', from experiments and from this page. A running "
             "batch counts up here; click one for its rows, or to let a stopped one go on.").classes("text-grey-7")
    table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=10).classes(
        "w-full cursor-pointer").props("dense flat wrap-cells data-testid=eval-batches")
    says_when_empty(table, "No batches yet: running an experiment above starts one.")

    dialogs = ui.element()  # the confirmation lives here, not in the batch's dialog that a delete closes

    def ask_delete(batch_id: str, remove) -> None:
        with dialogs:
            confirm(f"Delete batch {batch_id}? Its rows go (running its command again starts it afresh); "
                    "its runs stay in the analytics.", remove)

    async def look() -> None:
        rows = batch_rows(await io_bound(watch.summaries))
        if rows != table.rows:
            table.rows = rows
        for job in jobs.ended_for(watched):
            ui.notify(job.outcome(), type="negative" if job.error else "positive", multi_line=True)

    async def resume(batch_id: str, dialog) -> None:
        try:
            plan = await io_bound(resumable_plan, home, batch_id)
            job = jobs.start(studio, plan)
        except UserError as e:  # deleted, finished or taken by a terminal since the dialog opened
            ui.notify(str(e), type="negative")
            return
        watched.add(job)
        ui.notify(f"Batch {batch_id} goes on from here; it counts up in the table.", type="info")
        dialog.close()  # last: this handler runs in the dialog's slot, which closing deletes

    def stop(job: BatchJob, dialog) -> None:
        job.stop()
        ui.notify(f"Batch {job.batch_id} starts no further row; the rows in flight finish and are kept.", type="info")
        dialog.close()

    async def show_batch(batch_id: str) -> None:
        try:
            batch, shown = await io_bound(_load_batch, home, batch_id)
        except UserError as e:  # deleted (or its plan broken) since the table was drawn
            ui.notify(str(e), type="negative")
            return
        with transient_dialog() as dialog, ui.card().classes("w-[64rem] max-w-full"):
            ui.label(f"Batch {batch_id}: {target_label(batch['target'], batch['swaps'])} over {_data_name(batch)}"
                     ).classes("text-h6")
            ui.label(f"{batch['done']:,} of {batch['rows']:,} rows done, {batch['failed']:,} failed; cost "
                     f"{money_total(batch['costUsd'], batch.get('unpricedRows'))}; p50 {_ms(batch['latencyP50Ms'])}, "
                     f"p95 {_ms(batch['latencyP95Ms'])}.").props("data-testid=eval-batch-summary")
            done, here = batch["done"], jobs.running_here(batch_id)
            if batch["state"] == STOPPED:
                ui.label(f"Stopped part way: Resume runs its {batch['rows'] - done:,} remaining rows here, with the "
                         f"local executor (in a terminal: iom batch run --resume {batch_id}).").classes("text-grey-7")
            if done > len(shown):
                ui.label(f"The first {len(shown):,} rows of {done:,}; the CSV holds them all.").classes("text-grey-7")
            ui.table(columns=ROW_COLUMNS, rows=shown, row_key="row", pagination=20).classes("w-full").props(
                "dense flat wrap-cells data-testid=eval-batch-rows")

            async def download() -> None:
                try:
                    await io_bound(load_plan, home, batch_id)  # (deleted meanwhile, by a terminal)
                except UserError as e:
                    ui.notify(str(e), type="negative")
                    return
                ui.download.from_url(BATCH_CSV_PATH.format(batch_id=batch_id), f"batch-{batch_id}.csv", "text/csv")

            async def remove() -> None:
                try:
                    used = (await io_bound(experiments_by_batch, home)).get(batch_id)
                    rows = await io_bound(delete_batch, home, batch_id)
                except UserError as e:  # being run (by a terminal, an experiment): refused, nothing removed
                    ui.notify(str(e), type="negative", multi_line=True)
                    return
                dialog.close()
                ui.notify(f"Deleted batch {batch_id}: {rows:,} rows{kept_note(used)}; its runs stay in the analytics.",
                          type="positive", multi_line=True)
                await look()

            with ui.row():
                if batch["state"] == STOPPED:
                    ui.button("Resume", icon="play_arrow", on_click=lambda: resume(batch_id, dialog)).props(
                        "data-testid=eval-batch-resume")
                if here is not None and not here.stopping:
                    ui.button("Stop", icon="stop", on_click=lambda: stop(here, dialog)).props(
                        "outline data-testid=eval-batch-stop")
                ui.button("Download CSV", icon="download", on_click=download).props(
                    "outline data-testid=eval-batch-csv")
                ui.button("Delete", icon="delete", color="negative", on_click=lambda: ask_delete(batch_id, remove)).props(
                    "flat data-testid=eval-batch-delete")
                ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    table.on("rowClick", lambda e: show_batch(e.args[1]["id"]))
    ui.timer(LOOK_EVERY_S, look)  # (the first look at once, without holding up the page)
