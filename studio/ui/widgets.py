"""Small widgets shared by the pages: error notifications, health badges, JSON views, confirms.

Everything here renders user data as text (Vue interpolation), never as HTML.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from nicegui import ui

from studio.errors import UserError
from studio.providers.errors import ProviderError
from studio.ui.formats import dollars, money  # noqa: F401 — re-exported for the pages

log = logging.getLogger("studio.ui")

GENERIC_ERROR = "Something went wrong inside the studio; the details are in the server log."

HEALTH_COLORS = {
    "ok": "positive",
    "auth_failed": "negative",
    "unreachable": "negative",
    "key_missing": "warning",
    "error": "negative",
    "unknown": "grey",
}


def error_sentence(exc: BaseException) -> str:
    """The one sentence a person sees for an exception: ours as is, anything else generic."""
    if isinstance(exc, (UserError, ProviderError)):
        return str(exc)
    # Module reloads in test harnesses can leave two copies of our classes; match by name too.
    if any(c.__name__ in ("UserError", "ProviderError") for c in type(exc).__mro__):
        return str(exc)
    return GENERIC_ERROR


def notify_error(exc: BaseException) -> str:
    """Show an error as one notification; log a traceback server-side for unexpected ones."""
    sentence = error_sentence(exc)
    if sentence == GENERIC_ERROR:
        log.error("unexpected error in the UI", exc_info=exc)
    # At the top: a toast at the bottom covered the Save buttons of dialogs.
    ui.notify(sentence, type="negative", multi_line=True, close_button=True, timeout=8000, position="top")
    return sentence


def health_badge(state: str) -> ui.badge:
    return ui.badge(state.replace("_", " "), color=HEALTH_COLORS.get(state, "grey")).props("outline")


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)


def json_view(data: Any) -> ui.label:
    """Pretty-printed JSON as plain text in a scrollable monospace block."""
    return ui.label(json_text(data)).classes(
        "font-mono text-xs whitespace-pre overflow-auto w-full max-h-80 p-2 rounded bg-grey-2 dark:bg-grey-9"
    )


def transient_dialog(**props) -> ui.dialog:
    """A dialog that removes itself from the page once closed, so dialogs opened again and
    again during a long session do not pile up."""
    dialog = ui.dialog(**props)
    dialog.on_value_change(lambda e: None if e.value else dialog.delete())
    return dialog


def confirm(question: str, action: Callable[[], Awaitable[None] | None], *, ok_label: str = "Delete") -> ui.dialog:
    """A small dialog that runs `action` only after an explicit click."""
    with transient_dialog() as dialog, ui.card():
        ui.label(question)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")

            async def go() -> None:
                # Run first, close after: the action's notifications need this dialog's context.
                try:
                    result = action()
                    if hasattr(result, "__await__"):
                        await result
                except Exception as e:  # noqa: BLE001 — shown as one sentence
                    notify_error(e)
                dialog.close()

            ui.button(ok_label, on_click=go, color="negative").props("data-testid=confirm-ok")
    dialog.open()
    return dialog
