"""Page registration. Routes are registered by `register_all()`, not at import time, so a
test harness that resets NiceGUI's globals between tests can register them again."""

from __future__ import annotations

from studio.ui.shell import add_assets


def register_all() -> None:
    from studio.ui import (analytics_page, console_page, evaluate_page, home_page, pipelines_page, registry_page,
                           settings_page)

    add_assets()
    home_page.register()
    registry_page.register()
    pipelines_page.register()
    console_page.register()
    analytics_page.register()
    evaluate_page.register()
    settings_page.register()
