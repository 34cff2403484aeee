"""The start page: what the studio is, and its sample pipelines ready to try.

A first start lands here. The samples that run on this machine run with one click and show
their result in place; the ones that call online models offer a dry run (the exact HTTP
requests, key masked, and the estimated cost) and the way to set the keys they need.
"""

from __future__ import annotations

import logging
from typing import Any

from nicegui import ui

from studio.errors import UserError
from studio.registry.samples import sample_pipelines
from studio.spec.pipeline import Pipeline
from studio.ui.app import get_studio
from studio.ui.key_needs import key_needs, needs_badge
from studio.ui.shell import frame
from studio.ui.threads import io_bound

log = logging.getLogger(__name__)

WHAT_TO_DO = [
    ("Registry", "/registry", "hub", "every model you can reach, with prices, schemas and health"),
    ("Pipelines", "/pipelines", "account_tree", "wire models on a canvas; run, retry, fall back"),
    ("Console", "/console", "terminal", "call one model and read what came back"),
    ("Evaluate", "/evaluate", "fact_check", "score pipelines on a dataset: cost against quality"),
]


def example_inputs(pipeline: Pipeline) -> dict[str, Any]:
    """The first example of every input field the pipeline's input node declares."""
    node = next((n for n in pipeline.nodes if n.kind == "input"), None)
    props = ((node.input_schema or {}).get("properties") or {}) if node else {}
    out = {}
    for name, sub in props.items():
        examples = sub.get("examples") if isinstance(sub, dict) else None
        if isinstance(examples, list) and examples:
            out[name] = examples[0]
    return out


async def home_page() -> None:
    studio = get_studio()
    sample_ids = {p.id for p in sample_pipelines()}
    saved = {p.id: p for p in await io_bound(studio.pipelines.all)}
    samples = [saved[i] for i in sorted(sample_ids) if i in saved]
    needs = await io_bound(key_needs, studio, samples)
    with frame("Home"):
        ui.label("Prototype with many AI models at once").classes("text-h5")
        ui.label("IoM Studio keeps every model you can reach in one registry — online providers and models "
                 "built into the studio that run offline — and lets you wire them into pipelines, call them, "
                 "and see what every call cost. Your keys stay in the OS keyring; calls are made from this "
                 "machine.").classes("text-body1 max-w-4xl")
        with ui.row().classes("gap-3"):
            for label, path, icon, what in WHAT_TO_DO:
                with ui.link(target=path).classes("no-underline text-inherit"), \
                        ui.card().props("flat bordered").classes("w-60 cursor-pointer"):
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        ui.icon(icon).classes("text-primary")
                        ui.label(label).classes("font-bold")
                    ui.label(what).classes("text-sm text-grey-7")
        offline = [p for p in samples if needs[p.id][0] == "offline"]
        online = [p for p in samples if needs[p.id][0] != "offline"]
        ui.label("Try it now — these run on this machine, no key needed").classes("text-h6 mt-2")
        with ui.row().classes("w-full gap-3 items-stretch"):
            for pipeline in offline:
                sample_card(studio, pipeline, needs[pipeline.id], runnable=True)
        ui.label("These call online models").classes("text-h6 mt-2")
        ui.label("A dry run shows the exact requests they would send and what they would cost, "
                 "before any key is set.").classes("text-sm text-grey-7")
        with ui.row().classes("w-full gap-3 items-stretch"):
            for pipeline in online:
                sample_card(studio, pipeline, needs[pipeline.id], runnable=needs[pipeline.id][0] == "keys-set")


def sample_card(studio, pipeline: Pipeline, need: tuple[str, list[str]], *, runnable: bool) -> None:
    with ui.card().props(f"flat bordered data-testid=sample-{pipeline.id}").classes("w-[26rem] gap-2"):
        with ui.row().classes("items-center gap-2 w-full no-wrap"):
            ui.label(pipeline.name).classes("font-bold")
            ui.space()
            needs_badge(need)
        ui.label(pipeline.description or "").classes("text-sm text-grey-8")
        answer = ui.column().classes("w-full gap-1").props(f"data-testid=answer-{pipeline.id}")
        with ui.row().classes("items-center gap-2"):
            if runnable:
                ui.button("Run", icon="play_arrow", on_click=lambda b=None: run_sample(studio, pipeline, answer)) \
                    .props(f"dense color=positive data-testid=run-{pipeline.id}")
            if need[0] != "offline":
                ui.button("Dry run", icon="receipt_long", on_click=lambda: dry_run_sample(studio, pipeline, answer)) \
                    .props(f"dense outline data-testid=dry-run-{pipeline.id}")
            if need[0] == "needs-key":
                ui.link(f"Set {', '.join(need[1])} in Settings", "/settings") \
                    .props(f"data-testid=set-key-{pipeline.id}").classes("text-sm")
            ui.link("Open on canvas", f"/pipelines/{pipeline.id}").classes("text-sm")


async def run_sample(studio, pipeline: Pipeline, answer: ui.column) -> None:
    # Imported on the first click, not with the page: this is the page a launch serves first.
    from studio.providers.errors import ProviderError
    from studio.ui.canvas.run_view import field
    from studio.ui.result_view import result_view

    answer.clear()
    inputs = example_inputs(pipeline)
    with answer:
        # what it runs on, beside what it gives (the result alone left the input to be guessed)
        ran_on = "; ".join(f"{k}: {v}" if len(inputs) > 1 else str(v) for k, v in inputs.items())
        ui.label(f"Input: {ran_on}").classes("text-sm text-grey-7").props(f"data-testid=input-{pipeline.id}")
        status = ui.label("Running…").classes("text-sm")
    try:
        record = await studio.engine.run(pipeline, inputs)
    except (UserError, ProviderError) as e:
        status.set_text(f"Not run: {e}")
        return
    except Exception:  # a bug: one sentence here, the traceback in the server log
        log.exception("running the sample %s from the start page failed", pipeline.id)
        status.set_text("Failed: the studio hit an internal error; the server log has the details.")
        return
    error = field(record, "error")
    took = field(record, "wall_ms")
    status.set_text(f"Failed: {error}" if error else "Done" + (f" in {took:,.0f} ms" if took else "") + ".")
    outputs = field(record, "outputs")
    if outputs:
        with answer:
            result_view(outputs, name=f"{pipeline.id}-output", testid=f"result-{pipeline.id}")


async def dry_run_sample(studio, pipeline: Pipeline, answer: ui.column) -> None:
    # Imported on the first click, not with the page: this is the page a launch serves first.
    from studio.engine import RunOptions
    from studio.ui.plan_view import show_plan

    answer.clear()
    try:
        plan = await studio.engine.run(pipeline, example_inputs(pipeline), options=RunOptions(dry_run=True))
    except UserError as e:
        with answer:
            ui.label(f"Not planned: {e}").classes("text-sm text-negative")
        return
    with answer:
        await show_plan(studio, plan, cost_testid=f"dry-cost-{pipeline.id}",
                        input_hint="the requests show a placeholder for it; Open on canvas to give one")


def register() -> None:
    ui.page("/")(home_page)
