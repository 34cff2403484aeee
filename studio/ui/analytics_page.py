"""The analytics page: cards, charts, recent calls, run history with drill-down, exports.
All database work runs in a thread (studio/ui/threads.py); the queries are `studio.analytics.queries`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from nicegui import background_tasks, ui

from studio.analytics import queries as q
from studio.analytics.call_view import answered_by, audit_display, call_figures, ids_line, where_from
from studio.analytics.export import FORMATS, export_file
from studio.analytics.settings import FILE_NAME as SETTINGS_FILE, MAX_RETENTION_DAYS
from studio.analytics.store import refused_sentence
from studio.errors import UserError
from studio.ui import analytics_figures as figs
from studio.ui.app import get_studio
from studio.analytics.run_view import critical_path, flow_order, node_attempts, node_wall_ms
from studio import formats as fmt
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import confirm, notify_error, says_when_empty, transient_dialog

RANGES = {"1h": "Last hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days", "all": "All time"}


EXPORT_SERVED_S = 60  # an export's file is removed this long after its download began (the server reads it by then)

money = fmt.money_total
_ms = fmt.latency


async def _removed_after(path, seconds: float) -> None:
    """The export's file, once the browser has fetched it (an open file is read to its end on
    POSIX even once its name is gone); one never fetched goes at the next export's sweep."""
    import asyncio

    await asyncio.sleep(seconds)
    path.unlink(missing_ok=True)


TABLE_ROWS = 100  # the newest calls and runs the tables hold


def capped_note(shown: int, what: str) -> str:
    return (f"The newest {TABLE_ROWS} {what} in the range are listed; narrow the time range or the filters to reach "
            f"older ones") if shown >= TABLE_ROWS else ""


