"""A 100-node pipeline on the canvas: how long it takes to open, how smoothly it pans, and how
long an engine status event takes to show on the canvas. Figures are printed (run with -s),
never asserted against a clock; the test asserts that every node was drawn and turned done.

Status events come from the real engine running the 100 transform nodes."""

from __future__ import annotations

import statistics
import time

from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from studio.spec.pipeline import Edge, Node, Pipeline
from studio.ui.canvas.layout import auto_layout
from tests.browser.canvas_helpers import make_pipeline, wait_nodes


def wide_pipeline(n: int = 100, width: int = 10) -> Pipeline:
    """input -> layers of `width` transforms, each fed by one node of the layer before -> output."""
    nodes = [Node(id="in", kind="input", input_schema={"type": "object", "properties": {"text": {"type": "string"}}})]
    edges: list[Edge] = []
    prev = ["in"]
    i = 0
    while len(nodes) < n - 1:
        layer = []
        for _ in range(min(width, n - 1 - len(nodes))):
            nid = f"t{i}"
            nodes.append(Node(id=nid, kind="transform", template="{{ text }}"))
            edges.append(Edge(id=f"e{i}", source=prev[i % len(prev)], target=nid))
            layer.append(nid)
            i += 1
        prev = layer
    nodes.append(Node(id="out", kind="output"))
    edges += [Edge(id=f"o{j}", source=src, target="out", target_port=f"f{j}", source_port="out") for j, src in enumerate(prev)]
    p = Pipeline(id="hundred", name="Hundred nodes", nodes=nodes, edges=edges)
    p.ui["positions"] = auto_layout(p, {})
    return p


PAN_SCRIPT = """
const done = arguments[arguments.length - 1];
const canvas = getElement(document.querySelector('.iom-canvas'));
const gaps = []; let last = performance.now(); let frames = 0;
function step(now) {
  gaps.push(now - last); last = now; canvas.panBy(-12, -4); frames += 1;
  if (frames < 90) requestAnimationFrame(step); else done(gaps.slice(1));
}
requestAnimationFrame(step);
"""


def test_hundred_nodes_open_pan_and_show_every_status(screen: Screen):
    make_pipeline(wide_pipeline())
    screen.open("/")
    from studio.ui.app import get_studio  # the app's own Studio (the page module is re-imported per test)
    engine = get_studio().engine
    handlers, node_events = [], []
    subscribe = engine.subscribe

    def spy(handler):  # find the run panel's handler, and count the node events the engine emits
        handlers.append(handler)
        return subscribe(handler)

    engine.subscribe = spy
    subscribe(lambda e: node_events.append(e) if e.get("type") == "node" else None)

    t0 = time.perf_counter()
    screen.open("/pipelines/hundred")
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node"))
    screen.find_by_css("[data-testid=fit]").click()  # it opens readable, at its start; Fit shows all 100
    wait_nodes(screen, 100)
    open_ms = (time.perf_counter() - t0) * 1000

    screen.selenium.set_script_timeout(20)
    gaps = screen.selenium.execute_async_script(PAN_SCRIPT)

    screen.selenium.find_element(By.XPATH, "//div[contains(@class,'q-tab ')][.//div[text()='Run']]").click()
    screen.wait(0.6)  # the tab panel slides in
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").click()
    done = lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '.iom-node-status[data-state="done"]'))  # noqa: E731
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=fit]").click()
    screen.wait_for(lambda: "Run succeeded" in screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run-summary]").text)
    screen.wait_for(lambda: done() == 100)

    panel = handlers[0].__self__
    lat = sorted(panel.latencies_ms)
    assert len(node_events) >= 300  # pending, running, succeeded for each of the 100 nodes
    assert len(lat) >= len(node_events)  # every event came back painted (plus the final record)
    print(f"\n100-node pipeline: opened in {open_ms:.0f} ms (page load to all nodes drawn)")
    print(f"pan: {len(gaps)} frames, mean {statistics.mean(gaps):.1f} ms/frame, "
          f"p95 {sorted(gaps)[int(len(gaps) * .95)]:.1f} ms, worst {max(gaps):.1f} ms")
    print(f"status event -> painted on canvas ({len(lat)} events): median {statistics.median(lat):.1f} ms, "
          f"p95 {lat[int(len(lat) * .95)]:.1f} ms, max {lat[-1]:.1f} ms; of which in the browser "
          f"(patch received -> painted): median {statistics.median(panel.browser_ms):.1f} ms over {len(panel.browser_ms)} patches")
