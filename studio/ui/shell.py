"""The app shell every page sits in: header with the studio's mark, left navigation."""

from __future__ import annotations

from contextlib import contextmanager

from nicegui import ui

NAV = [
    ("Registry", "/", "hub"),
    ("Pipelines", "/pipelines", "account_tree"),
    ("Console", "/console", "terminal"),
    ("Analytics", "/analytics", "insights"),
    ("Settings", "/settings", "settings"),
]


@contextmanager
def frame(title: str):
    """Build header and navigation, then yield the page's content column."""
    with ui.header().classes("items-center"):
        ui.label("IoM Studio").classes("text-lg font-bold")
        ui.label(title).classes("text-sm opacity-80")
    with ui.left_drawer(value=True).classes("bg-grey-1"):
        for label, path, icon in NAV:
            with ui.link(target=path).classes("flex items-center gap-2 no-underline"):
                ui.icon(icon)
                ui.label(label)
    with ui.column().classes("w-full p-4 gap-4") as content:
        yield content
