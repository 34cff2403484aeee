"""The analytics page in real Chromium: cards, Plotly charts, tables, run drill-down."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from selenium.webdriver.common.by import By

from studio.analytics import queries as q
from studio.spec.records import NodeRun, RunRecord
from studio.ui.app import get_studio
from tests.analytics.data import call
from tests.browser.helpers import click, wait_until


def _seed() -> None:
    store = get_studio().analytics
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    store.record_call(call("c1", now, "m/a", "openai", "p1", latency=100, ttft=20, tout=80, cost=0.10, run_id="run-1"),
                      {"prompt": "hello"}, {"text": "bonjour"})
    store.record_call(call("c2", now, "m/b", "anthropic", "p1", latency=300, tout=10), {"prompt": "x"}, {"text": "y"})
    store.record_call(call("c3", now, "m/b", "anthropic", None, status="error", error_class="timeout", latency=900))
    store.record_run(RunRecord(id="run-1", pipeline_id="p1", status="succeeded", started=now, inputs={"text": "hello"}, outputs={"result": "bonjour"},
                               wall_ms=120, cost_usd=0.10,
                               nodes={"translate": NodeRun(node_id="translate", status="succeeded", model_id="m/a",
                                                           inputs={"prompt": "hello"}, output={"text": "bonjour"},
                                                           latency_ms=100, cost_usd=0.10, started=now,
                                                           ended=now + timedelta(milliseconds=100))}))
    store.flush()


def open_run(screen, run_id: str) -> None:
    """The analytics page, and the drill-down of a run from its table."""
    screen.open("/analytics")
    cell = screen.selenium.find_element(By.XPATH, f'//td[normalize-space(.)="{run_id}"]')
    screen.selenium.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    cell.click()


def test_analytics_page_shows_cards_charts_and_tables(studio_screen):
    _seed()
    studio_screen.open("/analytics")
    studio_screen.click("Last hour")
    studio_screen.should_contain("Calls and errors per minute")  # buckets fit the range...
    studio_screen.should_contain("$0.1000 + 2 unpriced")  # unpriced calls are shown, not priced at $0
    studio_screen.should_contain("33.3%")  # error rate: 1 of 3
    charts = studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .main-svg")
    assert len(charts) >= 8  # Plotly drew every chart
    titles = {t.get_attribute("textContent") for t in
              studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .gtitle")}
    assert {"Calls and errors per minute", "How long does each model take? (latency)", "Cost by model (USD)",
            "Which errors happen? (errors by class)"} <= titles
    # No mode bar over the titles.
    assert not studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .modebar-container .modebar")
    bars = studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .bars .point")
    assert bars  # the charts carry data, not just axes
    cells = [td.get_attribute("textContent") for td in studio_screen.selenium.find_elements(By.CSS_SELECTOR, "td")]
    assert "run-1" in cells  # run history
    assert "error (timeout)" in cells  # recent calls
    assert {"100 ms", "300 ms", "900 ms"} <= set(cells)  # one latency format, no "215.267202"
    assert "$0.1000" in cells and "unpriced" in cells and not any("True" in c for c in cells)


def test_recent_calls_table_fits_1280_px_and_chart_clicks_filter(studio_screen):
    from selenium.webdriver import ActionChains

    _seed()
    studio_screen.open("/analytics")
    studio_screen.should_contain("error (timeout)")
    studio_screen.selenium.set_window_size(1280, 900)  # after loading: resizing a page mid-load stalls Chromium here
    studio_screen.wait(1)
    overflow = studio_screen.selenium.execute_script(
        "const t = document.querySelector('[data-testid=recent-calls] .q-table__middle');"
        "return t.scrollWidth - t.clientWidth;")
    assert overflow <= 0, f"the recent-calls table needs {overflow} px of horizontal scrolling at 1280 px"
    bar = studio_screen.selenium.find_element(By.CSS_SELECTOR, '[data-chart=tokens] .bars .point path')
    studio_screen.selenium.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
    ActionChains(studio_screen.selenium).move_to_element(bar).click().perform()
    studio_screen.wait(1)
    model = studio_screen.selenium.find_element(By.XPATH, '//label[.//div[text()="Model"]]')
    assert "m/a" in model.get_attribute("textContent")  # the click narrowed the page to that model
    cells = [td.get_attribute("textContent") for td in studio_screen.selenium.find_elements(By.CSS_SELECTOR, "td")]
    assert "error (timeout)" not in cells  # m/b's call is filtered out


def test_run_drill_down_shows_nodes_and_why_rerun_is_unavailable(studio_screen):
    _seed()
    open_run(studio_screen, "run-1")
    studio_screen.should_contain("Run run-1 of p1")
    studio_screen.should_contain("Outputs")
    studio_screen.should_contain("Which node ran when? (critical path highlighted)")
    studio_screen.click("translate · succeeded · m/a")
    studio_screen.should_contain("bonjour")
    studio_screen.should_contain("The pipeline p1 is no longer in the registry")


def test_the_run_timeline_shows_node_names_whole(studio_screen):
    """Review triage's drill-down read "entiment" and "eywords": the names ran off the left."""
    _seed()
    now = datetime.now(timezone.utc) - timedelta(minutes=4)
    names = ["in", "sentiment", "keywords", "summarize-reviews"]
    get_studio().analytics.record_run(RunRecord(
        id="run-2", pipeline_id="p2", status="succeeded", started=now, wall_ms=30,
        nodes={n: NodeRun(node_id=n, status="succeeded", started=now + timedelta(milliseconds=i),
                          ended=now + timedelta(milliseconds=i + 10)) for i, n in enumerate(names)}))
    get_studio().analytics.flush()
    open_run(studio_screen, "run-2")
    studio_screen.should_contain("Which node ran when? (critical path highlighted)")
    chart = studio_screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run-timeline] .main-svg").rect
    ticks = studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=run-timeline] .ytick text")
    assert sorted(t.get_attribute("textContent") for t in ticks) == sorted(names)
    assert all(t.rect["x"] >= chart["x"] for t in ticks), (chart, [(t.get_attribute("textContent"), t.rect) for t in ticks])


