"""The canvas custom element (Python side) and the static files it needs.

The Vue component is assets/canvas/pipeline_canvas.js. Vue Flow comes from npm
(assets/canvas/node_modules, installed by `npm ci` in assets/canvas) and is served as is:
`register_assets()` mounts that folder and maps the bare names Vue Flow's modules import
("@vue-flow/core" …) in NiceGUI's import map. `vue` stays NiceGUI's own. Routes and import
map entries are registered per app start, because NiceGUI's test harness clears both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from nicegui import app, ui
from nicegui.dependencies import register_importmap_override

ASSETS = Path(__file__).resolve().parents[3] / "assets" / "canvas"
NODE_MODULES = ASSETS / "node_modules"
URL = "/_iom/canvas"

MODULES = {  # import name -> file under assets/canvas
    "@vue-flow/core": "node_modules/@vue-flow/core/dist/vue-flow-core.mjs",
    "@vue-flow/minimap": "node_modules/@vue-flow/minimap/dist/vue-flow-minimap.mjs",
    "@vue-flow/background": "node_modules/@vue-flow/background/dist/vue-flow-background.mjs",
    "iom-canvas-env": "env.js",
}
STYLES = [
    "node_modules/@vue-flow/core/dist/style.css",
    "node_modules/@vue-flow/core/dist/theme-default.css",
    "node_modules/@vue-flow/minimap/dist/style.css",
    "canvas.css",
]

MISSING_PACKAGES = ("The canvas's JavaScript packages are not installed: run 'npm ci' in assets/canvas "
                    "(./scripts/start does it) and restart the studio.")


def packages_installed() -> bool:
    return all((ASSETS / path).is_file() for path in MODULES.values())


def register_assets() -> None:
    """Serve assets/canvas and map Vue Flow's module names; call once per app start."""
    app.add_static_files(URL, ASSETS, max_cache_age=3600)
    for name, path in MODULES.items():
        register_importmap_override(name, f"{URL}/{path}")


def add_styles() -> None:
    """Link the canvas's CSS into the current page."""
    ui.add_head_html("".join(f'<link rel="stylesheet" href="{URL}/{path}">' for path in STYLES))


class PipelineCanvas(ui.element, component=str(ASSETS / "pipeline_canvas.js")):
    """Draws `graph` (EditSession.view()) and reports edits as events:
    drop_item, add_in_view, connect_ports, moved, delete_items, select_items, copy_nodes,
    paste_nodes (ids, this pipeline), paste_clip (a stored copy, any pipeline), undo, redo,
    status_shown."""

    def __init__(self, graph: dict, palette: list[dict]) -> None:
        super().__init__()
        self._props["graph"] = graph
        self._props["palette"] = palette
        self._props["dirty"] = False

    def set_graph(self, graph: dict, *, dirty: bool) -> None:
        self._props["graph"] = graph
        self._props["dirty"] = dirty
        self.update()

    def set_dirty(self, dirty: bool) -> None:
        if self._props["dirty"] != dirty:
            self._props["dirty"] = dirty
            self.update()

    def apply_status(self, patch: dict[str, Any], stamps: list[float] | None = None) -> None:
        """Show node statuses; `stamps` (perf_counter values) come back in "status_shown"."""
        self.run_method("applyStatus", patch, stamps)

    def show_edge_data(self, data: dict[str, str]) -> None:
        """What went along each edge in the last run ({edge id: text}), shown on hover."""
        self.run_method("setEdgeData", data)

    def clear_status(self) -> None:
        self.run_method("clearStatus")

    def select_nodes(self, node_ids: list[str], *, reveal: bool = False) -> None:
        """Select these nodes only; with `reveal`, pan to the first if it is out of sight."""
        self.run_method("selectNodes", node_ids, reveal)

    def fit_view(self, *, everything: bool = False) -> None:
        """Fit at a readable zoom (the start of a big pipeline), or `everything` however small."""
        self.run_method("fitView", everything)

    def handle(self, event: str, handler: Callable[[Any], Any]) -> None:
        """on(event) with the payload as the handler's only argument."""
        self.on(event, lambda e: handler(e.args))
