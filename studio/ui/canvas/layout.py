"""A simple layered auto-layout: each node goes one column right of its furthest upstream node;
nodes in a column keep their current vertical order. Enough to tidy a pipeline; no crossing
minimisation."""

from __future__ import annotations

from studio.spec.pipeline import Pipeline

COLUMN_GAP = 300
ROW_GAP = 170
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


def auto_layout(pipeline: Pipeline, positions: dict[str, dict]) -> dict[str, dict]:
    """New positions {node_id: {"x", "y"}} for every node."""
    layer = layers(pipeline)
    columns: dict[int, list[str]] = {}
    for node_id, col in layer.items():
        columns.setdefault(col, []).append(node_id)
    out: dict[str, dict] = {}
    for col, members in columns.items():
        members.sort(key=lambda i: (positions.get(i, {}).get("y", 0), i))
        for row, node_id in enumerate(members):
            out[node_id] = {"x": ORIGIN[0] + col * COLUMN_GAP, "y": ORIGIN[1] + row * ROW_GAP}
    return out