def retention_days_from(text: str | None) -> int | None:
    """The form's retention field: empty or 0 keep call detail forever (as `iom analytics
    --set-retention-days 0` does), else whole days from 1 to MAX_RETENTION_DAYS; anything else
    is a ValueError saying so (never read as another value)."""
    text = (text or "").strip()
    if text in ("", "0"):
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise ValueError(f"{text[:20]!r} is not a number of days; give whole days from 1 to {MAX_RETENTION_DAYS:,}, "
                         "or leave it empty (or 0) to keep call detail forever. Nothing was saved.")
    return int(text)


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return fmt.when(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return v


def _columns(names: list[str], labels: dict[str, str] | None = None) -> list[dict]:
    labels = labels or {}
    return [{"name": n, "label": labels.get(n, n.replace("_", " ")), "field": n, "align": "left", "sortable": True}
            for n in names]


def recent_row(r: dict) -> dict:
    """One recent call as the table shows it: every number in the page's one format."""
    status = r["status"] if r["status"] == "ok" else f"{r['status']} ({r['error_class'] or 'unknown'})"
    return {"id": r["id"], "time": fmt.when(r["time"]), "model_id": r["model_id"], "pipeline_id": r["pipeline_id"] or "—",
            "status": status, "latency": fmt.latency(r["latency_ms"]),
            "tokens": f"{fmt.tokens(r['input_tokens'])} → {fmt.tokens(r['output_tokens'])}",
            "cost": "—" if r["status"] != "ok" and r["cost_usd"] is None else fmt.money(r["cost_usd"])}


CHART_FILTERS = {"latency": "model", "tokens": "model", "cost_model": "model", "cost_pipeline": "pipeline",
                 "errors": "status", "over_time": "window", "cost_day": "day"}


def rerun_blocker(studio, run: dict) -> str | None:
    """Why a run cannot be run again, or None when it can."""
    if run.get("inputs") is None:
        return "This run's inputs were not kept (audit hashes-only or retention), so it cannot be run again."
    if not studio.pipelines.exists(run["pipeline_id"]):
        return f"The pipeline {run['pipeline_id']} is no longer in the registry."
    return None


async def _run_again(studio, run: dict) -> None:
    try:
        pipeline = studio.pipelines.get(run["pipeline_id"])
        record = await studio.engine.run(pipeline, run["inputs"])
        ui.notify(f"Run {record.id} finished: {record.status}.", type="positive" if record.status == "succeeded" else "warning")
    except UserError as e:
        ui.notify(str(e), type="negative")


async def analytics_page() -> None:
    studio = get_studio()
    store = studio.analytics
    state: dict[str, Any] = {"since": "7d", "model": None, "pipeline": None, "status": None, "window": None}

    async def set_filter(key: str, value: Any) -> None:
        state[key] = value
        if key == "since":
            state["window"] = None
        await refresh()

    def filters() -> q.Filters:
        if state["window"]:
            since, until = state["window"]
            return q.Filters(since=since, until=until, model=state["model"],
                             pipeline=state["pipeline"], status=state["status"])
        return q.Filters(since=q.parse_since(state["since"]), model=state["model"],
                         pipeline=state["pipeline"], status=state["status"])

    async def chart_click(key: str, e) -> None:
        """A click on a bar narrows the page to it: a model, a pipeline, errors, or a time bucket."""
        points = (e.args or {}).get("points") or []
        if not points:
            return
        x = points[0].get("x")
        what = CHART_FILTERS[key]
        if what in ("model", "pipeline"):  # bars along the names: the name is the point's y
            name = points[0].get("y")
            if not isinstance(name, str):
                return
            if what == "model":
                model_select.value = name  # its on_change refreshes
            elif name != "(none)":
                pipeline_select.value = name
        elif what == "status":
            status_select.value = "error"
        elif what in ("window", "day"):
            start = datetime.fromisoformat(str(x).replace(" ", "T"))
            step = q.BUCKET_STEPS["day" if what == "day" else state["bucket"]]
            state["window"] = (start, start + step)
            await refresh()

    refused = await io_bound(refused_sentence, studio.home)
    with frame("Analytics"):
        notices = ui.element()  # where a closed dialog's work says how it went (the dialog is deleted)
        if refused:  # records left out by the database: said, not silently missing from the figures
            ui.label(refused).classes("text-warning text-sm").props("data-testid=analytics-refused")
        with ui.row().classes("items-center gap-4 w-full"):
            ui.toggle(RANGES, value=state["since"], on_change=lambda e: set_filter("since", e.value))
            model_select = ui.select([], label="Model", clearable=True,
                                     on_change=lambda e: set_filter("model", e.value)).classes("w-48")
            pipeline_select = ui.select([], label="Pipeline", clearable=True,
                                        on_change=lambda e: set_filter("pipeline", e.value)).classes("w-48")
            status_select = ui.select(list(q.STATUSES), label="Status", clearable=True,
                                      on_change=lambda e: set_filter("status", e.value)).classes("w-32")
            ui.button(icon="refresh", on_click=lambda: refresh()).props("flat").tooltip("Refresh")
            ui.space()
            for kind in FORMATS:
                ui.button(f"Export {kind.upper()}", icon="download",
                          on_click=lambda kind=kind: download(kind)).props("outline")
        window_row = ui.row().classes("items-center gap-2")
        cards = ui.row().classes("w-full gap-4").props("id=analytics-cards")
        with ui.grid(columns=2).classes("w-full gap-4"):
            charts = {key: ui.plotly(figs.over_time([])).classes("w-full analytics-chart").props(f"data-chart={key}")
                      for key in ("over_time", "latency", "tokens", "errors", "cost_model", "cost_day",
                                  "cost_provider", "cost_pipeline")}
            for key in CHART_FILTERS:
                charts[key].on("plotly_click", lambda e, key=key: chart_click(key, e))
        with ui.row().classes("w-full gap-4 items-start"):
            with ui.column().classes("flex-1"):
                ui.label("Top pipelines").classes("text-lg")
                top_table = says_when_empty(ui.table(columns=_columns(["pipeline_id", "calls", "errors", "cost"],
                                                                      {"pipeline_id": "pipeline"}), rows=[]).classes("w-full"),
                                            "No pipeline ran in this range.")
            with ui.column().classes("flex-1"):
                ui.label("Fallbacks").classes("text-lg")
                fallback_table = says_when_empty(
                    ui.table(columns=_columns(["from_model", "to_model", "count"]), rows=[]).classes("w-full")
                    .props("data-testid=fallbacks"),
                    "No fallbacks in this range: every call was answered by the model it was sent to.")
        with ui.row().classes("items-center gap-4 w-full"):
            ui.label("Recent calls (click a call for its input and output)").classes("text-lg")
            ui.space()
            find_input = ui.input("Call id or request id").classes("w-80").props("dense data-testid=find-call")
            ui.button("Show call", on_click=lambda: find_call()).props("outline")
        recent_table = ui.table(columns=_columns(["time", "model_id", "pipeline_id", "status", "latency", "tokens", "cost"],
                                                 {"model_id": "model", "pipeline_id": "pipeline", "tokens": "tokens in → out"}),
                                rows=[], row_key="id", pagination=10).classes("w-full cursor-pointer") \
            .props("dense wrap-cells data-testid=recent-calls")
        says_when_empty(recent_table, "No calls in this range.")
        recent_table.on("rowClick", lambda e: show_call(e.args[1]["id"]))
        recent_capped = ui.label("").classes("text-xs opacity-70").props("data-testid=recent-capped")
        ui.label("Run history (click a run for its nodes)").classes("text-lg")
        runs_table = ui.table(columns=_columns(["id", "pipeline_id", "status", "started", "wall", "cost", "node_count"],
                                               {"pipeline_id": "pipeline", "node_count": "nodes"}),
                              rows=[], row_key="id", pagination=10).classes("w-full cursor-pointer") \
            .props("dense wrap-cells data-testid=run-history")
        says_when_empty(runs_table, "No pipeline runs in this range.")
        runs_capped = ui.label("").classes("text-xs opacity-70").props("data-testid=runs-capped")
        runs_table.on("rowClick", lambda e: show_run(e.args[1]["id"]))
        shown: dict = {}  # the settings as the form showed them: only what the person changed is saved
        with ui.expansion("Retention and audit settings", icon="policy").classes("w-full"):
            try:
                settings = store.settings
            except UserError as e:  # analytics.json damaged: said here, the rest of the page still drawn
                ui.label(str(e)).classes("text-negative").props("data-testid=analytics-settings-error")
            else:
                shown.update(retention_days=settings.retention_days, audit_hashes_only=settings.audit_hashes_only)
                ui.label(f"Saved in {store.home / SETTINGS_FILE}.").classes("text-xs opacity-70")
                # text, read by retention_days_from: a number field clamped 0 to 1 day in the browser
                # (saved without a word, and the next start dropped the detail) and read letters as empty
                days_input = ui.input("Keep call detail for (days; empty or 0 = forever)",
                                      value="" if settings.retention_days is None else str(settings.retention_days)) \
                    .classes("w-80").props('inputmode=numeric data-testid=retention-days')
                hashes_switch = ui.switch("Audit: keep only hashes of inputs and outputs",
                                          value=settings.audit_hashes_only)
                with ui.row():
                    ui.button("Save settings", on_click=lambda: save_settings()).props("outline")
                    ui.button("Apply retention now", on_click=lambda: apply_retention()).props("outline")

    def card(title: str, value: str, note: str = "") -> None:
        with ui.card().classes("min-w-40"):
            ui.label(title).classes("text-xs opacity-70")
            ui.label(value).classes("text-xl font-bold")
            if note:
                ui.label(note).classes("text-xs opacity-70")

    async def refresh() -> None:
        try:
            f = filters()
            data, recent, runs, choices = await io_bound(_load, store, f)
        except UserError as e:
            ui.notify(str(e), type="negative")
            return
        s = data["summary"]
        state["bucket"] = data["bucket"]
        window_row.clear()
        if state["window"]:
            with window_row:
                since, until = state["window"]
                ui.label(f"Showing {fmt.when(since)} to {fmt.when(until)} UTC (from a chart click).").classes("text-sm")
                ui.button("Show the whole range", on_click=lambda: set_filter("window", None)).props("flat dense")
        cards.clear()
        with cards:
            card("Calls", fmt.tokens(s["calls"]), f"{fmt.tokens(s['errors'])} errors")
            card("Cost", money(s["cost_usd"], s["unpriced_calls"]),
                 f"{s['unpriced_calls']:,} unpriced calls" if s["unpriced_calls"] else "all calls priced")
            made = f"of {fmt.tokens(s['calls'] - s['cache_hits'])} calls made" if s["cache_hits"] else ""
            detail = s.get("latency_calls")
            card("p95 latency", _ms(s["p95_latency_ms"]),  # past the retention, calls are totals: no latency
                 f"of the {fmt.tokens(detail)} calls kept in detail" if detail is not None and
                 detail < s["calls"] - s["cache_hits"] else made)
            card("Error rate", fmt.rate(s["error_rate"]), made)
            card("Cache savings", fmt.dollars(s["saved_usd"] or 0), f"{fmt.tokens(s['cache_hits'])} cache hits")
            card("Fallbacks", fmt.tokens(s["fallbacks"]))
        new = {
            "over_time": figs.over_time(data["over_time"], data["bucket"]), "latency": figs.latency(data["latency"]),
            "tokens": figs.tokens_per_second(data["tokens_per_second"]), "errors": figs.errors(data["errors"]),
            "cost_model": figs.cost(data["cost_by_model"], "Cost by model (USD)"),
            "cost_day": figs.cost(data["cost_by_day"], "Cost by day (USD)", by_day=True),
            "cost_provider": figs.cost(data["cost_by_provider"], "Cost by provider (USD)"),
            "cost_pipeline": figs.cost(data["cost_by_pipeline"], "Cost by pipeline (USD)"),
        }
        for key, fig in new.items():
            charts[key].figure = fig
            charts[key].update()
        top_table.rows = [{**r, "cost": money(r["cost_usd"], r["unpriced_calls"])} for r in data["top_pipelines"]]
        fallback_table.rows = data["fallbacks"]
        recent_table.rows = [recent_row(r) for r in recent]
        # the tables hold the newest TABLE_ROWS: said, since their pager counts only those
        recent_capped.set_text(capped_note(len(recent), "calls"))
        runs_capped.set_text(capped_note(len(runs), "runs") + (" ('iom runs show ID' opens any run)." if
                                                               len(runs) >= TABLE_ROWS else ""))
        runs_table.rows = [{k: _cell(v) for k, v in r.items()} | {"wall": _ms(r["wall_ms"]),
                            "cost": money(r["cost_usd"], r["unpriced_calls"] or 0)} for r in runs]
        model_select.options = choices["models"]
        model_select.update()
        pipeline_select.options = choices["pipelines"]
        pipeline_select.update()

    async def save_settings() -> None:
        try:
            days = retention_days_from(days_input.value)
        except ValueError as e:
            ui.notify(str(e), type="negative")
            return
        # Only the fields changed here, over the file as it is now: a setting the command line
        # changed meanwhile (say, hashes only) is not put back by a form drawn before it.
        changes = {k: v for k, v in (("retention_days", days), ("audit_hashes_only", bool(hashes_switch.value)))
                   if v != shown.get(k)}
        saved = await io_bound(store.update_settings, **changes)
        shown.update(retention_days=saved.retention_days, audit_hashes_only=saved.audit_hashes_only)
        days_input.value = "" if saved.retention_days is None else str(saved.retention_days)
        hashes_switch.value = saved.audit_hashes_only
        ui.notify("Analytics settings saved." if changes else "Nothing changed; the settings are as saved.",
                  type="positive")

    async def apply_retention() -> None:
        """Asked first: what it drops cannot be brought back (it went at one click)."""
        days = store.settings.retention_days
        if days is None:
            ui.notify("No retention period is set; nothing was dropped.")
            return

        async def go() -> None:
            report = await io_bound(store.apply_retention)
            ui.notify(f"Rolled {report.calls_rolled_up:,} calls older than {report.cutoff:%Y-%m-%d} into daily totals"
                      f" and removed the inputs, outputs and nodes of {report.runs_trimmed:,} runs."
                      if report.cutoff else "No retention period is set; nothing was dropped.")
            await refresh()
        confirm(f"Roll call detail older than {days} day(s) into daily totals? Those calls' inputs and outputs (the "
                "audit trail) and their runs' inputs, outputs and nodes are removed for good.", go, ok_label="Apply")

    async def download(kind: str) -> None:
        try:
            path = await io_bound(store.read, export_file, filters(), kind, store.home)
        except (UserError, OSError) as e:  # another process holds the database, a full disk
            notify_error(e)
            return
        ui.download.file(path, f"iom-calls.{kind}", FORMATS[kind])  # served by the server, a chunk at a time
        background_tasks.create(_removed_after(path, EXPORT_SERVED_S), name="remove a served export")

    async def run_again(dialog, detail: dict) -> None:
        ui.notify(f"Running {detail['pipeline_id']} again with the same inputs…")
        dialog.close()
        with notices:
            await _run_again(studio, detail)
            await refresh()

    async def find_call() -> None:
        """A call by the id a client was given (a gateway answer's x-request-id) or the provider's."""
        ident = (find_input.value or "").strip()
        if not ident:
            ui.notify("Give a call id, or the request id an answer named (x-request-id), to look it up.")
            return
        await show_call(ident)

    async def show_call(call_id: str) -> None:
        """The audit trail of one call: its figures, which model answered, its input and output."""
        call = await io_bound(store.read, q.get_call, call_id)
        if call is None:
            ui.notify(f"No call {call_id[:80]!r} is recorded under that call id or request id; calls past the retention "
                      "period are kept only as daily totals, and a pipeline's request id is its run's (Run history).",
                      type="warning")
            return
        with transient_dialog() as dialog, ui.card().classes("w-full max-w-4xl").props("data-testid=call-dialog"):
            ui.label(f"Call at {fmt.when(call['time'])} UTC").classes("text-lg font-bold")
            ui.label(call_figures(call)).props("data-testid=call-figures")
            ui.label(f"Answered by: {answered_by(call)}").props("data-testid=call-model")
            made_for = where_from(call)
            if made_for:
                ui.label(f"Made for {made_for}").classes("text-sm")
            if call["error_message"]:
                ui.label(call["error_message"]).classes("text-negative")
            ui.label(ids_line(call)).classes("text-xs opacity-70 select-all").props("data-testid=call-ids")
            if call["matches"] > 1:
                ui.label(f"{call['matches']} calls carry this provider request id; the newest is shown.") \
                    .classes("text-xs opacity-70")
            for part in ("input", "output"):
                ui.label(part.capitalize()).classes("font-bold")
                # text (never rendered as markup), scrolled when long
                ui.label(audit_display(call[part], part)) \
                    .classes("w-full font-mono text-sm whitespace-pre-wrap break-all max-h-72 overflow-auto") \
                    .props(f"data-testid=call-{part}")
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    async def show_run(run_id: str) -> None:
        detail = await io_bound(store.read, q.get_run, run_id)
        if detail is None:
            ui.notify(f"Run {run_id} is no longer recorded.", type="warning")
            return
        with transient_dialog() as dialog, ui.card().classes("w-full max-w-4xl"):
            ui.label(f"Run {detail['id']} of {detail['pipeline_id']}").classes("text-lg font-bold")
            ui.label(f"{detail['status']} · started {_cell(detail['started'])} UTC · wall {_ms(detail['wall_ms'])} · "
                     f"cost {money(detail['cost_usd'], detail['unpriced_calls'] or 0)}")
            if detail["error"]:
                ui.label(detail["error"]).classes("text-negative")
            pipeline = studio.pipelines.get(detail["pipeline_id"]) if studio.pipelines.exists(detail["pipeline_id"]) else None
            edges = [(e.source, e.target) for e in pipeline.edges] if pipeline else []
            spec_order = [n.id for n in pipeline.nodes] if pipeline else []
            recorded = [n["node_id"] for n in detail["nodes"]]
            order = flow_order(spec_order + [n for n in recorded if n not in spec_order], edges)
            nodes = sorted(detail["nodes"], key=lambda n: order.index(n["node_id"]))
            if pipeline:
                ui.link("Open this pipeline on the canvas", f"/pipelines/{pipeline.id}").props("data-testid=open-on-canvas")
            with ui.row().classes("w-full gap-4 no-wrap"):
                with ui.column().classes("flex-1 min-w-0"):
                    ui.label("Inputs").classes("font-bold")
                    ui.code(_json(detail["inputs"], detail.get("inputs_hash")), language="json").classes("w-full")
                with ui.column().classes("flex-1 min-w-0"):
                    ui.label("Outputs").classes("font-bold")
                    ui.code(_json(detail["outputs"], detail.get("outputs_hash")), language="json").classes("w-full")
            ui.plotly(figs.run_timeline(nodes, critical_path(nodes, edges))).classes("w-full").props("data-testid=run-timeline")
            ui.label("Nodes in flow order").classes("font-bold")
            for node in nodes:
                # its time as the timeline above draws it, and its retries and fallbacks said
                title = (f"{node['node_id']} · {node['status']} · {node['model_id'] or 'no model'} · "
                         f"{_ms(node_wall_ms(node))} · {fmt.tokens(node['input_tokens'])} → "
                         f"{fmt.tokens(node['output_tokens'])} tokens · "
                         f"{fmt.money(node['cost_usd']) if node['model_id'] else 'no cost'}")
                attempts = node_attempts(node, detail["calls"])
                with ui.expansion(title, caption=attempts or None).classes("w-full") \
                        .props(f"data-testid=run-node-{node['node_id']}"):
                    if node["reason"]:
                        ui.label(f"Routing: {node['reason']}")
                    if node["error"]:
                        ui.label(node["error"]).classes("text-negative")
                    mine = [c for c in detail["calls"] if c["node_id"] == node["node_id"]]
                    if mine:  # each attempt's own audit trail, a click away
                        ui.label("Calls made (click one for its input and output)").classes("text-xs opacity-70")
                        for c in mine:
                            ui.button(f"{c['model_id']} · {recent_row(c)['status']} · {_ms(c['latency_ms'])} · "
                                      f"{fmt.money(c['cost_usd'])}", on_click=lambda c=c: show_call(c["id"])) \
                                .props("flat dense no-caps align=left").classes("text-sm")
                    ui.label("Inputs").classes("text-xs opacity-70")
                    ui.code(_json(node["inputs"], node["inputs_hash"]), language="json").classes("w-full")
                    ui.label("Output").classes("text-xs opacity-70")
                    ui.code(_json(node["output"], node["output_hash"]), language="json").classes("w-full")
            blocker = rerun_blocker(studio, detail)
            with ui.row().classes("items-center"):
                again = ui.button("Run again with the same inputs", icon="replay",
                                  on_click=lambda: run_again(dialog, detail))
                if blocker:
                    again.disable()
                    ui.label(blocker).classes("text-sm opacity-70")
                ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    await refresh()


def _json(value: Any, digest: str | None) -> str:
    if value is None:
        return f"(content not kept; sha256 {digest})" if digest else "(none)"
    return json.dumps(value, indent=2, ensure_ascii=False)


def _load(store, f: q.Filters):
    def work(cur):
        return (q.dashboard(cur, f), q.recent_calls(cur, f, TABLE_ROWS), q.list_runs(cur, f, TABLE_ROWS),
                q.filter_choices(cur))

    return store.read(work)
