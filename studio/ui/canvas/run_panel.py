"""Running a pipeline from the canvas. Needs `studio.engine` (the pipeline engine); until the
studio has one, the panel says so and offers nothing to click."""

from __future__ import annotations

from nicegui import ui

ENGINE_MISSING = ("Running from the canvas needs the pipeline engine, which this build of the studio "
                  "does not include yet; you can edit, save and export pipelines meanwhile.")


class RunPanel:
    def __init__(self, editor):
        self.editor = editor
        self.available = hasattr(editor.studio, "engine")
        if not self.available:
            ui.label(ENGINE_MISSING).classes("text-grey-8").props("data-testid=run-disabled")
            return

    def inspect(self, node_id: str) -> None:
        pass
