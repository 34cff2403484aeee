"""A simple layered auto-layout: each node goes one column right of its furthest upstream node;
nodes in a column keep their current vertical order. Enough to tidy a pipeline; no crossing
minimisation."""

from __future__ import annotations

from studio.spec.pipeline import Pipeline

COLUMN_GAP = 300
ROW_GAP = 170
NODE_GAP = 40  # space between stacked nodes
ORIGIN = (60, 60)


def layers(pipeline: Pipeline) -> dict[str, int]:
    """Longest-path layer of every node (cycles, which validation reports, are broken arbitrarily)."""
    ids = [n.id for n in pipeline.nodes]
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for e in pipeline.edges:
        if e.source in preds and e.target in preds and e.source != e.target:
            preds[e.target].append(e.source)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node_id: str) -> int:
        if node_id in layer:
            return layer[node_id]
        if node_id in visiting:  # a cycle: stop here
            return 0
        visiting.add(node_id)
        d = max((depth(p) + 1 for p in preds[node_id]), default=0)
        visiting.discard(node_id)
        layer[node_id] = d
        return d

    for i in ids:
        depth(i)
    return layer


def node_height(inputs: int, outputs: int) -> int:
    """The height a node takes on the canvas: a header, then one row per port (measured in
    Chromium: 35 px plus about 20.5 px a row; rounded up so estimates never overlap)."""
    return 40 + 21 * (inputs + outputs)


def auto_layout(pipeline: Pipeline, positions: dict[str, dict],
                heights: dict[str, int] | None = None) -> dict[str, dict]:
    """New positions {node_id: {"x", "y"}} for every node. With `heights` (canvas pixels),
    nodes in a column are stacked by their real heights; without, by ROW_GAP."""
    layer = layers(pipeline)
    columns: dict[int, list[str]] = {}
    for node_id, col in layer.items():
        columns.setdefault(col, []).append(node_id)
    size = (lambda i: heights.get(i, ROW_GAP - NODE_GAP) + NODE_GAP) if heights else (lambda i: ROW_GAP)
    extent = {col: sum(size(i) for i in members) for col, members in columns.items()}
    tallest = max(extent.values(), default=0)
    out: dict[str, dict] = {}
    for col, members in columns.items():
        members.sort(key=lambda i: (positions.get(i, {}).get("y", 0), i))
        y = ORIGIN[1] + (tallest - extent[col]) // 2  # columns centred on the tallest one
        for node_id in members:
            out[node_id] = {"x": ORIGIN[0] + col * COLUMN_GAP, "y": y}
            y += size(node_id)
    return out
