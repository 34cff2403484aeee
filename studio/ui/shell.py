"""The app shell every page sits in: header with the studio's mark, left navigation, light/dark.

`with frame("Registry"):` builds header and navigation (the current page highlighted) and
yields the page's content column. The light/dark choice is kept in `app.storage.general`:
the studio has one user, so one server-side preference is the right scope.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from nicegui import app, ui

from studio.ui.widgets import notify_error

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
ASSETS_URL = "/assets"
MARK_URL = f"{ASSETS_URL}/mark.svg"
DARK_KEY = "iom.dark_mode"
PRIMARY = "#2f5d8a"

NAV = [
    ("Home", "/", "home"),
    ("Registry", "/registry", "hub"),
    ("Pipelines", "/pipelines", "account_tree"),
    ("Console", "/console", "terminal"),
    ("Analytics", "/analytics", "insights"),
    ("Evaluate", "/evaluate", "fact_check"),
    ("Settings", "/settings", "settings"),
]


def add_assets() -> None:
    """Serve assets/ (the mark, CSS). Called once per app start by register_all()."""
    app.add_static_files(ASSETS_URL, ASSETS_DIR)


def current_section(path: str, title: str = "") -> str:
    """Which navigation entry a request path belongs to ('/' only for the start page itself)."""
    for label, target, _ in NAV:
        if target != "/" and (path == target or path.startswith(target + "/")):
            return label
    if path in ("", "/"):
        return "Home"
    return next((label for label, _, _ in NAV if label == title), "")


def _request_path() -> str:
    try:
        return ui.context.client.request.url.path
    except Exception:  # noqa: BLE001 — no request (e.g. auto-index page): fall back to the title
        return ""


def _dark_toggle() -> None:
    dark = ui.dark_mode(value=app.storage.general.get(DARK_KEY, False))

    def flip() -> None:
        dark.value = not dark.value
        app.storage.general[DARK_KEY] = dark.value
        button.props(f"icon={'light_mode' if dark.value else 'dark_mode'}")

    button = ui.button(icon="light_mode" if dark.value else "dark_mode", on_click=flip).props(
        'flat round color=white aria-label="Switch light or dark mode" data-testid=dark-toggle'
    ).tooltip("Light / dark")


@contextmanager
def frame(title: str, *, narrow_nav: bool = False):
    """Build header and navigation, then yield the page's content column. `narrow_nav` shows
    the navigation as icons only, for pages that need the width (the canvas)."""
    # The start page is just "IoM Studio"; other pages name themselves first, for the tab strip.
    ui.page_title("IoM Studio" if title == "Home" else f"{title} · IoM Studio")
    ui.colors(primary=PRIMARY)
    # What no handler of the page caught: one sentence on the page, not a button that silently
    # does nothing (NiceGUI logs the traceback on the server).
    ui.on_exception(lambda e: notify_error(e, logged=True))
    section = current_section(_request_path(), title)
    with ui.header(elevated=True).classes("items-center gap-3 px-4 py-2 bg-primary"):
        with ui.link(target="/").classes("flex items-center gap-2 no-underline text-white"):
            ui.image(MARK_URL).classes("w-8 h-8").props('alt="IoM Studio mark" no-spinner')
            ui.label("IoM Studio").classes("text-lg font-bold")
        ui.label("·").classes("opacity-60")
        ui.label(title).classes("text-base opacity-90").props("data-testid=page-title")
        ui.space()
        _dark_toggle()
    with ui.left_drawer(value=True, fixed=True, bordered=True).props("width=200 breakpoint=800" + (" mini" if narrow_nav else "")).classes("p-0"):
        with ui.list().props("padding").classes("w-full"):
            for label, path, icon in NAV:
                active = label == section
                # A clickable q-item is focusable and answers Enter, so the navigation works by keyboard.
                item = ui.item(on_click=lambda p=path: ui.navigate.to(p)).props(
                    f"clickable data-testid=nav-{label.lower()}" + (" active" if active else "")
                ).classes("rounded-r-full mr-2" + (" nav-active text-primary font-bold" if active else ""))
                with item:
                    with ui.item_section().props("avatar"):
                        ui.icon(icon)
                    if narrow_nav:
                        ui.tooltip(label).props("anchor='center right' self='center left'")
                    with ui.item_section():
                        ui.label(label)
    with ui.column().classes("w-full gap-4") as content:  # the page already pads its content
        yield content


def retitle(title: str) -> None:
    """The page's header and tab title follow a rename made on the page."""
    ui.page_title(f"{title} · IoM Studio")
    for element in list(ui.context.client.elements.values()):
        if element.props.get("data-testid") == "page-title" and hasattr(element, "set_text"):
            element.set_text(title)
