"""The canvas a newcomer can read and drive, in real Chromium at 1280×720: every sample opens
with titles and port names readable, the palette and side panel fold away, models whose key
is missing say so before a run, a three-node pipeline is built with the mouse from an empty
canvas and run, and an edge shows on hover the data that went along it."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from studio.registry.samples import sample_pipelines
from studio.spec.pipeline import Pipeline
from tests.browser.canvas_helpers import connect, drag_palette_item, make_pipeline, node_ids, open_palette, wait_edges, wait_nodes
from tests.browser.helpers import by_testid, replace_text

SMALLEST_READABLE_PX = 9.0

ON_SCREEN_SIZES = """
const pane = document.querySelector('.vue-flow__transformationpane');
const zoom = new DOMMatrix(getComputedStyle(pane).transform).a;
const px = (sel) => [...document.querySelectorAll(sel)].map(e => parseFloat(getComputedStyle(e).fontSize) * zoom);
const flow = document.querySelector('.iom-flow').getBoundingClientRect();
const visible = [...document.querySelectorAll('.vue-flow__node')].filter(n => {
  const r = n.getBoundingClientRect();
  return r.left >= flow.left - 1 && r.top >= flow.top - 1 && r.right <= flow.right + 1 && r.bottom <= flow.bottom + 1; });
return {zoom, titles: px('.iom-node-label'), ports: px('.iom-port span'), visible: visible.length,
        whole: visible.map(n => n.getAttribute('data-id'))};
"""


@pytest.mark.parametrize("pipeline_id", [p.id for p in sample_pipelines()])
def test_every_sample_opens_readable_at_1280x720(screen: Screen, pipeline_id: str):
    screen.selenium.set_window_size(1280, 720)
    pipeline = next(p for p in sample_pipelines() if p.id == pipeline_id)
    screen.open(f"/pipelines/{pipeline_id}")
    wait_nodes(screen, len(pipeline.nodes))
    screen.wait(0.6)  # fit-view settles
    seen = screen.selenium.execute_script(ON_SCREEN_SIZES)
    assert seen["titles"] and seen["ports"]
    assert min(seen["titles"]) >= SMALLEST_READABLE_PX, seen
    assert min(seen["ports"]) >= SMALLEST_READABLE_PX, seen
    assert seen["visible"] >= 1, "the view opens on part of the pipeline, not on empty space"
    inputs = {n.id for n in pipeline.nodes if n.kind == "input"}
    assert inputs <= set(seen["whole"]), f"the view opens at the flow's start, its input nodes whole: {seen}"


def test_palette_and_side_panel_fold_away_for_a_wider_canvas(screen: Screen):
    screen.selenium.set_window_size(1280, 720)
    screen.open("/pipelines/review-triage")
    wait_nodes(screen, 7)
    width = lambda: screen.selenium.find_element(By.CSS_SELECTOR, ".iom-flow").size["width"]  # noqa: E731
    folded = width()  # on a narrow window the palette starts folded, so the nodes get the room
    by_testid(screen, "palette-open").click()
    screen.wait_for(lambda: width() < folded - 150)
    by_testid(screen, "palette-close").click()
    screen.wait_for(lambda: width() == folded)
    by_testid(screen, "toggle-side").click()
    screen.wait_for(lambda: width() > folded + 300)
    by_testid(screen, "toggle-side").click()
    screen.wait_for(lambda: by_testid(screen, "side-column").is_displayed())


def test_the_palette_search_placeholder_is_read_whole(screen: Screen):
    # "Search models or capabilitie": the placeholder was wider than the box at 1280 px
    screen.selenium.set_window_size(1280, 720)
    screen.open("/pipelines/review-triage")
    wait_nodes(screen, 7)
    open_palette(screen)
    need, room = screen.selenium.execute_script("""
        const box = document.querySelector('.iom-palette-search'), st = getComputedStyle(box);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = st.font;
        return [ctx.measureText(box.placeholder).width,
                box.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight)];""")
    assert need <= room, f"the placeholder needs {need:.0f} px in {room:.0f} px"


def test_an_empty_pipeline_opens_with_the_palette_out(screen: Screen):
    screen.selenium.set_window_size(1280, 720)
    make_pipeline(Pipeline(id="blank", name="Blank"))
    screen.open("/pipelines/blank")
    screen.wait_for(lambda: by_testid(screen, "palette").is_displayed())


def test_a_model_whose_key_is_missing_is_marked_in_the_palette_and_on_its_node(screen: Screen, memory_keyring):
    keyed = next(p for p in sample_pipelines() if p.id == "content-enhancement")
    model_node = next(n for n in keyed.nodes if n.kind == "model")
    screen.open(f"/pipelines/{keyed.id}")
    wait_nodes(screen, len(keyed.nodes))
    mark = screen.selenium.find_element(By.CSS_SELECTOR, f'.vue-flow__node[data-id="{model_node.id}"] .iom-node-key')
    assert mark.text.startswith("needs ") and mark.get_attribute("href").endswith("/settings")
    open_palette(screen)
    item = screen.selenium.find_element(By.CSS_SELECTOR, f'.iom-palette-item[data-model="{model_node.model}"]')
    assert "needs " in item.text and "set it" in item.text
    builtin = screen.selenium.find_element(By.CSS_SELECTOR, '.iom-palette-item[data-model="local/sentiment-vader"]')
    assert "needs" not in builtin.text


def test_a_newcomer_builds_and_runs_three_nodes_with_the_mouse(screen: Screen):
    """From an empty canvas at the zoom a user sees: drag input, model and output from the
    palette, connect their ports by dragging, run, read the result; hover an edge for its data."""
    screen.selenium.set_window_size(1280, 720)
    make_pipeline(Pipeline(id="scratch", name="Scratch"))
    screen.open("/pipelines/scratch")
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, ".iom-palette-item"))
    drag_palette_item(screen, "", dx=-250, dy=-200, kind="input")
    wait_nodes(screen, 1)
    drag_palette_item(screen, "local/sentiment-vader", dx=20, dy=-200)
    wait_nodes(screen, 2)
    drag_palette_item(screen, "", dx=-250, dy=-60, kind="output")
    wait_nodes(screen, 3)
    ids = node_ids(screen)
    assert set(ids) == {"input", "sentiment-vader", "output"}, ids
    connect(screen, "input", "text", "sentiment-vader", "text")
    wait_edges(screen, 1)
    connect(screen, "sentiment-vader", "label", "output", "in")
    wait_edges(screen, 2)
    by_testid(screen, "toolbar-run").click()
    replace_text(screen, "run-input-text", "What a wonderful, friendly studio.")
    by_testid(screen, "run").click()
    screen.wait_for(lambda: "Run succeeded" in by_testid(screen, "run-summary").text)
    screen.wait_for(lambda: "positive" in by_testid(screen, "run-result-value").text)
    # after the run each node shows its status and latency
    badges = screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__node[data-id="sentiment-vader"] .iom-node-status')
    assert "done" in badges.text and "ms" in badges.text
    # hovering the edge into the output shows the label that went along it
    edge = screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__edge")[-1]
    path = edge.find_element(By.CSS_SELECTOR, "path.vue-flow__edge-interaction, path")
    ActionChains(screen.selenium).move_to_element(path).move_by_offset(1, 0).perform()
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=edge-tip]"))
    tips = {by_testid(screen, "edge-tip").text}
    assert tips & {"positive", '"positive"'}, tips
