"""What a newcomer sees on the canvas, in real Chromium at 1400×900: the README's tour (open
Pipelines → Review triage → Run) shows the result without another click, for every offline
sample; a node clicked after the run shows its inputs and output in place; every sample opens
laid out with no node box on top of another."""

from __future__ import annotations

import json

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from studio.registry.samples import sample_pipelines
from tests.browser.canvas_helpers import click_node, wait_nodes

OFFLINE = ["review-triage", "text-insights"]

BOXES = """return [...document.querySelectorAll('.vue-flow__node')].map(n => {
  const r = n.getBoundingClientRect(); return {id: n.dataset.id, x: r.x, y: r.y, w: r.width, h: r.height}; });"""


def result_text(screen: Screen) -> str:
    return screen.find_by_css("[data-testid=run-result-value]").text


@pytest.mark.parametrize("pipeline_id", OFFLINE)
def test_the_tours_run_shows_the_result_at_once(screen: Screen, pipeline_id: str):
    screen.selenium.set_window_size(1400, 900)
    pipeline = next(p for p in sample_pipelines() if p.id == pipeline_id)
    screen.open(f"/pipelines/{pipeline_id}")
    wait_nodes(screen, len(pipeline.nodes))
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=toolbar-run]").click()  # the one click
    screen.wait_for(lambda: "Run succeeded" in screen.find_by_css("[data-testid=run-summary]").text)
    screen.wait_for(lambda: len(result_text(screen)) > 20)
    shown = result_text(screen)
    if pipeline_id == "review-triage":
        assert "language" in shown and "English" in shown and "sentiment" in shown
    else:
        assert "Text insights" in shown and "37 words" in shown
    panel = screen.find_by_css("[data-testid=run-result-value]")
    assert screen.selenium.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth + 1", panel)
    # a node clicked after the run shows what went in and what came out, in place
    first_model = next(n.id for n in pipeline.nodes if n.kind == "model")
    click_node(screen, first_model)
    screen.wait_for(lambda: f"Node {first_model}: succeeded" in screen.find_by_css("[data-testid=inspected-node]").text)
    heading = screen.find_by_css("[data-testid=inspected-node]")
    in_view = "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight"
    screen.wait_for(lambda: screen.selenium.execute_script(in_view, heading))  # below the result: scrolled to
    assert screen.find_by_css("[data-testid=node-inputs]").text and screen.find_by_css("[data-testid=node-output]").text
    screen.find_by_css("[data-testid=run-result-value-copy]").click()
    screen.should_contain("Output copied.")


@pytest.mark.parametrize("pipeline_id", [p.id for p in sample_pipelines()])
def test_every_sample_opens_without_overlapping_nodes(screen: Screen, pipeline_id: str):
    screen.selenium.set_window_size(1400, 900)
    pipeline = next(p for p in sample_pipelines() if p.id == pipeline_id)
    screen.open(f"/pipelines/{pipeline_id}")
    wait_nodes(screen, len(pipeline.nodes))
    screen.wait(0.5)  # fit-view settles
    boxes = screen.selenium.execute_script(BOXES)
    assert len(boxes) == len(pipeline.nodes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or \
                a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
            assert apart, f"{a['id']} and {b['id']} overlap: {json.dumps(a)} {json.dumps(b)}"


def test_counters_names_and_quiet_actions_update_as_the_user_edits(screen: Screen):
    from tests.browser.canvas_helpers import connect, make_pipeline, wait_edges
    from tests.browser.test_canvas_editing import two_node_pipeline

    make_pipeline(two_node_pipeline())
    screen.open("/pipelines/wiring")
    wait_nodes(screen, 2)
    counts = lambda: screen.find_by_css("[data-testid=counts]").text  # noqa: E731
    assert counts() == "2 nodes · 0 edges"
    connect(screen, "in", "text", "out", "in")
    wait_edges(screen, 1)
    screen.wait_for(lambda: counts() == "2 nodes · 1 edge")
    name = screen.selenium.find_element(By.XPATH, "//*[@data-testid='pipeline-name']/descendant-or-self::input")
    name.send_keys(" renamed")
    screen.find_by_css("[data-testid=save]").click()  # leaving the field renames
    screen.wait_for(lambda: screen.find_by_css("[data-testid=page-title]").text == "Wiring renamed")
    screen.find_by_css("[data-testid=export]").click()
    screen.should_contain("Exported wiring.json to your downloads.")


def test_a_run_refused_for_keys_names_every_key_and_marks_the_nodes(screen: Screen):
    screen.selenium.set_window_size(1400, 900)
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    screen.find_by_css("[data-testid=toolbar-run]").click()
    screen.wait_for(lambda: "Not run:" in screen.find_by_css("[data-testid=run-summary]").text)
    summary = screen.find_by_css("[data-testid=run-summary]").text
    assert "OPENAI_API_KEY" in summary and "ANTHROPIC_API_KEY" in summary and "Nothing was called" in summary
    marked = screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node .iom-node-problem")
    assert len(marked) >= 2 and all("needs the key" in m.text for m in marked)
    assert screen.find_by_css("[data-testid=set-keys-link]").get_attribute("href").endswith("/settings")


def test_after_a_run_a_capability_node_says_its_model_and_a_failed_node_its_reason(screen: Screen):
    """After a run a capability node showed only "done" (which model, and why, nowhere on the
    page), and a failed node "failed" with no reason."""
    from studio.spec.pipeline import CapabilityChoice, Node, Pipeline
    from tests.browser.canvas_helpers import make_pipeline

    make_pipeline(Pipeline(id="pick", name="Pick", nodes=[
        Node(id="in", kind="input", input_schema={"type": "object", "properties": {"text": {"type": "string"}}}),
        Node(id="cap", kind="capability", prompt="{{ text }}", choose=CapabilityChoice(capability="sentiment")),
        Node(id="bad", kind="transform", template="{{ (text | length) / 0 }}", policy={"on_error": "skip"}),
        Node(id="out", kind="output")],
        edges=[{"id": "e1", "source": "in", "sourcePort": "text", "target": "cap", "targetPort": "text"},
               {"id": "e2", "source": "cap", "sourcePort": "out", "target": "out", "targetPort": "label"},
               {"id": "e3", "source": "in", "sourcePort": "text", "target": "bad", "targetPort": "text"},
               {"id": "e4", "source": "bad", "sourcePort": "out", "target": "out", "targetPort": "bad"}],
        ui={"positions": {"in": {"x": 0, "y": 0}, "cap": {"x": 320, "y": 0}, "bad": {"x": 320, "y": 260},
                          "out": {"x": 640, "y": 0}}}))
    screen.open("/pipelines/pick")
    wait_nodes(screen, 4)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=toolbar-run]").click()
    text = screen.selenium.find_element(By.XPATH, "//label[.//div[text()='text']]//*[self::input or self::textarea]")
    text.send_keys("What a lovely, quiet room.")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=toolbar-run]").click()
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=node-chose]"))
    chose = screen.find_by_css("[data-testid=node-chose]").text
    assert chose.startswith("→ local/"), chose
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, '.vue-flow__node[data-id="bad"] [data-testid=node-run-detail]'))
    detail = screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__node[data-id="bad"] [data-testid=node-run-detail]')
    assert detail.text and detail.get_attribute("title")
