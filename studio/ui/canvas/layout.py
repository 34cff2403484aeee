"""A simple layered auto-layout: each node goes one layer after its furthest upstream node;
nodes in a layer keep their current order. Layers run left to right, or top to bottom when that
lets the pipeline fill the pane at a larger zoom (a long chain on a narrow pane). Enough to tidy
a pipeline; no crossing minimisation."""

from __future__ import annotations

from studio.spec.pipeline import Pipeline

COLUMN_GAP = 300
ROW_GAP = 170
NODE_GAP = 40  # space between stacked nodes
NODE_WIDTH = 260  # a node card's widest (canvas.css max-width)
LAYER_GAP = 70  # space between layers laid top to bottom
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
                heights: dict[str, int] | None = None, direction: str = "LR") -> dict[str, dict]:
    """New positions {node_id: {"x", "y"}} for every node. With `heights` (canvas pixels),
    nodes are spaced by their real heights; without, by ROW_GAP. `direction` is "LR" or "TB"."""
    columns = _layers_in_order(pipeline, positions, direction)
    size = (lambda i: heights.get(i, ROW_GAP - NODE_GAP) + NODE_GAP) if heights else (lambda i: ROW_GAP)
    out: dict[str, dict] = {}
    if direction == "TB":
        widest = max((len(m) for m in columns.values()), default=0)
        y = ORIGIN[1]
        for row in sorted(columns):
            members = columns[row]
            x = ORIGIN[0] + (widest - len(members)) * (NODE_WIDTH + NODE_GAP) // 2
            for node_id in members:
                out[node_id] = {"x": x, "y": y}
                x += NODE_WIDTH + NODE_GAP
            y += max(size(i) for i in members) - NODE_GAP + LAYER_GAP
        return out
    extent = {col: sum(size(i) for i in members) for col, members in columns.items()}
    tallest = max(extent.values(), default=0)
    for col, members in columns.items():
        y = ORIGIN[1] + (tallest - extent[col]) // 2  # columns centred on the tallest one
        for node_id in members:
            out[node_id] = {"x": ORIGIN[0] + col * COLUMN_GAP, "y": y}
            y += size(node_id)
    return out


def free_spot(boxes: dict[str, dict], x: float, y: float, height: int) -> dict:
    """Where a new node `height` tall goes when dropped at (x, y): there, or straight below the
    nodes it would cover, so a pipeline built by hand never stacks cards on top of each other.
    `boxes` is {node_id: {"x", "y", "h"}} of the nodes already placed."""
    x, y = round(x), round(y)
    for _ in range(len(boxes) + 1):  # each step moves below one box, so this many steps always end
        hit = next((b for b in boxes.values()
                    if x < b["x"] + NODE_WIDTH + NODE_GAP // 2 and b["x"] < x + NODE_WIDTH + NODE_GAP // 2
                    and y < b["y"] + b["h"] + NODE_GAP // 2 and b["y"] < y + height + NODE_GAP // 2), None)
        if hit is None:
            break
        y = hit["y"] + hit["h"] + NODE_GAP
    return {"x": x, "y": y}


def free_spot_near(boxes: dict[str, dict], x: float, y: float, width: float, height: float,
                   view: dict | None = None) -> dict:
    """The top-left nearest to (x, y) where something `width` × `height` covers no box, inside
    `view` ({x, y, width, height}, what the pane shows) when there is room: `free_spot` only
    moves down, and below a column of cards that was out of sight. Candidates are (x, y) and the
    places flush beside each box near the view; the last resort is below them all."""
    x, y, gap = round(x), round(y), NODE_GAP // 2

    def free(cx: float, cy: float) -> bool:
        return not any(cx < b["x"] + NODE_WIDTH + gap and b["x"] < cx + width + gap
                       and cy < b["y"] + b["h"] + gap and b["y"] < cy + height + gap for b in boxes.values())

    def inside(cx: float, cy: float) -> bool:
        return view is None or (view["x"] <= cx and cx + width <= view["x"] + view["width"]
                                and view["y"] <= cy and cy + height <= view["y"] + view["height"])

    near = list(boxes.values())
    if view is not None:  # only the boxes about the view give candidates worth trying
        near = [b for b in near if b["x"] < view["x"] + view["width"] + width and view["x"] - width < b["x"] + NODE_WIDTH
                and b["y"] < view["y"] + view["height"] + height and view["y"] - height < b["y"] + b["h"]]
    xs = {x} | {b["x"] + NODE_WIDTH + NODE_GAP for b in near} | {b["x"] - round(width) - NODE_GAP for b in near}
    ys = {y} | {b["y"] + b["h"] + NODE_GAP for b in near} | {b["y"] - round(height) - NODE_GAP for b in near}
    spots = sorted(((cx, cy) for cx in xs for cy in ys), key=lambda c: (c[0] - x) ** 2 + (c[1] - y) ** 2)
    for wanted in (inside, lambda cx, cy: True):
        for cx, cy in spots:
            if wanted(cx, cy) and free(cx, cy):
                return {"x": cx, "y": cy}
    return {"x": x, "y": max((b["y"] + b["h"] for b in boxes.values()), default=y) + NODE_GAP}


def _layers_in_order(pipeline: Pipeline, positions: dict[str, dict], direction: str) -> dict[int, list[str]]:
    across = "x" if direction == "TB" else "y"  # the order kept within a layer
    columns: dict[int, list[str]] = {}
    for node_id, col in layers(pipeline).items():
        columns.setdefault(col, []).append(node_id)
    for members in columns.values():
        members.sort(key=lambda i: (positions.get(i, {}).get(across, 0), i))
    return columns


def best_direction(pipeline: Pipeline, heights: dict[str, int], pane: dict | None) -> str:
    """"LR" or "TB": the one whose laid-out box fits `pane` ({width, height}) at the larger zoom."""
    if not pane or not pane.get("width") or not pane.get("height"):
        return "LR"

    def fit_zoom(direction: str) -> float:
        laid = auto_layout(pipeline, {}, heights, direction)
        if not laid:
            return 1.0
        width = max(p["x"] for p in laid.values()) - min(p["x"] for p in laid.values()) + NODE_WIDTH
        height = max(p["y"] + heights.get(i, ROW_GAP) for i, p in laid.items()) - min(p["y"] for p in laid.values())
        return min(pane["width"] / width, pane["height"] / height)

    return "TB" if fit_zoom("TB") > fit_zoom("LR") * 1.1 else "LR"
