"""A run's or a call's output as a person reads it: text as text, objects as a key/value table
(nested values indented), numbers formatted; with Copy and Download buttons that confirm.
Values are shown as plain text (never as HTML), so an output cannot inject markup."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

MAX_ROWS = 200  # a huge output shows its first rows; Download has all of it


def result_view(value: Any, *, name: str = "output", testid: str = "result", body: bool = True) -> ui.column:
    """Render `value`; `name` is the download's file stem. `body=False` gives only Copy and
    Download, for a page that already shows the text as it streamed in."""
    with ui.column().classes("w-full gap-1").props(f"data-testid={testid}") as box:
        if not body:
            pass
        elif isinstance(value, str):
            ui.label(value).classes("text-sm whitespace-pre-wrap break-words w-full")
        elif is_text_only(value):
            ui.label(value["text"]).classes("text-sm whitespace-pre-wrap break-words w-full")
        else:
            rows: list[tuple[int, str, str]] = []
            _rows(value, 0, "", rows)
            with ui.element("div").classes("w-full text-sm").style(
                    "display: grid; grid-template-columns: minmax(5rem, max-content) 1fr; gap: 2px 12px"):
                for depth, key, shown in rows[:MAX_ROWS]:
                    ui.label(key).classes("text-grey-7 break-all").style(f"padding-left: {depth * 12}px")
                    ui.label(shown).classes("break-words whitespace-pre-wrap font-medium")
            if len(rows) > MAX_ROWS:
                ui.label(f"… {len(rows) - MAX_ROWS} more rows; download the whole output.").classes("text-xs")
        plain = isinstance(value, str) or is_text_only(value)
        text = (value if isinstance(value, str) else value["text"]) if plain else \
            json.dumps(value, indent=2, ensure_ascii=False, default=str)
        with ui.row().classes("gap-1"):
            def copy() -> None:
                ui.clipboard.write(text)
                ui.notify("Output copied.", type="positive")

            def download() -> None:
                ui.download.content(text, f"{name}.{'txt' if plain else 'json'}")
                ui.notify(f"Downloading {name}.", type="positive")

            ui.button("Copy", icon="content_copy", on_click=copy).props(f"flat dense data-testid={testid}-copy")
            ui.button("Download", icon="download", on_click=download).props(f"flat dense data-testid={testid}-download")
    return box


def is_text_only(value: Any) -> bool:
    """A `{"text": ...}` output is shown (and copied) as its text."""
    return isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str)


def _rows(value: Any, depth: int, key: str, out: list[tuple[int, str, str]]) -> None:
    if isinstance(value, dict):
        if key:
            out.append((depth, key, "" if value else "{}"))
            depth += 1
        for k, v in value.items():
            _rows(v, depth, str(k), out)
    elif isinstance(value, list) and value and not all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
        out.append((depth, key or "items", f"{len(value)} items"))
        for i, v in enumerate(value):
            _rows(v, depth + 1, f"{i + 1}", out)
    else:
        out.append((depth, key or "value", _scalar(value)))


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) or "(none)"
    return str(value)