def test_empty_analytics_page_renders(studio_screen):
    studio_screen.open("/analytics")
    notes = [t.get_attribute("textContent") for t in
             studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .annotation-text")]
    assert len(notes) == 8 and "No calls in this range." in notes  # a sentence, not axes from −1 to 1
    assert any(n.startswith("No successful") for n in notes)
    assert not studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".analytics-chart .xtick")
    studio_screen.should_contain("all calls priced")
    # an empty table says what would be in it, as the charts do, not Quasar's "⚠ No data available"
    studio_screen.should_contain("No fallbacks in this range")
    studio_screen.should_contain("No pipeline runs in this range.")
    studio_screen.should_not_contain("No data available")


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


def test_a_run_is_run_again_from_its_drill_down(studio_screen):
    """The dialog closes as the run starts; the run's notification was sent from that closed,
    deleted dialog (an error in NiceGUI's log, and no notification at all)."""
    store = get_studio().analytics
    store.record_run(RunRecord(id="run-again-1", pipeline_id="review-triage", status="succeeded",
                               inputs={"text": "The service was excellent and the food delicious."}))
    store.flush()
    open_run(studio_screen, "run-again-1")
    # the server serves the Studio this test seeded, not a second one beside it: two wrote the
    # one database, and the run's second record once collided with itself ("Conflict on tuple deletion")
    assert get_studio().analytics is store
    click(studio_screen, lambda: studio_screen.find("Run again with the same inputs"))  # once the dialog stands still
    studio_screen.should_contain("Running review-triage again with the same inputs")
    # the first run of the built-in models in this server loads them: seconds on a cold machine
    wait_until(lambda: "finished: succeeded." in studio_screen.selenium.page_source, 60)
    runs = [r for r in store.read(q.list_runs) if r["id"] != "run-again-1"]
    assert [(r["pipeline_id"], r["status"]) for r in runs] == [("review-triage", "succeeded")]
