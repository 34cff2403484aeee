"""A run's or a call's output as a person reads it: text as text, Markdown (a report with
headings, bold or code blocks) rendered, objects as a key/value table (nested values indented),
numbers formatted; with Copy and Download buttons that confirm. An output cannot inject markup:
text is shown as text, and Markdown is converted with its raw HTML escaped, unsafe links
dropped and images left as their alt text (an image would fetch a URL the output chose)."""

from __future__ import annotations

import json
import re
from typing import Any

from nicegui import ui

MAX_ROWS = 200  # a huge output shows its first rows; Download has all of it


def result_view(value: Any, *, name: str = "output", testid: str = "result", body: bool = True) -> ui.column:
    """Render `value`; `name` is the download's file stem. `body=False` gives only Copy and
    Download, for a page that already shows the text as it streamed in."""
    with ui.column().classes("w-full gap-1").props(f"data-testid={testid}") as box:
        if not body:
            pass
        elif isinstance(value, str) or is_text_only(value):
            text_view(value if isinstance(value, str) else value["text"], "text-sm w-full")
        else:
            rows: list[tuple[int, str, str]] = []
            _rows(value, 0, "", rows)
            with ui.element("div").classes("w-full text-sm").style(
                    "display: grid; grid-template-columns: minmax(5rem, max-content) 1fr; gap: 2px 12px"):
                for depth, key, shown in rows[:MAX_ROWS]:
                    ui.label(key).classes("text-grey-7 break-all").style(f"padding-left: {depth * 12}px")
                    text_view(shown, "font-medium", markdown_classes="")
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


_MARKDOWN = re.compile(r"^#{1,6} \S|^```|\*\*\S", re.M)  # a heading, a code fence, bold
_IMAGE = re.compile(r'<img [^>]*?alt="([^"]*)"[^>]*>|<img [^>]*>')


def looks_like_markdown(text: str) -> bool:
    return bool(_MARKDOWN.search(text))


def text_view(text: str, classes: str = "", *, markdown_classes: str | None = None) -> ui.element:
    """Text as text, or rendered when it is Markdown ("## Text insights", "**Length:**" read
    with their markers)."""
    if not looks_like_markdown(text):
        return ui.label(text).classes(f"whitespace-pre-wrap break-words {classes}")
    classes = classes if markdown_classes is None else markdown_classes
    import markdown2  # NiceGUI's own Markdown library

    html = markdown2.markdown(text, safe_mode="escape", extras=["fenced-code-blocks", "tables", "cuddled-lists"])
    html = _IMAGE.sub(lambda m: m.group(1) or "", html)
    client = ui.context.client
    if not getattr(client, "_iom_markdown_css", False):  # once a page
        ui.add_css(_MARKDOWN_CSS)
        client._iom_markdown_css = True
    return ui.html(html).classes(f"iom-markdown break-words {classes}")


# A heading in an output is a heading of that output, not of the page (Quasar's h2 is 3.75rem).
_MARKDOWN_CSS = """
.iom-markdown h1, .iom-markdown h2, .iom-markdown h3, .iom-markdown h4, .iom-markdown h5, .iom-markdown h6 {
  font-size: 1.05rem; line-height: 1.4; font-weight: 600; letter-spacing: normal; margin: 0 0 .4rem; }
.iom-markdown p, .iom-markdown ul, .iom-markdown ol, .iom-markdown pre, .iom-markdown table { margin: 0 0 .5rem; }
.iom-markdown ul { list-style: disc; padding-left: 1.25rem; }
.iom-markdown ol { list-style: decimal; padding-left: 1.25rem; }
.iom-markdown pre { white-space: pre-wrap; }
"""


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
