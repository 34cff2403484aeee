"""Small widgets shared by the pages: error notifications, health badges, JSON views, confirms.

Everything here renders user data as text (Vue interpolation), never as HTML.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from nicegui import ui

from studio.errors import UserError, system_error_sentence
from studio.providers.errors import ProviderError
from studio.formats import dollars, money  # noqa: F401 — re-exported for the pages

log = logging.getLogger("studio.ui")

GENERIC_ERROR = "Something went wrong inside the studio; the details are in the server log."

HEALTH_COLORS = {
    "ok": "positive",
    "auth_failed": "negative",
    "unreachable": "negative",
    "key_missing": "warning",
    "rate_limited": "warning",  # amber: busy for now, not broken
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
    if isinstance(exc, OSError) and exc.strerror:  # a full disk, a folder it may not write: the system's words
        return system_error_sentence(exc)
    return GENERIC_ERROR


def notify_error(exc: BaseException, *, logged: bool = False, position: str = "top") -> str:
    """Show an error as one notification; log a traceback server-side for unexpected ones
    (unless NiceGUI has already: `logged`). `position` for a page whose top holds what the
    toast must not cover (the console's tabs)."""
    sentence = error_sentence(exc)
    if sentence == GENERIC_ERROR and not logged:
        log.error("unexpected error in the UI", exc_info=exc)
    # At the top: a toast at the bottom covered the Save buttons of dialogs.
    ui.notify(sentence, type="negative", multi_line=True, close_button=True, timeout=8000, position=position)
    return sentence


def health_badge(state: str) -> ui.badge:
    return ui.badge(state.replace("_", " "), color=HEALTH_COLORS.get(state, "grey")).props("outline")


# Quasar's empty table: a warning icon and "No data available". The pages say what is missing
# in a sentence instead, as their empty charts do; Vue interpolation keeps it text.
_NO_DATA = '<div class="w-full text-sm text-grey-7" data-testid="no-data">{{ props.message }}</div>'


def says_when_empty(table: ui.table, sentence: str) -> ui.table:
    """The sentence an empty `table` shows, without Quasar's warning icon."""
    table.props["no-data-label"] = sentence
    table.add_slot("no-data", _NO_DATA)
    return table


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


def id_list(ids: list[str], most: int = 5) -> str:
    """Ids for a sentence: all of a few ('a, b and c'), else the first few and a count."""
    if len(ids) <= most + 1:
        return ", ".join(ids[:-1]) + f" and {ids[-1]}" if len(ids) > 1 else "".join(ids)
    return ", ".join(ids[:most]) + f" and {len(ids) - most} more"


def ask_replace(what: str, on_replace: Callable[[], Awaitable[None]],
                on_new: Callable[[], Awaitable[None]] | None, *, count: int = 1) -> ui.dialog:
    """An import met `count` ids that exist (`what` names them): replace them (the old versions
    are kept as backups), import as a new id, or cancel. Never a silent replace."""
    with transient_dialog() as dialog, ui.card().props("data-testid=import-conflict"):
        ui.label(f"{what} {'exist' if count > 1 else 'exists'} already.").classes("font-medium break-all")
        ui.label(f"Replace {'all ' + str(count) if count > 1 else 'it'} (the old "
                 f"{'versions are kept as backups' if count > 1 else 'version is kept as a backup'} you can "
                 f"restore){(', import as new ids,' if count > 1 else ', import as a new id,') if on_new else ''} "
                 f"or cancel.").classes("text-sm")

        async def run_then_close(action) -> None:
            try:
                await action()
            except Exception as e:  # noqa: BLE001 — shown as one sentence
                notify_error(e)
            dialog.close()

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat data-testid=import-cancel")
            if on_new is not None:
                ui.button("Import as new", on_click=lambda: run_then_close(on_new)).props("outline data-testid=import-as-new")
            ui.button("Replace", color="negative", on_click=lambda: run_then_close(on_replace)) \
                .props("data-testid=import-replace")
    dialog.open()
    return dialog


def backups_dialog(what: str, names: list[str], restore: Callable[[str], Awaitable[None]]) -> ui.dialog:
    """The backups an import's replace kept, newest first, each with a Restore button."""
    with transient_dialog() as dialog, ui.card().props("data-testid=backups"):
        ui.label(f"Backups of {what}").classes("text-h6")
        if not names:
            ui.label("None yet: a backup is kept whenever an import replaces it.").classes("text-sm")
        for name in names:
            with ui.row().classes("items-center gap-3"):
                ui.label(name.removesuffix(".json")).classes("font-mono text-sm")

                async def go(name=name) -> None:
                    try:
                        await restore(name)
                    except Exception as e:  # noqa: BLE001
                        notify_error(e)
                    dialog.close()

                ui.button("Restore", on_click=go).props(f"dense outline data-testid=restore-{name.removesuffix('.json')}")
        ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()
    return dialog


def notify_samples_written(report) -> None:
    """What a reset to the samples wrote, and what it overwrote or removed (kept as backups)."""
    note = report.note()
    ui.notify(f"Samples written: {report.models} models, {report.pipelines} pipelines. {note}".strip(),
              type="positive", multi_line=bool(note))
