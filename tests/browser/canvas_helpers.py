"""Helpers for driving the pipeline canvas in real Chromium: find nodes, edges and ports by the
data attributes Vue Flow renders, and drag with real mouse events (ActionChains)."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from studio.core import Studio
from studio.spec.pipeline import Pipeline


def make_pipeline(pipeline: Pipeline) -> None:
    """Save a pipeline into this test's IOM_HOME before the page opens it."""
    Studio().pipelines.save(pipeline)


def node_ids(screen: Screen) -> list[str]:
    return [e.get_attribute("data-id") for e in screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node")]


def edge_count(screen: Screen) -> int:
    return len(screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__edge"))


def wait_nodes(screen: Screen, n: int) -> None:
    screen.wait_for(lambda: len(node_ids(screen)) == n)


def wait_edges(screen: Screen, n: int) -> None:
    screen.wait_for(lambda: edge_count(screen) == n)


def handle(screen: Screen, node_id: str, port: str, kind: str):
    """kind: 'source' (an output port) or 'target' (an input port)."""
    return screen.selenium.find_element(
        By.CSS_SELECTOR, f'.vue-flow__handle.{kind}[data-nodeid="{node_id}"][data-handleid="{port}"]')


def drag_between(screen: Screen, start, end) -> None:
    """Press on `start`, move in steps (Vue Flow needs pointer moves), release on `end`."""
    chain = ActionChains(screen.selenium, duration=50)
    chain.move_to_element(start).click_and_hold()
    chain.move_by_offset(10, 5)
    chain.move_to_element_with_offset(end, 2, 2)
    chain.move_to_element(end)
    chain.release().perform()
    screen.wait(0.3)


def connect(screen: Screen, source: str, source_port: str, target: str, target_port: str) -> None:
    in_sight(screen, handle(screen, source, source_port, "source"), handle(screen, target, target_port, "target"))
    drag_between(screen, handle(screen, source, source_port, "source"), handle(screen, target, target_port, "target"))


def open_palette(screen: Screen) -> None:
    """On a narrow window a pipeline opens with the palette folded: unfold it, as a person would."""
    folded = screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=palette-open]")
    if folded:
        folded[0].click()
        screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, ".iom-palette-search"))
        screen.wait(0.3)  # the pane re-fits to its new width


def drag_palette_item(screen: Screen, model_id: str, dx: int = 0, dy: int = 0, *, kind: str = "model") -> None:
    """Drag a palette item onto the pane, (dx, dy) from its centre: a model by id, or a basic
    kind (`kind="input"`, model_id "")."""
    open_palette(screen)
    selector = f'[data-model="{model_id}"]' if kind == "model" else f'[data-kind="{kind}"]'
    item = screen.selenium.find_element(By.CSS_SELECTOR, f".iom-palette-item{selector}")
    pane = screen.selenium.find_element(By.CSS_SELECTOR, ".iom-flow")
    chain = ActionChains(screen.selenium, duration=50)
    chain.move_to_element(item).click_and_hold().move_by_offset(30, 0)
    chain.move_to_element_with_offset(pane, dx, dy).release().perform()
    screen.wait(0.3)


IN_PANE = """const r = arguments[0].getBoundingClientRect(), f = document.querySelector('.iom-flow').getBoundingClientRect();
return r.left >= f.left && r.top >= f.top && r.right <= f.right && r.bottom <= f.bottom;"""


def in_sight(screen: Screen, *elements) -> None:
    """Zoom out with the toolbar, as a person would, until every element is inside the pane:
    the canvas opens at a readable zoom, so a wide pipeline does not all fit at 1280×720."""
    for _ in range(8):
        if all(screen.selenium.execute_script(IN_PANE, e) for e in elements):
            return
        screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=zoom-out]").click()
        screen.wait(0.35)


def node_head(screen: Screen, node_id: str):
    """A node's header, in sight."""
    head = screen.selenium.find_element(By.CSS_SELECTOR, f'.vue-flow__node[data-id="{node_id}"] .iom-node-head')
    in_sight(screen, head)
    return head


def click_node(screen: Screen, node_id: str) -> None:
    node_head(screen, node_id).click()
