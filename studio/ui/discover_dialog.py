"""The registry's "Discover Ollama models" dialog: the models a running Ollama server has
installed, each registered with one click (the same discovery as `iom models discover ollama`)."""

from __future__ import annotations

from typing import Callable

from nicegui import ui

from studio.registry.discover import Found, discover_ollama, ollama_base
from studio.ui.threads import io_bound
from studio.ui.widgets import notify_error


def open_discover_dialog(studio, on_registered: Callable[[], object]) -> None:
    """Ask the server (address editable, default OLLAMA_HOST or the usual port) and list its models."""
    with ui.dialog() as dialog, ui.card().classes("w-[44rem] max-w-full").props("data-testid=discover-dialog"):
        ui.label("Discover Ollama models").classes("text-lg font-medium")
        with ui.row().classes("w-full items-center gap-2"):
            url = ui.input("Ollama server", value=ollama_base(None)).props("outlined dense data-testid=discover-url") \
                .classes("grow")
            ui.button("Look", icon="search", on_click=lambda: look()).props("data-testid=discover-look")
        status = ui.label().classes("text-sm opacity-70").props("data-testid=discover-status")
        listing = ui.column().classes("w-full gap-1")
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat")

    async def register(found: Found) -> None:
        try:
            await io_bound(studio.models.save, found.spec, create=True)
        except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
            notify_error(e)
            return
        found.registered = True
        ui.notify(f"registered {found.spec.id}", type="positive")
        show([*shown])
        await on_registered()

    shown: list[Found] = []

    def show(found: list[Found]) -> None:
        shown[:] = found
        listing.clear()
        with listing:
            for f in found:
                with ui.row().classes("w-full items-center gap-3").props(f"data-testid=discovered-{f.name}"):
                    ui.label(f.name).classes("font-medium min-w-[12rem]")
                    ui.label(" · ".join(x for x in (f.size_label if f.size_bytes else '', f.family, f.parameter_size, f.quantization) if x)) \
                        .classes("text-sm opacity-70 grow")
                    if f.registered:
                        ui.badge("registered", color="positive").props("outline")
                    else:
                        ui.button("Register", icon="add", on_click=lambda f=f: register(f)) \
                            .props(f"dense flat data-testid=register-{f.name}")

    async def look() -> None:
        status.text = "asking the server…"
        listing.clear()
        try:
            registered = await io_bound(studio.models.all)
            found = await io_bound(discover_ollama, url.value, registered, 3.0, "in the Ollama server field above")
        except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
            status.text = notify_error(e)
            return
        status.text = (f"{len(found)} model(s) installed at {ollama_base(url.value)}" if found
                       else "the server has no models installed; 'ollama pull NAME' installs one.")
        show(found)

    dialog.open()
    ui.timer(0.01, look, once=True)
