"""The pipeline canvas in real Chromium: drag a model in, connect ports, refuse a bad
connection with its reason, undo, save and reload."""

from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from studio.core import Studio
from studio.spec.pipeline import Node, Pipeline
from tests.browser.canvas_helpers import (connect, drag_between, drag_palette_item, edge_count, handle, make_pipeline, node_head,
                                          node_ids, wait_edges, wait_nodes)


def two_node_pipeline() -> Pipeline:
    return Pipeline(
        id="wiring", name="Wiring",
        nodes=[Node(id="in", kind="input", label="Brief", input_schema={
                   "type": "object", "properties": {"text": {"type": "string"}, "count": {"type": "number"}}}),
               Node(id="out", kind="output", label="Result")],
        ui={"positions": {"in": {"x": 0, "y": 0}, "out": {"x": 900, "y": 0}}},
    )


def saved(pipeline_id: str) -> Pipeline:
    return Studio(seed_samples=False).pipelines.get(pipeline_id)


def test_drag_connect_refuse_undo_save_and_reload(screen: Screen):
    make_pipeline(two_node_pipeline())
    screen.open("/pipelines/wiring")
    wait_nodes(screen, 2)

    # a model dragged from the palette lands on the canvas, showing its provider and price
    drag_palette_item(screen, "openai/gpt-4o-mini", dx=-40, dy=-120)
    wait_nodes(screen, 3)
    assert "gpt-4o-mini" in node_ids(screen)
    screen.should_contain("$0.15 / $0.6 per Mtok")

    # connect input.text (string) -> model.prompt (string) by dragging between the ports
    connect(screen, "in", "text", "gpt-4o-mini", "prompt")
    wait_edges(screen, 1)

    # number -> string is refused, with the reason shown
    connect(screen, "in", "count", "gpt-4o-mini", "system")
    screen.should_contain("number output 'count' cannot feed the string input 'system'")
    assert edge_count(screen) == 1

    # nothing may flow into an input node: dropped on its body, the reason is shown
    node_body = node_head(screen, "in")
    drag_between(screen, handle(screen, "gpt-4o-mini", "text", "source"), node_body)
    screen.should_contain("is an input node: it takes no incoming connection")
    assert edge_count(screen) == 1

    connect(screen, "gpt-4o-mini", "text", "out", "in")
    wait_edges(screen, 2)

    # undo takes the last connection away, redo brings it back
    screen.click("undo")
    wait_edges(screen, 1)
    screen.click("redo")
    wait_edges(screen, 2)

    screen.click("Save")
    screen.wait_for(lambda: len(saved("wiring").edges) == 2)
    p = saved("wiring")
    assert {(e.source, e.source_port, e.target, e.target_port) for e in p.edges} == {
        ("in", "text", "gpt-4o-mini", "prompt"), ("gpt-4o-mini", "text", "out", "text")}
    assert set(p.ui["positions"]) == {"in", "out", "gpt-4o-mini"}
    assert all("position" not in n.model_dump() for n in p.nodes)

    # reload: the same graph is drawn again
    screen.open("/pipelines/wiring")
    wait_nodes(screen, 3)
    wait_edges(screen, 2)
    assert set(node_ids(screen)) == {"in", "out", "gpt-4o-mini"}
