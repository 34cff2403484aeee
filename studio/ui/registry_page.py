"""The registry page (`/`): find a model, look at it, check it, register, edit, clone, delete,
import, export, reset to samples. Filters map one to one onto `ModelQuery`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nicegui import events, ui

from studio.registry.quality import measured_for, quality_label
from studio.registry.search import ModelQuery, expected_latency, latency_label, price_label
from studio.secrets import redact_data
from studio.spec.model import KNOWN_CAPABILITIES, HealthStatus, ModelSpec
from studio.ui import services
from studio.ui.app import get_studio
from studio.ui.discover_dialog import open_discover_dialog
from studio.ui.model_form import MODEL_TYPES, POLICIES, PROVIDERS, open_model_form
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import (HEALTH_COLORS, ask_replace, backups_dialog, confirm, health_badge, id_list, json_view,
                               notify_error, notify_samples_written, transient_dialog)

HEALTH_STATES = list(HealthStatus.model_fields["state"].annotation.__args__)

COLUMNS = [
    {"name": "name", "label": "Name", "field": "name", "align": "left", "sortable": True},
    {"name": "type", "label": "Type", "field": "type", "align": "left", "sortable": True},
    {"name": "provider", "label": "Provider", "field": "provider", "align": "left", "sortable": True},
    {"name": "capabilities", "label": "Capabilities", "field": "capabilities", "align": "left"},
    {"name": "price", "label": "Price", "field": "price", "align": "left"},
    {"name": "latency", "label": "Latency", "field": "latency", "align": "right", "sortable": True},
    {"name": "health", "label": "Health", "field": "health", "align": "left", "sortable": True},
]

# Quasar slot templates; every value goes through {{ }} (text), never v-html.
HEALTH_SLOT = r"""
<q-td :props="props">
  <q-badge outline :color="COLORS[props.value] || 'negative'"
           :label="props.value.replace('_', ' ')" />
</q-td>
""".replace("COLORS", "{%s}" % ", ".join(f"{state}: '{color}'" for state, color in HEALTH_COLORS.items()))
# (the badge colours of widgets.health_badge; a state it does not know reads as a fault)
CAPS_SLOT = r"""
<q-td :props="props">
  <q-chip v-for="c in props.value.slice(0, 3)" :key="c" dense size="sm" :label="c" />
  <span v-if="props.value.length > 3" class="text-xs opacity-70">+{{ props.value.length - 3 }}</span>
</q-td>
"""
# A long name or id is cut with an ellipsis (whole in its tooltip): it pushed the other columns
# out of the page.
# The latency's figure over where it comes from ("measured p50", "declared"): on one line the
# column pushed the table 10 px past a 1265 px page.
LATENCY_SLOT = r"""
<q-td :props="props">
  <div>{{ props.row.latencyFigure }}</div>
  <div v-if="props.row.latencySource" class="text-xs opacity-70">{{ props.row.latencySource }}</div>
</q-td>
"""
NAME_SLOT = r"""
<q-td :props="props">
  <div class="row no-wrap items-center" style="max-width: min(20rem, 24vw)">
    <span class="font-medium ellipsis" style="min-width: 0" :title="props.value">{{ props.value }}</span>
    <q-badge v-if="props.row.incomplete" color="warning" class="q-ml-xs" label="incomplete" />
    <q-badge v-if="props.row.faults" color="negative" class="q-ml-xs" label="faults injected" /></div>
  <div class="font-mono text-xs opacity-70 ellipsis" style="max-width: min(20rem, 24vw)" :title="props.row.id">
    {{ props.row.id }}</div>
