"""The Analytics page over a damaged analytics.json: the file's sentence where its settings
would be, and the rest of the page drawn (it was a 500 page with a traceback in the log)."""

from __future__ import annotations

import asyncio

from pathlib import Path

from nicegui.testing import User

from tests.ui.util import element


async def test_a_damaged_settings_file_is_its_sentence_on_the_page_not_a_500(user: User, iom_home, caplog):
    (iom_home / "analytics.json").write_bytes(b"\x00\xff{{not json")
    await user.open("/analytics")
    said = element(user, "analytics-settings-error").text
    assert said == f"{iom_home / 'analytics.json'} is not valid analytics settings (UnicodeDecodeError); fix or delete it."
    await user.should_see("Run history")
    await user.should_not_see("Save settings")
    caplog.clear()  # the writer's one line about the spool waiting is expected


async def test_an_export_is_a_file_the_server_serves_and_then_removes(user: User, iom_home, monkeypatch):
    """The export was built whole in memory and sent through the page's websocket (a million
    calls: 214 MB of CSV). Now the server writes it to IOM_HOME/exports/, the browser fetches
    it, and the file goes once it has been served."""
    import asyncio
    from datetime import datetime, timezone

    import studio.ui.analytics_page as analytics_page
    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord
    from studio.ui.app import get_studio

    monkeypatch.setattr(analytics_page, "EXPORT_SERVED_S", 1.0)
    store = get_studio().analytics
    for i in range(3):
        store.record_call(CallRecord(id=f"c{i}", time=datetime.now(timezone.utc), model_id="m/a", provider="openai",
                                     latency_ms=10, usage=Usage(source="provider"), cost_usd=0.001))
    store.flush()
    await user.open("/analytics")
    user.find("Export CSV").click()
    # (the simulated browser asks for ui.download.file's path itself; real Chromium fetches it
    # from the server's route: tests/browser/test_analytics_page.py)
    served = Path((await user.download.next(timeout=5)).request.url.path)
    assert served.parent == iom_home / "exports"
    lines = served.read_text().splitlines()
    assert lines[0].startswith('"id","time","model_id"') and [line.split(",")[0] for line in lines[1:]] == \
        ['"c0"', '"c1"', '"c2"']
    exports = iom_home / "exports"
    for _ in range(50):
        if not any(exports.iterdir()):
            break
        await asyncio.sleep(0.1)
    assert list(exports.iterdir()) == []


async def test_the_web_app_gives_duckdb_the_setting_from_its_start(user: User, iom_home):
    """Commands and batches keep DuckDB lean (studio/analytics/store.py, LEAN_LIMIT_MB); the web
    app's dashboard wants the cache, so its start asks for the setting."""
    from studio.ui.app import get_studio

    from tests.ui.util import wait_until

    def limit() -> str | None:
        store = get_studio().analytics
        return store.read(lambda cur: cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]) \
            if store.is_owner else None

    await user.open("/analytics")  # the page's own reads may open it first, lean: the start then raises it
    await wait_until(lambda: limit() == "244.1 MiB", "DuckDB's memory limit at the setting")


async def test_retention_days_are_saved_as_typed_or_refused_never_clamped(user: User, iom_home):
    """The field clamped 0 or a negative to 1 day in the browser and said "saved": the next start
    rolled up every call older than yesterday. Letters were read as empty (forever)."""
    from studio.analytics.settings import load_settings
    from tests.ui.util import set_value

    await user.open("/analytics")
    for typed, kept in (("30", 30), ("0", None), ("12", 12), ("", None), ("7", 7)):
        set_value(user, "retention-days", typed)
        user.find("Save settings").click()
        for _ in range(50):
            if load_settings(iom_home).retention_days == kept:
                break
            await asyncio.sleep(0.05)
        assert load_settings(iom_home).retention_days == kept, typed
    for typed in ("-3", "2.5", "12abc", "abc", "99999999"):
        set_value(user, "retention-days", typed)
        user.find("Save settings").click()
        await user.should_see(f"{typed!r} is not a number of days; give whole days from 1 to")
        assert load_settings(iom_home).retention_days == 7, typed


async def test_apply_retention_asks_first_and_says_what_it_removed(user: User, iom_home):
    """It dropped call detail and runs' inputs at one click, and its message left the runs out."""
    from datetime import datetime, timedelta, timezone

    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord
    from studio.ui.app import get_studio
    from tests.ui.util import by_testid, set_value

    store = get_studio().analytics
    store.record_call(CallRecord(id="old", time=datetime.now(timezone.utc) - timedelta(days=40), model_id="m/a",
                                 provider="openai", latency_ms=10, usage=Usage(source="provider"), cost_usd=0.001))
    store.flush()
    await user.open("/analytics")
    set_value(user, "retention-days", "30")
    user.find("Save settings").click()
    await user.should_see("Analytics settings saved.")
    user.find("Apply retention now").click()
    await user.should_see("Roll call detail older than 30 day(s) into daily totals?")
    assert store.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0]) == 1  # nothing yet
    by_testid(user, "confirm-ok").click()
    await user.should_see("Rolled 1 calls older than")
    assert store.read(lambda cur: cur.execute("SELECT count(*) FROM calls").fetchone()[0]) == 0


async def test_a_table_holding_only_the_newest_rows_says_so(user: User, iom_home):
    """Recent calls held the newest 100 and its pager said "1-10 of 100" of 10,000 calls."""
    from datetime import datetime, timezone

    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord
    from studio.ui.app import get_studio
    from tests.ui.util import element

    store = get_studio().analytics
    await user.open("/analytics")
    assert element(user, "recent-capped").text == ""
    for i in range(101):
        store.record_call(CallRecord(id=f"c{i}", time=datetime.now(timezone.utc), model_id="m/a", provider="openai",
                                     latency_ms=10, usage=Usage(source="provider"), cost_usd=0.001))
    store.flush()
    await user.open("/analytics")
    await user.should_see("The newest 100 calls in the range are listed; narrow the time range or the filters")
