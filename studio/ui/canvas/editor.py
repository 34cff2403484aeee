"""The editor page's body: toolbar, canvas, side panel for the selected node or edge, and the
run panel. Every edit goes through the EditSession (undo, redo, dirty state) and the canvas
is redrawn from `session.view()`."""

from __future__ import annotations

import json
from typing import Any, get_args

from nicegui import ui
from pydantic import ValidationError

from studio.core import Studio
from studio.errors import ChangedElsewhere, UserError
from studio.formats import nodes_and_edges
from studio.registry.files import ANY_VERSION
from studio.spec.migrations import describe_validation_error, load_pipeline
from studio.spec.pipeline import Pipeline, Strategy
from studio.ui.canvas.element import MISSING_PACKAGES, PipelineCanvas, add_styles, packages_installed
from studio.engine.ports import template_variables
from studio.ui.canvas.run_panel import RunPanel
from studio.ui.canvas.session import CLIP_FORMAT, EditSession, palette, pipeline_json
from studio.ui.shell import retitle
from studio.ui.threads import io_bound

AUTOSAVE_SECONDS = 3.0


class PipelineEditor:
    def __init__(self, studio: Studio, pipeline: Pipeline, missing_keys: dict[str, str] | None = None,
                 version: str | None = None):
        """`missing_keys` ({model id: key name}) marks the models a run would refuse, in the
        palette and on their nodes, before anyone presses Run. `version`: the saved file's
        version when `pipeline` was read; a save over anything else asks first."""
        self.studio = studio
        self.version = version
        self._conflict = False  # a save found the file changed elsewhere: autosave waits for the user
        models = {m.id: m for m in studio.models.all()}
        health = studio.models.health_all()
        self.session = EditSession(pipeline, models, health, missing_keys)
        self.selected_nodes: list[str] = []
        self.selected_edges: list[str] = []
        if not packages_installed():
            ui.label(MISSING_PACKAGES).classes("text-negative")
            return
        add_styles()
        self._toolbar()
        with ui.row().classes("w-full no-wrap gap-2 items-stretch").style("height: calc(100vh - 146px); min-height: 380px"):
            self.canvas = PipelineCanvas(self.session.view(), palette(list(models.values()), health, missing_keys)) \
                .classes("h-full").style("flex: 1; min-width: 0; border: 1px solid #ddd")
            with ui.column().classes("w-96 h-full no-wrap gap-0").props("data-testid=side-column") as self.side_column:
                with ui.tabs().props("dense").classes("w-full") as tabs:
                    edit_tab = ui.tab("Edit")
                    run_tab = ui.tab("Run")
                self.tabs, self.run_tab = tabs, run_tab
                with ui.tab_panels(tabs, value=edit_tab).classes("w-full").style("flex: 1; overflow: auto"):
                    with ui.tab_panel(edit_tab).classes("p-1 gap-1").props("data-testid=side-panel"):
                        self.side_panel()
                    with ui.tab_panel(run_tab).classes("p-1 gap-1"):
                        self.run_panel = RunPanel(self)
        c = self.canvas
        c.handle("drop_item", self.on_drop)
        c.handle("connect_ports", self.on_connect)
        c.handle("moved", lambda pos: self.change(lambda: self.session.move(pos)))
        c.handle("delete_items", lambda d: self.change(lambda: self.session.delete(d["nodes"], d["edges"])))
        c.handle("add_in_view", self.on_add_in_view)
        c.handle("copy_nodes", self.on_copy)
        c.handle("paste_nodes", self.on_paste_nodes)
        c.handle("paste_clip", self.on_paste_clip)
        c.handle("undo", lambda _: self.undo())
        c.handle("redo", lambda _: self.redo())
        c.handle("select_items", self.on_select)
        self._saving = False
        ui.timer(AUTOSAVE_SECONDS, self.autosave)

    # --- toolbar ---------------------------------------------------------------------------
    def _toolbar(self) -> None:
        with ui.row().classes("w-full items-center gap-1 no-wrap"):
            self.name_input = ui.input(value=self.session.pipeline.name).props("dense outlined data-testid=pipeline-name") \
                .classes("w-48").on("blur", lambda: self.rename(self.name_input.value))
            ui.button("Run", icon="play_arrow", on_click=self.run_now).props("dense color=positive data-testid=toolbar-run") \
                .tooltip("Run the pipeline with the Run tab's input; the result shows there")
            self.save_button = ui.button("Save", icon="save", on_click=self.save).props("dense data-testid=save")
            self.autosave_switch = ui.switch("Autosave", value=True).props("dense")
            self.dirty_label = ui.label("").classes("text-xs text-grey-7").props("data-testid=dirty")
            ui.separator().props("vertical")
            self.undo_button = ui.button(icon="undo", on_click=self.undo).props("flat dense data-testid=undo").tooltip("Undo (Ctrl+Z)")
            self.redo_button = ui.button(icon="redo", on_click=self.redo).props("flat dense data-testid=redo").tooltip("Redo (Ctrl+Shift+Z)")
            ui.button(icon="content_copy", on_click=lambda: self.canvas.run_method("copySelection")).props("flat dense").tooltip("Copy (Ctrl+C)")
            ui.button(icon="content_paste", on_click=lambda: self.canvas.run_method("pasteClipboard")).props("flat dense").tooltip("Paste (Ctrl+V)")
            ui.button(icon="delete", on_click=self.delete_selected).props("flat dense data-testid=delete").tooltip("Delete (Del)")
            ui.separator().props("vertical")
            ui.button(icon="zoom_in", on_click=lambda: self.canvas.run_method("zoomIn")).props("flat dense data-testid=zoom-in").tooltip("Zoom in")
            ui.button(icon="zoom_out", on_click=lambda: self.canvas.run_method("zoomOut")).props("flat dense data-testid=zoom-out").tooltip("Zoom out")
            ui.button(icon="fit_screen", on_click=lambda: self.canvas.fit_view(everything=True)).props("flat dense data-testid=fit") \
                .tooltip("Show the whole pipeline")
            ui.button(icon="account_tree", on_click=self.auto_layout).props("flat dense data-testid=layout").tooltip("Auto-layout")
            self.panel_button = ui.button(icon="view_sidebar", on_click=lambda: self.show_side(not self.side_column.visible)) \
                .props("flat dense data-testid=toggle-side").tooltip("Hide or show the side panel")
            ui.separator().props("vertical")
            ui.button(icon="download", on_click=self.export).props("flat dense data-testid=export").tooltip("Export JSON")
        self._refresh_toolbar()

    def _refresh_toolbar(self) -> None:
        self.undo_button.set_enabled(self.session.can_undo)
        self.redo_button.set_enabled(self.session.can_redo)
        self.dirty_label.set_text("unsaved changes" if self.session.dirty else "saved")

    # --- edits -----------------------------------------------------------------------------
    def redraw(self) -> None:
        self.canvas.set_graph(self.session.view(), dirty=self.session.dirty)
        self._refresh_toolbar()
        name = self.session.pipeline.name
        if self.name_input.value != name:  # an undone (or redone) rename: the box and titles follow
            self.name_input.value = name
            retitle(name)
        run_panel = getattr(self, "run_panel", None)
        if run_panel is not None:
            run_panel.sync_form()
        counts = getattr(self, "counts_label", None)
        if counts is not None and not counts.is_deleted:  # live counts, without rebuilding the panel
            p = self.session.pipeline
            counts.set_text(nodes_and_edges(len(p.nodes), len(p.edges)))

    def change(self, edit, *, refresh_panel: bool = True) -> Any:
        """Apply one edit, redraw; the side panel is rebuilt only when asked (a field that is
        being left must not rebuild the panel under the field being entered)."""
        try:
            result = edit()
        except (ValueError, ValidationError) as e:
            text = describe_validation_error(e) if isinstance(e, ValidationError) else str(e) or "that change does not fit."
            ui.notify(f"Not changed: {text}", type="negative", multi_line=True)
            return None
        self.redraw()
        if refresh_panel:
            self.side_panel.refresh()
        return result

    def on_drop(self, d: dict) -> None:
        # The node appearing under the pointer is the confirmation: no toast over the canvas.
        self.change(lambda: self.session.add_node({"kind": d.get("kind"), "model": d.get("model"), "capability": d.get("capability")},
                                                  d["x"], d["y"]))

    def on_add_in_view(self, d: dict) -> None:
        """A double-clicked palette item: in the middle of what the pane shows, selected, so the
        person sees it and which one is new."""
        node = self.change(lambda: self.session.add_node_in_view(
            {"kind": d.get("kind"), "model": d.get("model"), "capability": d.get("capability")}, d.get("view")))
        if node is not None:
            self.canvas.select_nodes([node.id], reveal=True)

    async def on_copy(self, d: dict) -> None:
        """Copy carries the nodes' definitions (not their ids) to the browser's storage, where
        another tab or another pipeline can paste them; never a secret: refused in one sentence."""
        clip = self.session.clip(list(d.get("nodes") or []))
        if clip is None:
            return
        try:  # reads the stored keys so the redaction knows their values: off the event loop
            doc = await io_bound(self.studio.share_pipeline, clip, undone="Nothing was copied.")
        except UserError as e:
            self.canvas.run_method("forgetCopy")
            ui.notify(f"Not copied: {e}", type="negative", multi_line=True)
            return
        try:
            stored = await self.canvas.run_method("storeClip", {"format": CLIP_FORMAT, "version": 1,
                                                                "copiedAt": d.get("at"), "pipeline": doc}, timeout=5)
        except TimeoutError:
            stored = False
        if stored is not True:
            ui.notify("Copied for this pipeline only: the browser refused to store the nodes for other tabs "
                      "(its storage is full or turned off).", type="warning")

    def on_paste_nodes(self, d: dict) -> None:
        """Paste nodes copied in this tab, from this pipeline (their ids), selected."""
        new = self.change(lambda: self.session.paste(d["nodes"]))
        if new:
            self.canvas.select_nodes(new)

    def on_paste_clip(self, d: dict) -> None:
        """Paste nodes copied in any tab, from any pipeline: fresh ids, in free space in view."""
        clip = d.get("clip")
        if not isinstance(clip, dict) or clip.get("format") != CLIP_FORMAT or clip.get("version") != 1:
            ui.notify("Nothing pasted: the clipboard holds no canvas nodes; select nodes and press Ctrl+C first.",
                      type="warning")
            return
        try:
            pipeline = load_pipeline(clip.get("pipeline"))
        except UserError as e:
            ui.notify(f"Nothing pasted from the clipboard: {e}", type="negative", multi_line=True)
            return
        new = self.change(lambda: self.session.paste_clip(pipeline, d.get("view")))
        if new:
            self.canvas.select_nodes(new)

    def on_connect(self, d: dict) -> None:
        reason = self.session.connect(d["source"], d["sourcePort"], d["target"], d["targetPort"])
        if reason:
            ui.notify(f"Not connected: {reason}", type="negative", multi_line=True)
            self.canvas.set_graph(self.session.view(), dirty=self.session.dirty)  # drop any edge drawn meanwhile
            return
        self.redraw()

    def show_side(self, visible: bool) -> None:
        """The side panel folds away to give the canvas the whole width."""
        self.side_column.set_visibility(visible)
        self.panel_button.props(f"color={'primary' if visible else 'grey'}")

    def run_now(self) -> None:
        """The toolbar's Run: show the Run tab (its input form, then the result) and start."""
        self.show_side(True)
        self.tabs.set_value(self.run_tab)
        self.run_panel.start(dry=False)

    def on_select(self, d: dict) -> None:
        self.selected_nodes, self.selected_edges = list(d.get("nodes", [])), list(d.get("edges", []))
        self.side_panel.refresh()
        if self.selected_nodes or self.selected_edges:
            self.show_side(True)
        if len(self.selected_nodes) == 1 and getattr(self.run_panel, "last_record", None) is not None:
            self.run_panel.inspect(self.selected_nodes[0])  # after a run, a click shows the node's in and out

    def delete_selected(self) -> None:
        self.change(lambda: self.session.delete(self.selected_nodes, self.selected_edges))

    def undo(self) -> None:
        if self.session.undo():
            self.redraw()
            self.side_panel.refresh()

    def redo(self) -> None:
        if self.session.redo():
            self.redraw()
            self.side_panel.refresh()

    async def auto_layout(self) -> None:
        try:
            pane = await self.canvas.run_method("paneSize", timeout=2)
        except TimeoutError:  # the browser did not answer: lay out left to right
            pane = None
        self.change(lambda: self.session.layout(pane if isinstance(pane, dict) else None))
        self.canvas.fit_view()

    def rename(self, name: str) -> None:
        name = (name or "").strip()
        if not name:
            ui.notify("A pipeline needs a name.", type="warning")
            self.name_input.value = self.session.pipeline.name
            return
        if name != self.session.pipeline.name:
            self.change(lambda: self.session.rename(name))
            retitle(self.session.pipeline.name)

    # --- saving ----------------------------------------------------------------------------
    async def save(self, *, over_theirs: bool = False) -> None:
        if self._saving:
            return
        self._saving = True
        pipeline = self.session.pipeline
        try:
            self.version = await io_bound(self.studio.pipelines.save, pipeline, keep_replaced=over_theirs,
                                          expected=ANY_VERSION if over_theirs else self.version)
            self._conflict = False
        except ChangedElsewhere as e:  # the CLI or another tab wrote it since: ask, never overwrite silently
            self._ask_about_conflict(e)
            return
        except Exception as e:  # a disk error or a refused secret: say so, keep the edits
            ui.notify(f"Not saved: {e}", type="negative", multi_line=True)
            return
        finally:
            self._saving = False
        if pipeline is self.session.pipeline:
            self.session.mark_saved()
        self.canvas.set_dirty(self.session.dirty)
        self._refresh_toolbar()

    async def autosave(self) -> None:
        if self.autosave_switch.value and self.session.dirty and not self._conflict:
            await self.save()

    def _ask_about_conflict(self, e: ChangedElsewhere) -> None:
        """Theirs or mine: reload the saved version (this page's edits go), or save this one
        over it (theirs kept as a backup, restorable with 'iom pipelines restore')."""
        self._conflict = True  # autosave stops asking; Save asks again
        with ui.dialog().props("persistent") as d, ui.card().props("data-testid=save-conflict"):
            ui.label(f"Not saved: {e}").classes("text-sm")

            async def mine() -> None:
                d.close()
                await self.save(over_theirs=True)
                if not self._conflict:
                    ui.notify("Saved; the other version is kept as a backup ('iom pipelines backups "
                              f"{self.session.pipeline.id}').", type="positive")

            with ui.row():
                if not e.deleted:
                    ui.button("Reload theirs", on_click=ui.navigate.reload).props("data-testid=conflict-reload")
                ui.button("Save mine again" if e.deleted else "Save mine over it", on_click=mine) \
                    .props("data-testid=conflict-mine")
                ui.button("Leave it unsaved", on_click=d.close).props("flat")
        d.open()

    async def export(self) -> None:
        p = self.session.pipeline
        try:  # reads the stored keys (the keyring) to know their values: off the event loop
            doc = await io_bound(self.studio.share_pipeline, p)
        except UserError as e:  # a secret in a node or a header: said, nothing downloaded
            ui.notify(f"Not exported: {e}", type="negative", multi_line=True)
            return
        ui.download.content(pipeline_json(doc).encode(), f"{p.id}.json", "application/json")
        ui.notify(f"Exported {p.id}.json to your downloads.", type="positive")

    # --- side panel ------------------------------------------------------------------------
    @ui.refreshable_method
    def side_panel(self) -> None:
        p = self.session.pipeline
        if len(self.selected_nodes) == 1 and p.node(self.selected_nodes[0]):
            self._node_panel(p.node(self.selected_nodes[0]))
        elif len(self.selected_edges) == 1 and any(e.id == self.selected_edges[0] for e in p.edges):
            self._edge_panel(next(e for e in p.edges if e.id == self.selected_edges[0]))
        elif self.selected_nodes or self.selected_edges:
            ui.label(f"{len(self.selected_nodes)} nodes and {len(self.selected_edges)} edges selected.")
        else:
            ui.label("Select a node or an edge to edit it.").classes("text-grey-7")
            self.counts_label = ui.label(nodes_and_edges(len(p.nodes), len(p.edges))) \
                .classes("text-xs text-grey-7").props("data-testid=counts")
            ui.label("Drag models from the palette; drag from a port to a port to connect. "
                     "Shift+drag selects an area, Ctrl+click adds to the selection.").classes("text-xs text-grey-7")

    def _apply_node(self, node_id: str, changes: dict) -> None:
        # A new model or on-error policy changes what the panel shows; other fields do not.
        rebuild = "model" in changes or "on_error" in changes.get("policy", {})
        self.change(lambda: self.session.update_node(node_id, changes), refresh_panel=rebuild)
        node = self.session.pipeline.node(node_id)
        if "prompt" in changes and node is not None and getattr(self, "_vars_label", None) is not None:
            self._vars_label.set_text(self._variables_text(node.prompt))

    def _apply_policy_number(self, node_id: str, field, name: str, what: str, unit: str = "") -> None:
        """A policy number left empty keeps the saved one and says so: a node always has one (an
        emptied timeout said "policy.timeout_s: Input should be a valid number" and stayed empty
        on screen; emptied retries became 0 without a word)."""
        node = self.session.pipeline.node(node_id)
        if node is None:
            return
        if field.value is None:
            kept = getattr(node.policy, name)
            field.value = kept
            ui.notify(f"A node needs {what}; it stays {kept:g}{' ' + unit if unit else ''}.", type="warning")
            return
        value = int(field.value) if name == "retries" else field.value
        if value != getattr(node.policy, name):
            self._apply_node(node_id, {"policy": {name: value}})

    @staticmethod
    def _variables_text(prompt: str | None) -> str:
        variables = template_variables(prompt)
        return "Variables: " + (", ".join(variables) if variables else "none")

    def _json_field(self, label: str, value: Any, on_value) -> None:
        # Short values on one line; longer ones indented. Rows are set, not autogrown: a field
        # built while its tab is hidden measured one row, so `{"sentences": 2}` showed as `{`.
        text = json.dumps(value)
        if len(text) > 48:
            text = json.dumps(value, indent=2)
        area = ui.textarea(label, value=text).props(f"dense rows={min(text.count(chr(10)) + 1, 12)}") \
            .classes("w-full font-mono text-xs")

        def apply() -> None:
            try:
                parsed = json.loads(area.value or "null")
            except json.JSONDecodeError as e:
                ui.notify(f"{label}: not JSON ({e.msg} at line {e.lineno}); fix it and leave the field again.", type="negative")
                return
            on_value(parsed)

        area.on("blur", apply)

    def _node_panel(self, node) -> None:
        nid = node.id
        ui.label(f"{node.kind} node · {nid}").classes("text-xs uppercase text-grey-7")
        view = self.session.node_view(node)
        if view["problem"]:
            ui.label(view["problem"]).classes("text-negative text-sm")
        ui.input("Label", value=node.label).props("dense").classes("w-full") \
            .on("blur", lambda e: self._apply_node(nid, {"label": e.sender.value}))
        model_options = {m: m for m in sorted(self.session.models)}
        if node.kind == "model":
            if node.model and node.model not in model_options:
                model_options[node.model] = f"{node.model} (missing)"
            ui.select(model_options, value=node.model, label="Model", with_input=True).props("dense").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"model": e.value}))
            if view["price"]:
                ui.label(f"{view['provider']} · {view['price']} · health {view['health']}").classes("text-xs")
        if node.kind == "capability" and node.choose:
            ui.input("Capability", value=node.choose.capability).props("dense").classes("w-full") \
                .on("blur", lambda e: self._apply_node(nid, {"choose": {"capability": e.sender.value}}))
            ui.select(list(get_args(Strategy)), value=node.choose.strategy, label="Strategy").props("dense") \
                .classes("w-full").on_value_change(lambda e: self._apply_node(nid, {"choose": {"strategy": e.value}}))
            ch = node.choose
            ui.number("Min quality (0-1, measured)", value=ch.min_quality, min=0, max=1, step=0.05) \
                .props("dense clearable").classes("w-full").on("blur", lambda e: self._apply_node(nid, {"choose": {
                    "min_quality": e.sender.value}}))
            with ui.row().classes("w-full no-wrap gap-2"):
                ui.number("Max $/Mtok", value=None if ch.max_price_per_token is None else ch.max_price_per_token * 1e6, min=0) \
                    .props("dense clearable").classes("w-1/2").on("blur", lambda e: self._apply_node(nid, {"choose": {
                        "max_price_per_token": None if e.sender.value is None else e.sender.value / 1e6}}))
                ui.number("Max latency (ms)", value=ch.max_latency_ms, min=0, precision=0).props("dense clearable") \
                    .classes("w-1/2").on("blur", lambda e: self._apply_node(nid, {"choose": {
                        "max_latency_ms": None if e.sender.value is None else int(e.sender.value)}}))
            ui.select(["public", "organization", "private"], value=list(ch.allowed_policies), multiple=True,
                      label="Allowed security policies").props("dense use-chips").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"choose": {"allowed_policies": list(e.value or [])}}))
            ui.checkbox("Only models whose last health check passed", value=ch.require_healthy) \
                .on_value_change(lambda e: self._apply_node(nid, {"choose": {"require_healthy": e.value}}))
        if node.kind in ("model", "capability"):
            ui.textarea("Prompt template", value=node.prompt or "").props("dense autogrow").classes("w-full") \
                .on("blur", lambda e: self._apply_node(nid, {"prompt": e.sender.value or None}))
            self._vars_label = ui.label(self._variables_text(node.prompt)).classes("text-xs text-grey-7")
            ui.textarea("System", value=node.system or "").props("dense autogrow").classes("w-full") \
                .on("blur", lambda e: self._apply_node(nid, {"system": e.sender.value or None}))
        if node.kind == "transform":
            ui.textarea("Template (Jinja2)", value=node.template or "").props("dense autogrow").classes("w-full") \
                .on("blur", lambda e: self._apply_node(nid, {"template": e.sender.value or None}))
            ui.input("Expression (JMESPath)", value=node.expression or "").props("dense").classes("w-full") \
                .on("blur", lambda e: self._apply_node(nid, {"expression": e.sender.value or None}))
        if node.kind == "router":
            self._json_field("Routes", [r.model_dump(by_alias=True) for r in node.routes],
                             lambda v: self._apply_node(nid, {"routes": v}))
        if node.kind == "merge":
            ui.select(["object", "list", "text"], value=node.merge, label="Merge as").props("dense").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"merge": e.value}))
        if node.kind == "input":
            self._json_field("Input schema", node.input_schema or {"type": "object"},
                             lambda v: self._apply_node(nid, {"input_schema": v}))
        if node.kind in ("model", "capability", "transform"):
            self._json_field("Params", node.params, lambda v: self._apply_node(nid, {"params": v}))
            pol = node.policy
            ui.label("Policy").classes("text-sm font-semibold mt-2")
            with ui.row().classes("w-full no-wrap gap-2"):
                ui.number("Timeout (s)", value=pol.timeout_s, min=0.1).props("dense").classes("w-1/2") \
                    .on("blur", lambda e: self._apply_policy_number(nid, e.sender, "timeout_s", "a timeout", "s"))
                ui.number("Retries", value=pol.retries, min=0, max=10, precision=0).props("dense").classes("w-1/2") \
                    .on("blur", lambda e: self._apply_policy_number(nid, e.sender, "retries", "a number of retries"))
            ui.select(model_options, value=list(pol.fallback), label="Fallback models (in order)", multiple=True) \
                .props("dense use-chips").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"policy": {"fallback": list(e.value or [])}}))
            cache_opts = {"auto": "cache deterministic calls", "on": "always cache", "off": "never cache"}
            cache_now = "auto" if pol.cache is None else ("on" if pol.cache else "off")
            ui.select(cache_opts, value=cache_now, label="Cache").props("dense").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"policy": {"cache": {"auto": None, "on": True, "off": False}[e.value]}}))
            ui.select({"fail": "fail the run", "default": "use a default", "skip": "skip what depends on it"},
                      value=pol.on_error, label="On error").props("dense").classes("w-full") \
                .on_value_change(lambda e: self._apply_node(nid, {"policy": {"on_error": e.value}}))
            if pol.on_error == "default":
                self._json_field("Default output", pol.default, lambda v: self._apply_node(nid, {"policy": {"default": v}}))
        if self.run_panel_ready():
            ui.button("Inspect last run", on_click=lambda: self.run_panel.inspect(nid)).props("flat dense")

    def _edge_panel(self, edge) -> None:
        eid = edge.id
        ui.label(f"edge · {eid}").classes("text-xs uppercase text-grey-7")
        ui.label(f"{edge.source}.{edge.source_port} → {edge.target}.{edge.target_port}").classes("text-sm")

        def apply(changes: dict) -> None:
            current = next((e for e in self.session.pipeline.edges if e.id == eid), None)
            if current is None or all(getattr(current, k) == v for k, v in changes.items()):
                return
            self.change(lambda: self.session.update_edge(eid, changes), refresh_panel="target_port" in changes)

        ui.input("Target field", value=edge.target_port).props("dense").classes("w-full") \
            .on("blur", lambda e: apply({"target_port": e.sender.value or "in"}))
        ui.input("Mapping (JSON Pointer or JMESPath)", value=edge.mapping or "").props("dense").classes("w-full") \
            .on("blur", lambda e: apply({"mapping": e.sender.value or None}))
        ui.textarea("Template (Jinja2)", value=edge.template or "").props("dense autogrow").classes("w-full") \
            .on("blur", lambda e: apply({"template": e.sender.value or None}))
        ui.label("Mapping picks a value from the source's output ('/text', 'items[0].name'); a template "
                 "builds text from it ('Summary: {{ text }}').").classes("text-xs text-grey-7")

    def run_panel_ready(self) -> bool:
        return getattr(self, "run_panel", None) is not None