</q-td>
"""


def _float(v: Any) -> float | None:
    return None if v in (None, "") else float(v)


def query_from_filters(f: dict[str, Any]) -> ModelQuery:
    """The page's filter values as a ModelQuery (empty values mean 'any')."""
    latency = _float(f.get("max_latency"))
    return ModelQuery(
        text=(f.get("text") or "").strip(),
        capability=f.get("capability") or None,
        model_type=f.get("type") or None,
        provider=f.get("provider") or None,
        tag=f.get("tag") or None,
        max_price_per_mtok=_float(f.get("max_price")),
        max_latency_ms=None if latency is None else int(latency),
        health=f.get("health") or None,
        policy=f.get("policy") or None,
    )


def row_for(spec: ModelSpec, health: HealthStatus, calls: dict[str, dict] | None = None) -> dict[str, Any]:
    """`calls`: the recent call figures; latency is the measured p50 where there is one, as routing takes it."""
    return {
        "id": spec.id, "name": spec.name, "type": spec.model_type, "provider": spec.provider,
        "capabilities": list(spec.capabilities), "price": price_label(spec),
        "latency": latency_label(spec, calls), **_latency_parts(spec, calls),
        "health": health.state, "incomplete": spec.incomplete,
        "faults": bool(spec.faults and spec.faults.enabled),
    }


def _latency_parts(spec: ModelSpec, calls: dict[str, dict] | None) -> dict[str, str]:
    """The latency column's two lines: the figure, and where it comes from."""
    ms, source = expected_latency(spec, calls)
    if ms is None:
        return {"latencyFigure": "unknown", "latencySource": ""}
    return {"latencyFigure": f"{ms:.0f} ms", "latencySource": "measured p50" if source == "measured" else "declared"}


@dataclass
class RegistryView:
    found: list[ModelSpec]
    total: int
    health: dict[str, HealthStatus]
    tags: list[str]
    problems: list[str]
    calls: dict[str, dict]  # recent call figures per model (measured p50)


def load_view(studio, query: ModelQuery, calls: dict[str, dict] | None = None) -> RegistryView:
    """Everything the table shows, read from disk in one go (runs in a worker thread); `calls`:
    the recent call figures read for the last view, reused as a filter changes (each read is
    two queries over days of calls)."""
    everything = studio.models.all()
    health = studio.models.health_all()
    calls = studio.call_stats() if calls is None else calls
    return RegistryView(
        found=studio.models.search(query, calls), total=len(everything), health=health,
        tags=sorted({t for s in everything for t in s.tags}),
        problems=[str(p) for p in studio.models.problems()], calls=calls,
    )


