"""Running from the canvas, driven by the scripted stand-in engine (tests/browser/stand_in_engine.py)
until the real engine is merged: validation problems are pinned to their nodes and nothing
runs; a run turns every node done, streams text, and the inspector shows a node's inputs and
output; cancel stops a run."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from tests.browser.canvas_helpers import wait_nodes
from tests.browser.stand_in_engine import StandInEngine


def open_with_engine(screen: Screen, engine: StandInEngine, pipeline_id: str = "content-enhancement") -> None:
    screen.open("/")
    from studio.ui.app import get_studio
    get_studio().engine = engine
    screen.open(f"/pipelines/{pipeline_id}")
    wait_nodes(screen, 5)
    screen.click("Run")
    screen.wait(0.6)  # the tab panel slides in


def summary(screen: Screen) -> str:
    return screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run-summary]").text


def test_validation_problems_show_on_their_nodes_before_anything_runs(screen: Screen):
    engine = StandInEngine(problems=[{"nodeId": "improve", "message": "input 'text' has no source"}])
    open_with_engine(screen, engine)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    screen.wait_for(lambda: "Not run: 1 problem" in summary(screen))
    node = screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__node[data-id="improve"] .iom-node-problem')
    assert node.text == "input 'text' has no source"
    assert engine.runs == 0


def test_run_turns_every_node_done_streams_text_and_inspects(screen: Screen):
    engine = StandInEngine(stream=["Hello ", "canvas"])
    open_with_engine(screen, engine)
    screen.selenium.find_element(By.XPATH, "//label[.//div[text()='topic *']]//textarea").send_keys("tea")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    screen.wait_for(lambda: "Run succeeded" in summary(screen))
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '.iom-node-status[data-state="done"]')) == 5)
    screen.should_contain("Hello")
    screen.should_contain("canvas")
    # the inspector: select a node, inspect its last run
    screen.click("Edit")
    screen.wait(0.6)
    screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__node[data-id="draft"] .iom-node-head').click()
    screen.click("Inspect last run")
    screen.click("Run")
    screen.should_contain("Resolved inputs")
    screen.wait_for(lambda: any('"topic": "tea"' in c.text for c in screen.selenium.find_elements(By.CSS_SELECTOR, ".nicegui-code")))


def test_cancel_stops_a_run(screen: Screen):
    engine = StandInEngine(hold=True)
    open_with_engine(screen, engine)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '.iom-node-status[data-state="done"]')) == 1)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=cancel]").click()
    screen.wait_for(lambda: summary(screen) == "Cancelled.")
    assert engine.cancelled


def test_dry_run_shows_the_plan_and_cost_estimate(screen: Screen):
    engine = StandInEngine()
    open_with_engine(screen, engine)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=dry-run]").click()
    screen.wait_for(lambda: summary(screen) == "Dry run · $0.0012 estimated")
    plan = screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=dry-run-plan]").text
    assert '"draft"' in plan and '"estimatedCostUsd": 0.0012' in plan
    assert not screen.selenium.find_elements(By.CSS_SELECTOR, ".iom-node-status")  # nothing ran
