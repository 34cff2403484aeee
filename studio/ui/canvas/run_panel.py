"""Running a pipeline from the canvas: input form from the input node's schema, validation
pinned to nodes before anything runs, live node badges, streamed text, the node inspector,
run from / up to a node, cancel, and a dry run with its cost estimate.

Everything the canvas asks of `studio.engine` goes through `EngineLink` below:
  - `engine.subscribe(handler) -> unsubscribe` (handler gets each event as it happens);
  - `await engine.run(pipeline, inputs, options=RunOptions(...)) -> RunRecord` (a plan dict
    for a dry run), streaming text as events of type "text";
  - `engine.validate(pipeline) -> [Problem]`, each naming a node or edge id (`where`).
Events are read by `run_view` (node id + status + figures).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

from nicegui import ui

from studio.engine.executor import MissingKeys
from studio.errors import UserError
from studio.formats import money_total
from studio.providers.errors import ProviderError
from studio.ui.canvas.run_view import edge_data, event_patch, event_text, field, record_patch
from studio.ui.result_view import result_view

log = logging.getLogger(__name__)



def placed_problems(problems: list, targets: set[str], edges: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """(what each node or edge shows, the run summary): problems of the whole pipeline (no output
    node…) have no node to show on, so the summary says them; two on one node both show. An
    edge's problem turns it red and is said in the summary too (`edges`: id -> "a.x → b.y"),
    since a red line alone does not say what is wrong."""
    edges = edges or {}
    on_canvas: dict[str, str] = {}
    said: list[str] = []
    on_nodes = 0
    for pr in problems:
        target = field(pr, "where", "node_id", "nodeId", "edge_id", "edgeId", default="")
        message = str(field(pr, "message", "detail", default=pr))
        if target in targets:
            on_canvas[target] = f"{on_canvas[target]}; {message}" if target in on_canvas else message
            if target in edges:
                said.append(f"the edge {edges[target]} {message}")
            else:
                on_nodes += 1
        else:
            said.append(message)
    if not said:
        return on_canvas, f"Not run: {len(problems)} problem(s), shown on the nodes."
    text = "; ".join(said + ([f"{on_nodes} more shown on the nodes"] if on_nodes else []))
    return on_canvas, f"Not run: {len(problems)} problem(s): {text}."


class EngineLink:
    """Calls the engine and hands its events to `on_event` (other runs' events included; the
    panel ignores those of other pipelines)."""

    def __init__(self, engine: Any):
        self.engine = engine

    def validate(self, pipeline: Any) -> list[Any]:
        return list(self.engine.validate(pipeline))

    async def run(self, pipeline: Any, inputs: dict, on_event: Callable[[Any], None], **kw: Any) -> Any:
        from studio.engine import RunOptions

        unsubscribe = self.engine.subscribe(on_event)
        try:
            return await self.engine.run(pipeline, inputs, options=RunOptions(stream=True, **kw))
        finally:
            unsubscribe()


class RunPanel:
    def __init__(self, editor):
        self.editor = editor
        self.last_record: Any = None
        self.task: asyncio.Task | None = None
        self.latencies_ms: list[float] = []  # event emitted -> canvas painted, for bench/ and tests
        self.browser_ms: list[float] = []  # of that, patch received -> painted, in the browser
        self._pending: dict[str, dict] = {}
        self._stamps: list[float] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.link = EngineLink(editor.studio.engine)
        editor.canvas.handle("status_shown", self._shown)
        self.form_box = ui.column().classes("w-full gap-1")
        self.fields: dict[str, Any] = {}
        self.build_form()
        ids = [n.id for n in editor.session.pipeline.nodes]
        with ui.row().classes("w-full no-wrap gap-1"):
            self.from_node = ui.select(ids, label="From node", clearable=True).props("dense").classes("w-1/2")
            self.to_node = ui.select(ids, label="Up to node", clearable=True).props("dense").classes("w-1/2")
        with ui.row().classes("gap-1"):
            self.run_button = ui.button("Run", icon="play_arrow", on_click=lambda: self.start(dry=False)).props("dense data-testid=run")
            ui.button("Dry run", on_click=lambda: self.start(dry=True)).props("dense flat data-testid=dry-run")
            self.cancel_button = ui.button("Cancel", on_click=self.cancel).props("dense flat color=negative data-testid=cancel")
            self.cancel_button.set_enabled(False)
        self.summary = ui.label("").classes("text-sm").props("data-testid=run-summary")
        self.result_box = ui.column().classes("w-full gap-1").props("data-testid=run-result")
        ui.label("Streamed text").classes("text-xs text-grey-7")
        self.output = ui.log(max_lines=500).classes("w-full h-24 text-xs").props("data-testid=run-output")
        self.inspector = ui.column().classes("w-full gap-0")

    # --- form ------------------------------------------------------------------------------
    def input_schema(self) -> dict:
        node = next((n for n in self.editor.session.pipeline.nodes if n.kind == "input"), None)
        return (node.input_schema if node and node.input_schema else {"type": "object", "properties": {}})

    def sync_form(self) -> None:
        """Rebuild the input form when the input node's fields changed (a node dropped or
        edited on the canvas), keeping what was typed in fields that stay."""
        if self.input_schema() == self._form_schema:
            return
        typed = {name: el.value for name, el in self.fields.items()}
        self.build_form()
        for name, value in typed.items():
            if name in self.fields and value not in (None, ""):
                self.fields[name].value = value

    def build_form(self) -> None:
        self.form_box.clear()
        self.fields = {}
        schema = self.input_schema()
        self._form_schema = schema
        required = set(schema.get("required", []))
        with self.form_box:
            for name, sub in (schema.get("properties") or {}).items():
                label = name + (" *" if name in required else "")
                t = sub.get("type") if isinstance(sub, dict) else None
                examples = sub.get("examples") if isinstance(sub, dict) else None
                example = examples[0] if isinstance(examples, list) and examples else None
                if t == "string":  # a schema's first example fills the field: a sample runs at once
                    self.fields[name] = ui.textarea(label, value=example if isinstance(example, str) else None) \
                        .props(f"dense autogrow data-testid=run-input-{name}").classes("w-full")
                elif t in ("number", "integer"):
                    self.fields[name] = ui.number(label, precision=0 if t == "integer" else None).props("dense").classes("w-full")
                elif t == "boolean":
                    self.fields[name] = ui.checkbox(label)
                else:
                    self.fields[name] = ui.textarea(f"{label} (JSON)").props("dense autogrow").classes("w-full font-mono")

    def inputs(self) -> dict:
        """The run's input from the fields; a required one left empty is marked and said (the
        engine's schema sentence, "(top level): 'text' is a required property", did neither)."""
        full = self.input_schema()
        schema, required = full.get("properties") or {}, set(full.get("required") or ())
        out: dict[str, Any] = {}
        empty = [name for name, el in self.fields.items() if el.value in (None, "") and name in required]
        for name, el in self.fields.items():
            if name in empty:
                el.props("error error-message=required")
            else:
                el.props(remove="error error-message")
        if empty:
            raise ValueError(f"fill in {', '.join(repr(n) for n in empty)} (required), then run again.")
        for name, el in self.fields.items():
            value = el.value
            if value in (None, ""):
                continue
            if (schema.get(name) or {}).get("type") not in ("string", "number", "integer", "boolean"):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    raise ValueError(f"field '{name}' is not JSON ({e.msg}); fix it and run again.") from None
            out[name] = value
        return out

    # --- running ---------------------------------------------------------------------------
    def start(self, *, dry: bool) -> None:
        if self.task and not self.task.done():
            ui.notify("A run is already going; cancel it first.", type="warning")
            return
        self.task = asyncio.create_task(self._run(dry))

    async def _run(self, dry: bool) -> None:
        self._loop = asyncio.get_running_loop()
        ed = self.editor
        pipeline = ed.session.pipeline
        ed.session.problems = {}
        problems = self.link.validate(pipeline)
        if problems:
            edges = {e.id: f"{e.source}.{e.source_port} → {e.target}.{e.target_port}" for e in pipeline.edges}
            ed.session.problems, text = placed_problems(problems, {n.id for n in pipeline.nodes} | set(edges), edges)
            ed.redraw()
            self.summary.set_text(text)
            return
        ed.redraw()
        try:
            inputs = self.inputs()
        except ValueError as e:
            self.summary.set_text(f"Not run: {e}")
            return
        ed.canvas.clear_status()
        self.output.clear()
        self.result_box.clear()
        self.inspector.clear()
        self.cancel_button.set_enabled(True)
        self.summary.set_text("Dry run…" if dry else "Running…")
        try:
            record = await self.link.run(pipeline, inputs, self.on_event, from_node=self.from_node.value,
                                         to_node=self.to_node.value, dry_run=dry)
        except asyncio.CancelledError:
            self.summary.set_text("Cancelled.")
            raise
        except MissingKeys as e:  # every missing key at once, pinned to the nodes that need it
            for node_id, key in e.nodes.items():
                ed.session.problems[node_id] = f"needs the key {key}; set it in Settings"
            ed.redraw()
            self.summary.set_text(f"Not run: {e}")
            with self.result_box:
                ui.link("Set the keys in Settings", "/settings").props("data-testid=set-keys-link")
            return
        except (UserError, ProviderError) as e:  # the engine's one-sentence errors (bad input …)
            self.summary.set_text(f"Failed: {e}")
            return
        except Exception:  # a bug: the person gets one sentence, the traceback goes to the server log
            log.exception("run from the canvas failed")
            self.summary.set_text("Failed: the studio hit an internal error; the server log has the details.")
            return
        finally:
            self.cancel_button.set_enabled(False)
        self.flush()
        if dry:
            await self.show_plan(record)
            return
        self.last_record = record
        ed.canvas.apply_status(record_patch(record, pipeline), [time.perf_counter()])
        ed.canvas.show_edge_data(edge_data(record, pipeline))
        self.summary.set_text(self.describe(record, dry))
        self.show_result(record)

    def show_result(self, record: Any) -> None:
        """The run's final output right under its summary; a failed run names its node."""
        self.result_box.clear()
        with self.result_box:
            error = field(record, "error")
            if error:
                ui.label(error).classes("text-sm text-negative").props("data-testid=run-error")
            outputs = field(record, "outputs")
            if outputs is not None and outputs != {}:
                ui.label("Result").classes("text-xs text-grey-7")
                result_view(outputs, name=f"{self.editor.session.pipeline.id}-output", testid="run-result-value")
                ui.label("Select a node on the canvas to see what went in and came out.").classes("text-xs text-grey-7")

    def describe(self, record: Any, dry: bool) -> str:
        status = field(record, "status", default="")
        cost = field(record, "cost_usd", "estimated_cost_usd", "costUsd", "estimatedCostUsd")
        wall = field(record, "wall_ms", "wallMs")
        parts = [("Dry run" if dry else "Run") + (f" {status}" if status else "")]
        if wall is not None:
            parts.append(f"{wall:.0f} ms")
        if dry:
            parts.append("unpriced" if cost is None else f"${cost:.4f} estimated")
        else:  # as the run history says it: "$0.0000" hid the calls whose cost is not known
            parts.append(money_total(cost, field(record, "unpriced_calls", "unpricedCalls", default=0)))
        return " · ".join(parts)

    def on_event(self, event: Any) -> None:
        """Engine event -> canvas. Patches arriving in the same loop tick go out as one message
        (a burst of events costs one redraw); each keeps its emit stamp for the latency figure.
        Safe to call from another thread; events of other pipelines' runs are ignored."""
        try:
            in_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            in_loop = False
        if not in_loop:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self.on_event, event)
            return
        pipeline_id = field(event, "pipeline_id", "pipelineId")
        if pipeline_id is not None and pipeline_id != self.editor.session.pipeline.id:
            return
        patch = event_patch(event, self.editor.session.pipeline)
        if patch:
            self._pending.update(patch)
            self._stamps.append(field(event, "perf_counter", "stamp", default=None) or time.perf_counter())
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self.flush)
        text = event_text(event)
        if text:
            self.output.push(text)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self._pending:
            patch, stamps = self._pending, self._stamps
            self._pending, self._stamps = {}, []
            self.editor.canvas.apply_status(patch, stamps)

    def _shown(self, d: dict) -> None:
        now = time.perf_counter()
        if isinstance(d.get("browserMs"), (int, float)):
            self.browser_ms.append(d["browserMs"])
        for stamp in d.get("stamps") or []:
            if isinstance(stamp, (int, float)):
                self.latencies_ms.append((now - stamp) * 1000)

    def cancel(self) -> None:
        if self.task and not self.task.done():
            self.task.cancel()

    async def show_plan(self, plan: Any) -> None:
        """The dry run's answer as the start page shows it: the cost estimate, the parallel
        layers, and each request as the HTTP it would send (it was the plan's raw JSON)."""
        from studio.ui.plan_view import show_plan

        self.summary.set_text(self.describe(plan, True))
        self.inspector.clear()
        with self.inspector, ui.column().classes("w-full gap-1").props("data-testid=dry-run-plan"):
            ui.label("Dry run plan").classes("text-sm font-semibold")
            await show_plan(self.editor.studio, plan)

    def inspect(self, node_id: str) -> None:
        self.inspector.clear()
        # The inspector sits below the run's result: bring it into view, or a click seems to do nothing.
        ui.run_javascript(f"getHtmlElement({self.inspector.id})?.scrollIntoView({{block: 'start', behavior: 'smooth'}})")
        nodes = field(self.last_record, "nodes", default={}) or {}
        node_run = nodes.get(node_id) if isinstance(nodes, dict) else None
        with self.inspector:
            if node_run is None:
                ui.label(f"No run record for '{node_id}' yet; run the pipeline first.").classes("text-xs")
                return
            status = field(node_run, "status", default="")
            ui.label(f"Node {node_id}: {status}").classes("text-sm font-semibold").props("data-testid=inspected-node")
            if field(node_run, "error"):
                ui.label(field(node_run, "error")).classes("text-sm text-negative")
            for title, value in (("Inputs", field(node_run, "inputs")), ("Output", field(node_run, "output"))):
                ui.label(title).classes("text-xs text-grey-7")
                if value is None:
                    ui.label("—").classes("text-sm")
                else:
                    result_view(value, name=f"{node_id}-{title.lower()}", testid=f"node-{title.lower()}")
