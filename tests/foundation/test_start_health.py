"""The built-in models are checked in the background when the studio starts, so the registry
shows them healthy from the first minute instead of "unknown"."""

from __future__ import annotations

from tests.helpers.studio_server import StudioServer


def test_built_in_models_are_checked_at_start(iom_home):
    import json
    import time

    server = StudioServer(iom_home).start()
    try:
        deadline = time.monotonic() + 30
        health = {}
        while time.monotonic() < deadline:
            path = iom_home / "health.json"
            health = json.loads(path.read_text()) if path.exists() else {}
            if sum(1 for k in health if k.startswith("local/")) >= 5:
                break
            time.sleep(0.2)
        local = {k: v for k, v in health.items() if k.startswith("local/")}
        assert len(local) >= 5 and all(v["state"] == "ok" for v in local.values()), local
    finally:
        server.stop()