async def registry_page() -> None:
    studio = get_studio()
    filters: dict[str, Any] = {"text": "", "capability": None, "type": None, "provider": None, "tag": None,
                               "max_price": None, "max_latency": None, "health": None, "policy": None}

    with frame("Registry") as page_root:
        problems_box = ui.column().classes("w-full gap-1")
        with ui.row().classes("w-full items-center gap-2"):
            search = ui.input(placeholder="Search models  ( / )").props(
                'outlined dense clearable debounce=150 data-testid=search aria-label="Search models"'
            ).classes("w-80").bind_value(filters, "text")
            with search.add_slot("prepend"):
                ui.icon("search")
            ui.space()
            ui.button("Register", icon="add", on_click=lambda: open_model_form(studio, on_saved=lambda s: refresh())) \
                .props("data-testid=register").tooltip("Register a model (n)")
            ui.button("Discover Ollama models", icon="travel_explore",
                      on_click=lambda: open_discover_dialog(studio, refresh)).props("outline data-testid=discover")
            ui.button("Export", icon="download", on_click=lambda: export_all()).props("outline")
            ui.button("Import", icon="upload", on_click=lambda: upload_dialog.open()).props("outline data-testid=import")
            ui.button("Reset to samples", icon="restart_alt", on_click=lambda: confirm(
                "Write the sample models and pipelines again? Your other entries stay; samples you changed are overwritten "
                "(their changed versions are kept as backups).",
                reset, ok_label="Reset")).props("flat")
        with ui.row().classes("w-full items-center gap-2"):
            dense = "outlined dense clearable options-dense"
            filter_inputs = [
                ui.select(sorted(KNOWN_CAPABILITIES), label="Capability").bind_value(filters, "capability")
                .classes("min-w-[8rem]"),
                ui.select(MODEL_TYPES, label="Type").bind_value(filters, "type"),
                ui.select(PROVIDERS, label="Provider").bind_value(filters, "provider"),
                (tag_select := ui.select([], label="Tag")).bind_value(filters, "tag"),
                ui.number("Max $/Mtok", min=0).props("debounce=300").bind_value(filters, "max_price"),
                ui.number("Max latency", min=0).props("debounce=300 suffix=ms").classes("min-w-[8rem]")
                .bind_value(filters, "max_latency"),
                ui.select(HEALTH_STATES, label="Health").bind_value(filters, "health"),
                ui.select(POLICIES, label="Policy").bind_value(filters, "policy"),
            ]
            for element in filter_inputs:
                element.props(dense).classes("w-[7rem]")
        count = ui.label().classes("text-sm opacity-70").props("data-testid=count")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination={"rowsPerPage": 0}) \
            .classes("w-full").props("flat bordered dense hide-bottom data-testid=models-table")
        table.add_slot("body-cell-health", HEALTH_SLOT)
        table.add_slot("body-cell-latency", LATENCY_SLOT)
        table.add_slot("body-cell-capabilities", CAPS_SLOT)
        table.add_slot("body-cell-name", NAME_SLOT)
        table.on("rowClick", lambda e: open_detail(e.args[1]["id"]))

    shown_calls: dict[str, Any] = {"calls": None}  # the figures the table shows (refilter reuses them)

    async def refresh(*, keep_calls: bool = False) -> None:
        try:
            view = await io_bound(load_view, studio, query_from_filters(filters),
                                  shown_calls["calls"] if keep_calls else None)
        except Exception as e:  # noqa: BLE001
            notify_error(e)
            return
        if view is None:  # the app is shutting down
            return
        shown_calls["calls"] = view.calls
        table.rows = [row_for(s, view.health.get(s.id, HealthStatus()), view.calls) for s in view.found]
        table.update()
        count.text = f"{len(view.found)} of {view.total} models" + (
            "; none matches the search and filters (clear them to see all)" if view.total and not view.found else "")
        tag_select.options = view.tags
        tag_select.update()
        problems_box.clear()
        with problems_box:
            for problem in view.problems:
                with ui.row().classes("items-center gap-2 text-negative"):
                    ui.icon("error_outline")
                    ui.label(problem)

    async def refilter(_event=None) -> None:
        await refresh(keep_calls=True)

    # Any filter change re-runs the search (text and numbers are debounced on the client).
    for element in (search, *filter_inputs):
        element.on_value_change(refilter)

    # -- detail ---------------------------------------------------------------------------
    async def open_detail(model_id: str) -> None:
        spec = await io_bound(studio.models.find, model_id)
        if spec is None:
            ui.notify(f"{model_id} is no longer in the registry.", type="warning")
            await refresh()
            return
        health = await io_bound(studio.models.health, spec.id)
        key_status = await io_bound(studio.keys.status, spec.key_ref) if spec.key_ref else None
        measured = await io_bound(measured_for, studio.home, spec)
        calls = await io_bound(studio.call_stats)
        with transient_dialog().props("position=right full-height") as dialog, \
                ui.card().classes("w-[36rem] max-w-full").props("data-testid=detail"):
            with ui.row().classes("w-full items-start no-wrap"):
                with ui.column().classes("gap-0"):
                    ui.label(spec.name).classes("text-h6 break-all")
                    ui.label(spec.id).classes("font-mono text-sm opacity-70 break-all")
                ui.space()
                ui.button(icon="close", on_click=dialog.close).props('flat round aria-label="Close"')
            with ui.row().classes("gap-2 items-center"):
                badge_box = ui.row().classes("items-center gap-1")

                def show_health(h: HealthStatus) -> None:
                    badge_box.clear()
                    with badge_box:
                        health_badge(h.state)
                        if h.latency_ms is not None:
                            ui.label(f"{h.latency_ms:.0f} ms").classes("text-xs opacity-70")
                        if h.detail:
                            ui.label(h.detail).classes("text-xs opacity-70")

                show_health(health)

                async def check_now() -> None:
                    """One check at a time: a click while one runs (the button shows it is busy,
                    but a quick second click is sent before that shows) is ignored."""
                    if check_button.props.get("loading"):
                        return
                    check_button.props("loading").disable()
                    try:
                        h = await services.check_health(studio, spec)
                    except Exception as e:  # noqa: BLE001
                        notify_error(e)
                        return
                    finally:
                        check_button.props(remove="loading").enable()
                    show_health(h)
                    await refresh()

                check_button = ui.button("Check now", icon="monitor_heart", on_click=check_now).props("flat dense data-testid=check-now")
                if services.health_probe(studio) is None:
                    check_button.disable()
                    check_button.tooltip(services.NO_PROBE)
            if spec.description:
                ui.label(spec.description)
            with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-1 text-sm w-full"):
                facts = [
                    ("Provider", spec.provider), ("API", spec.api), ("Endpoint", spec.endpoint or "—"),
                    ("Model name", spec.model or "not set (incomplete)"), ("Type", spec.model_type),
                    ("Price", price_label(spec)),
                    ("Latency", latency_label(spec, calls)
                     + (f"; declared {spec.latency_ms} ms" if expected_latency(spec, calls)[1] == "measured"
                        and spec.latency_ms is not None else "")),
                    ("Quality", quality_label(measured)),
                    ("Context", f"{spec.context_window:,} tokens" if spec.context_window else "unknown"),
                    ("Policy", spec.security_policy), ("Owner", spec.owner or "—"),
                    ("Key", "none needed" if key_status is None else
                     f"{spec.key_ref}: {'set (' + key_status.source + ')' if key_status.is_set else 'missing'}"),
                    ("Tags", ", ".join(spec.tags) or "—"),
                ]
                for k, v in facts:
                    ui.label(k).classes("opacity-70")
                    ui.label(v).classes("break-all").props(f"data-testid=fact-{k.lower().replace(' ', '-')}")
            with ui.row().classes("gap-1"):
                for c in spec.capabilities:
                    ui.chip(c).props("dense")
            with ui.tabs().classes("w-full") as tabs:
                t_in = ui.tab("Input schema")
                t_out = ui.tab("Output schema")
                t_params = ui.tab("Default params")
            with ui.tab_panels(tabs, value=t_in).classes("w-full shrink-0"):
                with ui.tab_panel(t_in):
                    json_view(spec.input_schema)
                with ui.tab_panel(t_out):
                    json_view(spec.output_schema)
                with ui.tab_panel(t_params):
                    json_view(redact_data(spec.default_params))
            with ui.row().classes("w-full gap-2 no-wrap"):
                # Dialogs opened from this one live in the page root: a dialog is deleted with
                # the element it was created in, and this one is deleted when it closes.
                def edit(mode: str) -> None:
                    with page_root:
                        open_model_form(studio, spec=spec, mode=mode, on_saved=lambda s: refresh())
                    dialog.close()

                ui.button("Edit", icon="edit", on_click=lambda: edit("edit")).props("data-testid=edit")
                ui.button("Clone", icon="content_copy", on_click=lambda: edit("clone")).props("outline data-testid=clone")
                ui.button("Console", icon="terminal",
                          on_click=lambda: ui.navigate.to(f"/console?model={spec.id}")).props("outline")
                ui.space()

                async def delete() -> None:
                    await io_bound(studio.models.delete, spec.id)
                    ui.notify(f"Deleted {spec.id}.")
                    await refresh()
                    dialog.close()

                ui.button("Delete", icon="delete", color="negative",
                          on_click=lambda: confirm_in(page_root, f"Delete {spec.id} from the registry?", delete)) \
                    .props("flat data-testid=delete")
                kept = [f.name for f in studio.models.backups.list(spec.id)]
                if kept:
                    async def restore(name: str, spec=spec) -> None:
                        await io_bound(studio.models.restore, spec.id, name)
                        dialog.close()
                        ui.notify(f"Restored {spec.id} from {name}; the version it replaced is kept as a backup.",
                                  type="positive")
                        await refresh()

                    ui.button(f"Backups ({len(kept)})", icon="history",
                              on_click=lambda: open_in(page_root, lambda: backups_dialog(f"model {spec.id}", kept, restore))) \
                        .props("flat data-testid=model-backups")
        dialog.open()

    def open_in(root, make):
        with root:
            make()

    def confirm_in(root, question, action):
        with root:
            confirm(question, action)

    # -- import / export / reset -------------------------------------------------------------
    async def on_upload(e: events.UploadEventArguments) -> None:
        from studio.registry.backups import ImportConflict
        from studio.registry.models import parse_json_text

        try:
            doc = parse_json_text(await e.file.read(), e.file.name)
            await import_models(doc, e.file.name)
        except ImportConflict as conflict:
            ident, taken, source = conflict.ident, conflict.ids, e.file.name  # `conflict` is gone after this block
            entries = studio.models.parse_entries(doc)
            as_new = (lambda: import_models(doc, source, rename=unique_model_id(ident))) if len(entries) == 1 else None
            ask_replace(f"{'Models' if len(taken) > 1 else 'Model'} {id_list(taken)}",
                        lambda: import_models(doc, source, replace=True), as_new, count=len(taken))
        except Exception as err:  # noqa: BLE001
            notify_error(err)
        finally:
            upload.reset()

    async def import_models(doc, source: str, **how) -> None:
        report = await io_bound(lambda: studio.models.import_doc(doc, source=source, **how))
        upload_dialog.close()
        ui.notify(f"Imported {source}: {report.summary()}.", type="positive", multi_line=True)
        for warning in report.warnings:
            ui.notify(warning, type="warning", multi_line=True)
        await refresh()

    def unique_model_id(base: str) -> str:
        candidate, i = f"{base}-2", 3
        while studio.models.find(candidate) is not None:
            candidate, i = f"{base}-{i}", i + 1
        return candidate

    with ui.dialog() as upload_dialog, ui.card():
        ui.label("Import models from a JSON file").classes("text-h6")
        ui.label("An IoM models export, one model, a list of models, or the prototype's format.").classes("text-sm")
        upload = ui.upload(on_upload=on_upload, auto_upload=True, max_files=1).props(
            'accept=".json,application/json" data-testid=upload').classes("w-full")
        ui.button("Close", on_click=upload_dialog.close).props("flat")

    async def export_all() -> None:
        try:
            doc = await io_bound(studio.models.export_doc)
        except Exception as e:  # noqa: BLE001
            notify_error(e)
            return
        ui.download.content(json.dumps(doc, indent=2, sort_keys=True).encode(), "iom-models.json", "application/json")

    async def reset() -> None:
        report = await io_bound(studio.reset_to_samples)
        notify_samples_written(report)
        await refresh()

    # -- keyboard -------------------------------------------------------------------------------
    def on_key(e: events.KeyEventArguments) -> None:
        if not e.action.keydown or e.modifiers.ctrl or e.modifiers.meta or e.modifiers.alt:
            return
        if e.key == "/":
            search.run_method("focus")
        elif e.key == "n":
            open_model_form(studio, on_saved=lambda s: refresh())

    ui.keyboard(on_key=on_key, ignore=["input", "select", "button", "textarea"])
    await refresh()
