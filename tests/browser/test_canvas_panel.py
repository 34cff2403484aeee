"""The side panel and the keyboard on the canvas, in real Chromium: a selected node's prompt
variables, policy edits that reach the saved pipeline, an edge's mapping, copy/paste, delete,
auto-layout, and autosave."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio.core import Studio
from tests.browser.canvas_helpers import click_node, edge_count, node_head, node_ids, open_palette, wait_edges, wait_nodes


def saved(pipeline_id: str):
    return Studio(seed_samples=False).pipelines.get(pipeline_id)


def field(screen: Screen, label: str):
    return screen.selenium.find_element(By.XPATH, f"//label[.//div[text()='{label}']]//*[self::input or self::textarea]")


def select_node(screen: Screen, node_id: str) -> None:
    click_node(screen, node_id)
    screen.wait(0.3)


def test_side_panel_edits_reach_the_saved_pipeline(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    select_node(screen, "improve")
    screen.should_contain("Variables: text")
    screen.should_contain("anthropic · $1 / $5 per Mtok")

    retries = field(screen, "Retries")
    retries.send_keys(Keys.CONTROL, "a")
    retries.send_keys("5")
    prompt = field(screen, "Prompt template")
    prompt.click()  # blur the retries field: it applies on leaving
    prompt.send_keys(Keys.CONTROL, "a")
    prompt.send_keys("Polish {{ text }} for {{ audience }}")
    field(screen, "Label").click()
    screen.should_contain("Variables: audience, text")
    # the new template variable became an input port on the node
    screen.wait_for(lambda: screen.selenium.find_elements(
        By.CSS_SELECTOR, '.vue-flow__handle.target[data-nodeid="improve"][data-handleid="audience"]'))

    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
    screen.wait_for(lambda: saved("content-enhancement").node("improve").policy.retries == 5)
    node = saved("content-enhancement").node("improve")
    assert node.prompt == "Polish {{ text }} for {{ audience }}"
    assert node.policy.fallback == ["openai/gpt-4o-mini"]  # untouched fields kept


def test_a_nodes_params_show_whole(screen: Screen):
    """The Params box showed `{"sentences": 2}` as its first line, `{`."""
    screen.open("/pipelines/review-triage")
    wait_nodes(screen, 7)
    select_node(screen, "summary")
    params = field(screen, "Params")
    assert params.get_attribute("value") == '{"sentences": 2}'
    assert screen.selenium.execute_script("return arguments[0].scrollHeight <= arguments[0].clientHeight + 1", params)


def test_copy_paste_delete_layout_and_autosave(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    select_node(screen, "draft")
    # keys go to the focused node (clicking it focused it) and bubble up to the canvas
    ActionChains(screen.selenium).key_down(Keys.CONTROL).send_keys("c").key_up(Keys.CONTROL).perform()
    ActionChains(screen.selenium).key_down(Keys.CONTROL).send_keys("v").key_up(Keys.CONTROL).perform()
    wait_nodes(screen, 6)
    assert "draft-2" in node_ids(screen)

    select_node(screen, "check")
    ActionChains(screen.selenium).send_keys(Keys.DELETE).perform()
    wait_nodes(screen, 5)
    wait_edges(screen, 3)  # the check node's two edges went with it

    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=layout]").click()
    # autosave (on by default) writes the edits without pressing Save
    screen.wait_for(lambda: {n.id for n in saved("content-enhancement").nodes} == {"in", "draft", "improve", "out", "draft-2"})
    p = saved("content-enhancement")
    assert len(p.edges) == 3 and set(p.ui["positions"]) == {n.id for n in p.nodes}
    # layers run left to right or top to bottom, whichever fits the pane better (layout.best_direction)
    at = p.ui["positions"]
    assert (at["in"]["x"] < at["draft"]["x"] < at["improve"]["x"]) or (at["in"]["y"] < at["draft"]["y"] < at["improve"]["y"]), at
    assert edge_count(screen) == 3


def test_edge_mapping_is_edited_in_the_panel(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    edge = screen.selenium.find_element(By.CSS_SELECTOR, '.vue-flow__edge[data-id="e2"]') \
        if screen.selenium.find_elements(By.CSS_SELECTOR, '.vue-flow__edge[data-id="e2"]') else None
    path = (edge or screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__edge")[1]).find_element(By.CSS_SELECTOR, "path.vue-flow__edge-interaction, path")
    ActionChains(screen.selenium).move_to_element(path).click().perform()
    screen.should_contain("draft.text → improve.text")
    mapping = field(screen, "Mapping (JSON Pointer or JMESPath)")
    mapping.send_keys("/text")
    field(screen, "Target field").click()
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
    screen.wait_for(lambda: next(e for e in saved("content-enhancement").edges if e.id == "e2").mapping == "/text")


def test_palette_search_by_capability_and_the_unsaved_changes_guard(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    screen.selenium.find_element(By.XPATH, "//div[contains(@class,'q-toggle')][.//div[text()='Autosave']]").click()  # autosave off
    open_palette(screen)
    search = screen.selenium.find_element(By.CSS_SELECTOR, ".iom-palette-search")
    search.send_keys("embedding")
    titles = lambda: [e.text.split("\n")[0] for e in screen.selenium.find_elements(By.CSS_SELECTOR, ".iom-palette-item")]  # noqa: E731
    screen.wait_for(lambda: titles() and all("embed" in t.lower() or "minilm" in t.lower() or "embedding" in t.lower() for t in titles()))
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("translate")
    screen.wait_for(lambda: "Any 'translate' model" in titles())
    assert "GPT-4o mini" in titles() and "Input" not in titles()

    item = screen.selenium.find_element(By.CSS_SELECTOR, '.iom-palette-item[data-capability="translate"]')
    pane = screen.selenium.find_element(By.CSS_SELECTOR, ".iom-flow")
    ActionChains(screen.selenium, duration=50).move_to_element(item).click_and_hold().move_by_offset(30, 0) \
        .move_to_element_with_offset(pane, -40, -80).release().perform()
    wait_nodes(screen, 6)
    assert "any-translate" in node_ids(screen)
    select_node(screen, "any-translate")
    screen.should_contain("Allowed security policies")
    assert field(screen, "Capability").get_attribute("value") == "translate"
    screen.should_contain("unsaved changes")
    # leaving now is guarded: the page cancels beforeunload while there are unsaved edits
    prevented = screen.selenium.execute_script(
        "const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented;")
    assert prevented is True
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
    screen.wait_for(lambda: screen.selenium.execute_script(
        "const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return !e.defaultPrevented;"))


def test_multi_select_with_control_click_and_delete_both(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    select_node(screen, "draft")
    check = node_head(screen, "check")
    ActionChains(screen.selenium).key_down(Keys.CONTROL).click(check).key_up(Keys.CONTROL).perform()
    screen.should_contain("2 nodes and 0 edges selected.")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=delete]").click()
    wait_nodes(screen, 3)
    assert set(node_ids(screen)) == {"in", "improve", "out"}
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=undo]").click()
    wait_nodes(screen, 5)
    wait_edges(screen, 5)


def test_undo_right_after_a_delete_and_of_a_rename(screen: Screen):
    """Ctrl+Z after Delete undid nothing (the deleted node had the focus, then the page's body);
    an undone rename left the new name in the name box and the titles, and leaving the box
    then renamed the pipeline again."""
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    select_node(screen, "check")
    ActionChains(screen.selenium).send_keys(Keys.DELETE).perform()
    wait_nodes(screen, 4)
    ActionChains(screen.selenium).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
    wait_nodes(screen, 5)
    assert "check" in node_ids(screen)

    name = screen.selenium.find_element(By.XPATH, "//*[@data-testid='pipeline-name']/descendant-or-self::input")
    original = name.get_attribute("value")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys("Renamed X")
    select_node(screen, "draft")  # leaving the box renames
    screen.wait_for(lambda: screen.selenium.title.startswith("Renamed X"))
    screen.click("undo")
    screen.wait_for(lambda: name.get_attribute("value") == original)
    assert screen.selenium.title.startswith(original)
    name.click()
    select_node(screen, "draft")  # in and out of the box, nothing typed: no rename
    screen.wait(0.5)
    assert name.get_attribute("value") == original and screen.selenium.title.startswith(original)


def test_an_emptied_timeout_or_retries_keeps_the_saved_one_and_says_so(screen: Screen):
    """Emptied, the timeout said "policy.timeout_s: Input should be a valid number" and stayed
    blank on screen while 60 s was kept; emptied retries became 0 without a word."""
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    select_node(screen, "improve")
    before = saved("content-enhancement").node("improve").policy
    for label, kept in (("Timeout (s)", f"{before.timeout_s:g}"), ("Retries", str(before.retries))):
        box = field(screen, label)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        field(screen, "Prompt template").click()  # leaving the field applies it
        screen.wait_for(lambda: box.get_attribute("value") == kept)
    screen.should_contain(f"A node needs a timeout; it stays {before.timeout_s:g} s.")
    screen.should_contain(f"A node needs a number of retries; it stays {before.retries}.")
    screen.should_not_contain("timeout_s")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
    screen.wait(1.0)
    assert saved("content-enhancement").node("improve").policy == before


def test_a_capability_nodes_every_strategy_and_its_minimum_quality_are_edited(screen: Screen):
    """A node with strategy "quality_per_dollar" (valid) crashed the inspector ("Something went
    wrong"), whose list lacked it; the minimum quality a run said to lower had no field."""
    from studio.spec.pipeline import CapabilityChoice, Node, Pipeline
    from tests.browser.canvas_helpers import make_pipeline

    make_pipeline(Pipeline(id="qpd", name="QPD", nodes=[
        Node(id="in", kind="input", input_schema={"type": "object", "properties": {"text": {"type": "string"}}}),
        Node(id="cap", kind="capability", prompt="{{ text }}",
             choose=CapabilityChoice(capability="sentiment", strategy="quality_per_dollar", min_quality=0.3)),
        Node(id="out", kind="output")], ui={"positions": {"in": {"x": 0, "y": 0}, "cap": {"x": 300, "y": 0},
                                                          "out": {"x": 600, "y": 0}}}))
    screen.open("/pipelines/qpd")
    wait_nodes(screen, 3)
    select_node(screen, "cap")
    screen.should_contain("quality_per_dollar")
    screen.should_not_contain("Something went wrong")
    quality = field(screen, "Min quality (0-1, measured)")
    assert quality.get_attribute("value") == "0.3"
    quality.send_keys(Keys.CONTROL, "a")
    quality.send_keys("0.5")
    field(screen, "Prompt template").click()
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=save]").click()
    screen.wait_for(lambda: saved("qpd").node("cap").choose.min_quality == 0.5)
    assert saved("qpd").node("cap").choose.strategy == "quality_per_dollar"
