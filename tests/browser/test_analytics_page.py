"""The analytics page in real Chromium: cards, Plotly charts, tables, run drill-down."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from selenium.webdriver.common.by import By

from studio.spec.records import NodeRun, RunRecord
from studio.ui.app import get_studio
from tests.analytics.data import call


def _seed() -> None:
    store = get_studio().analytics
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    store.record_call(call("c1", now, "m/a", "openai", "p1", latency=100, ttft=20, tout=80, cost=0.10, run_id="run-1"),
                      {"prompt": "hello"}, {"text": "bonjour"})
    store.record_call(call("c2", now, "m/b", "anthropic", "p1", latency=300, tout=10), {"prompt": "x"}, {"text": "y"})
    store.record_call(call("c3", now, "m/b", "anthropic", None, status="error", error_class="timeout", latency=900))
    store.record_run(RunRecord(id="run-1", pipeline_id="p1", status="succeeded", started=now, inputs={"text": "hello"},
                               wall_ms=120, cost_usd=0.10,
                               nodes={"translate": NodeRun(node_id="translate", status="succeeded", model_id="m/a",
                                                           inputs={"prompt": "hello"}, output={"text": "bonjour"},
                                                           latency_ms=100, cost_usd=0.10)}))
    store.flush()


def test_analytics_page_shows_cards_charts_and_tables(studio_screen):
    _seed()
    studio_screen.open("/analytics")
    studio_screen.should_contain("Calls and errors over time")
    studio_screen.should_contain("$0.1000 + 2 unpriced")  # unpriced calls are shown, not priced at $0
    studio_screen.should_contain("33.3%")  # error rate: 1 of 3
    charts = studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .main-svg")
    assert len(charts) >= 8  # Plotly drew every chart
    titles = {t.get_attribute("textContent") for t in
              studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .gtitle")}
    assert {"Calls and errors over time", "Latency by model (ms)", "Cost by model (USD)", "Errors by class"} <= titles
    bars = studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .bars .point")
    assert bars  # the charts carry data, not just axes
    cells = [td.get_attribute("textContent") for td in studio_screen.selenium.find_elements(By.CSS_SELECTOR, "td")]
    assert "run-1" in cells  # run history
    assert "timeout" in cells  # recent calls


def test_run_drill_down_shows_nodes_and_why_rerun_is_unavailable(studio_screen):
    _seed()
    studio_screen.open("/analytics")
    cell = studio_screen.selenium.find_element(By.XPATH, '//td[normalize-space(.)="run-1"]')
    studio_screen.selenium.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    cell.click()
    studio_screen.should_contain("Run run-1 of p1")
    studio_screen.click("translate · succeeded · m/a")
    studio_screen.should_contain("bonjour")
    studio_screen.should_contain("The pipeline p1 is no longer in the registry")


def test_empty_analytics_page_renders(studio_screen):
    studio_screen.open("/analytics")
    notes = [t.get_attribute("textContent") for t in
             studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .annotation-text")]
    assert notes and all(n == "No calls in this range yet" for n in notes)
    studio_screen.should_contain("all calls priced")


def test_export_csv_download_and_settings_save(studio_screen, iom_home):
    import json
    import time

    from nicegui.testing import screen_plugin

    _seed()
    studio_screen.open("/analytics")
    studio_screen.click("Export CSV")
    target = screen_plugin.DOWNLOAD_DIR / "iom-calls.csv"
    deadline = time.monotonic() + 10
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = target.read_text().splitlines()
    assert lines[0].startswith('"id","time","model_id"') and len(lines) == 4

    studio_screen.click("Retention and audit settings")
    studio_screen.click("Audit: keep only hashes of inputs and outputs")
    studio_screen.click("Save settings")
    studio_screen.should_contain("Analytics settings saved.")
    assert json.loads((iom_home / "analytics.json").read_text())["auditHashesOnly"] is True
