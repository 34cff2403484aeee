"""Adding from the palette by double-click, and copy/paste between pipelines, in real Chromium."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio.core import Studio
from studio.spec.pipeline import Edge, Node, Pipeline
from tests.browser.canvas_helpers import click_node, make_pipeline, node_ids, open_palette, wait_edges, wait_nodes

RECT = "const r = arguments[0].getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom};"


def rect(screen: Screen, element) -> dict:
    return screen.selenium.execute_script(RECT, element)


def node_rects(screen: Screen) -> dict[str, dict]:
    return {e.get_attribute("data-id"): rect(screen, e) for e in screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node")}


def node_element(screen: Screen, node_id: str):
    return screen.selenium.find_element(By.CSS_SELECTOR, f'.vue-flow__node[data-id="{node_id}"]')


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def keys(screen: Screen, key: str) -> None:
    ActionChains(screen.selenium).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()


def toolbar_button(screen: Screen, icon: str):
    return screen.selenium.find_element(By.XPATH, f"//button[.//i[text()='{icon}']]")


def saved(pipeline_id: str) -> Pipeline:
    return Studio(seed_samples=False).pipelines.get(pipeline_id)


def test_a_double_clicked_palette_item_lands_in_sight_in_free_space_and_selected(screen: Screen):
    """A column of cards under the middle of the pane: the new node went straight below all of
    them, out of sight (and unselected, so not to be found among the others)."""
    make_pipeline(Pipeline(id="stack", name="Stack",
                           nodes=[Node(id=f"t{i}", kind="transform", template="{{ text }}") for i in range(6)],
                           ui={"positions": {f"t{i}": {"x": 0, "y": i * 170} for i in range(6)}}))
    screen.open("/pipelines/stack")
    wait_nodes(screen, 6)
    open_palette(screen)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=zoom-in]").click()  # a person zooms in
    screen.wait(0.3)
    pane = screen.selenium.find_element(By.CSS_SELECTOR, ".iom-flow")
    box, column = rect(screen, pane), rect(screen, node_element(screen, "t2"))
    # ... and drags the pane (from empty space right of the column) until the column is in the middle
    dx = round((box["left"] + box["right"]) / 2 - (column["left"] + column["right"]) / 2)
    chain = ActionChains(screen.selenium, duration=50)
    chain.move_to_element_with_offset(pane, 150, 0).click_and_hold().move_by_offset(dx // 2, 0).move_by_offset(dx - dx // 2, 0)
    chain.release().perform()
    screen.wait(0.5)
    middle = ((box["left"] + box["right"]) / 2, (box["top"] + box["bottom"]) / 2)
    assert any(r["left"] < middle[0] < r["right"] for r in node_rects(screen).values())  # cards under the middle

    item = screen.selenium.find_element(By.CSS_SELECTOR, '.iom-palette-item[data-kind="transform"]')
    ActionChains(screen.selenium).double_click(item).perform()
    wait_nodes(screen, 7)
    screen.wait(0.3)
    rects = node_rects(screen)
    new = rects.pop("transform")
    assert box["left"] <= new["left"] and new["right"] <= box["right"] and box["top"] <= new["top"] \
        and new["bottom"] <= box["bottom"], (new, box)
    assert not [i for i, r in rects.items() if overlap(new, r)]
    # near the middle: it is the free space nearest to it (within a card's width)
    assert abs((new["left"] + new["right"]) / 2 - middle[0]) < 400 and abs((new["top"] + new["bottom"]) / 2 - middle[1]) < 250
    assert "selected" in node_element(screen, "transform").get_attribute("class").split()
    screen.should_contain("transform node · transform")


def source_pipeline() -> Pipeline:
    return Pipeline(
        id="source", name="Source",
        nodes=[Node(id="in", kind="input", input_schema={"type": "object", "properties": {"text": {"type": "string"}}}),
               Node(id="summary", kind="model", label="Gone model", model="acme/not-registered",
                    prompt="Summarise {{ text }}", params={"sentences": 2}),
               Node(id="transform", kind="transform", label="Shout", template="{{ text | upper }}")],
        edges=[Edge(id="e1", source="in", source_port="text", target="summary", target_port="text"),
               Edge(id="e2", source="summary", source_port="text", target="transform", target_port="text")],
        ui={"positions": {"in": {"x": 0, "y": 0}, "summary": {"x": 300, "y": 0}, "transform": {"x": 600, "y": 0}}},
    )


def test_nodes_copied_in_one_pipeline_paste_into_another_in_another_tab(screen: Screen):
    make_pipeline(source_pipeline())
    make_pipeline(Pipeline(id="target", name="Target",
                           nodes=[Node(id="transform", kind="transform", template="{{ text }}"), Node(id="out", kind="output")],
                           edges=[Edge(id="e1", source="transform", target="out")],
                           ui={"positions": {"transform": {"x": 0, "y": 0}, "out": {"x": 300, "y": 0}}}))
    screen.open("/pipelines/source")
    wait_nodes(screen, 3)
    click_node(screen, "summary")
    ActionChains(screen.selenium).key_down(Keys.CONTROL).click(
        node_element(screen, "transform").find_element(By.CSS_SELECTOR, ".iom-node-head")).key_up(Keys.CONTROL).perform()
    screen.wait(0.3)
    keys(screen, "c")
    screen.wait_for(lambda: screen.selenium.execute_script("return localStorage.getItem('iom.canvas-clip')"))
    first = screen.selenium.current_window_handle

    screen.selenium.switch_to.new_window("tab")  # another tab of the same browser, another pipeline
    try:
        screen.open("/pipelines/target")
        wait_nodes(screen, 2)
        screen.selenium.find_element(By.CSS_SELECTOR, ".iom-flow").click()
        keys(screen, "v")
        wait_nodes(screen, 4)
        wait_edges(screen, 2)  # the edge between the two copied nodes came along; not the one from 'in'
        ids = node_ids(screen)
        assert set(ids) == {"transform", "out", "summary", "transform-2"}  # fresh ids beside the target's own
        # the model this registry does not hold is pasted all the same, and said as for any node
        screen.should_contain("unknown model 'acme/not-registered'")
        assert all("selected" in node_element(screen, i).get_attribute("class").split() for i in ("summary", "transform-2"))
        rects = node_rects(screen)
        assert not overlap(rects["summary"], rects["transform"]) and not overlap(rects["transform-2"], rects["out"])

        screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
        screen.wait_for(lambda: len(saved("target").nodes) == 4)
        p = saved("target")
        assert p.node("summary").params == {"sentences": 2} and p.node("summary").prompt == "Summarise {{ text }}"
        assert p.node("transform-2").template == "{{ text | upper }}"
        assert {(e.source, e.target) for e in p.edges} == {("transform", "out"), ("summary", "transform-2")}
        at = p.ui["positions"]
        assert at["transform-2"]["x"] - at["summary"]["x"] == 300 and at["transform-2"]["y"] == at["summary"]["y"]
    finally:
        screen.selenium.close()
        screen.selenium.switch_to.window(first)
    assert len(saved("source").nodes) == 3  # the source is as it was


def test_copy_and_paste_in_one_pipeline_and_a_secret_is_never_copied(screen: Screen):
    make_pipeline(source_pipeline())
    screen.open("/pipelines/source")
    wait_nodes(screen, 3)
    click_node(screen, "transform")
    screen.wait(0.3)
    toolbar_button(screen, "content_copy").click()
    toolbar_button(screen, "content_paste").click()
    wait_nodes(screen, 4)
    assert "transform-2" in node_ids(screen)

    # a key typed into a node's params stays out of the browser's storage
    screen.selenium.execute_script("localStorage.removeItem('iom.canvas-clip')")
    click_node(screen, "summary")
    screen.should_contain("model node · summary")
    screen.wait(0.5)  # the side panel is rebuilt for the selection
    params = screen.selenium.find_element(By.XPATH, "//label[.//div[text()='Params']]//textarea")
    params.send_keys(Keys.CONTROL, "a")
    params.send_keys('{"api_key": "sk-proj-abcdefghijklmnopqrstuvwx"}')
    click_node(screen, "summary")  # leaving the field applies it
    screen.wait(0.3)
    keys(screen, "c")
    screen.should_contain("Not copied: pipeline source holds what looks like an API key in node 'summary', field 'params.api_key'")
    assert screen.selenium.execute_script("return localStorage.getItem('iom.canvas-clip')") is None
