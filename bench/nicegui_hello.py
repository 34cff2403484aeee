"""The floor under the studio's start: a bare NiceGUI app with one page, started like run.py
(bench_startup.py times both, interleaved)."""

import os

from nicegui import ui


@ui.page("/")
def index() -> None:
    ui.label("hello")


if __name__ in {"__main__", "__mp_main__"}:
    ui.run(host="127.0.0.1", port=int(os.environ["IOM_PORT"]), reload=False, show=False)
