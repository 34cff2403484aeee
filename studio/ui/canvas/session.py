"""The editing session behind one open canvas: the pipeline being edited, undo and redo, and
the view the browser draws. Pure Python, so every edit is unit-tested without a browser.

Every edit goes through `edit()`, which keeps a snapshot for undo. Node positions live in
`pipeline.ui["positions"]`, never in the execution spec.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator

from studio.registry.search import price_label
from studio.spec.model import HealthStatus, ModelSpec
from studio.spec.pipeline import Edge, Node, Pipeline
from studio.ui.canvas.layout import NODE_WIDTH, auto_layout, best_direction, free_spot, free_spot_near, node_height
from studio.engine.ports import check_connection, field_for, input_ports, output_ports, template_error

HISTORY_LIMIT = 200
CLIP_FORMAT = "iom.canvas-clip"  # what copy puts where another tab (another pipeline) can paste it

# palette kinds that are not registry models: (kind, label, what it does)
BASIC_KINDS = [
    ("input", "Input", "the pipeline's input fields"),
    ("output", "Output", "what the pipeline returns"),
    ("transform", "Transform", "reshape data with a template or JMESPath"),
    ("router", "Router", "send data down one branch by condition"),
    ("merge", "Merge", "join several inputs into one"),
    ("capability", "Capability", "any model with a capability, picked at run time"),
]


class EditSession:
    def __init__(self, pipeline: Pipeline, models: dict[str, ModelSpec], health: dict[str, HealthStatus] | None = None,
                 missing_keys: dict[str, str] | None = None):
        # its own copy: the registry hands every reader the same object, so edits made in place
        # showed on the Pipelines page and ran through the gateway before they were saved
        self.pipeline = pipeline.model_copy(deep=True)
        self.models = models
        self.health = health or {}
        self.missing_keys = missing_keys or {}  # model id -> the key it needs and nobody set
        self._undo: list[str] = []
        self._redo: list[str] = []
        self._place_unplaced()
        self.saved_json = self._snapshot()
        self.problems: dict[str, str] = {}  # node or edge id -> validation sentence

    def _place_unplaced(self) -> None:
        """A pipeline written by hand or by another tool may have no positions: lay those nodes
        out (only the canvas layout changes, never the execution spec)."""
        positions = self.pipeline.ui.get("positions") or {}
        if all(n.id in positions for n in self.pipeline.nodes):
            return
        laid = auto_layout(self.pipeline, positions, self.node_heights())  # spaced by real heights: no overlaps
        self.pipeline.ui["positions"] = {**laid, **{k: v for k, v in positions.items() if k in laid}}
        if positions:  # keep the ones that were placed; put the others below them
            bottom = max((v.get("y", 0) for v in positions.values()), default=0) + 200
            for n in self.pipeline.nodes:
                if n.id not in positions:
                    self.pipeline.ui["positions"][n.id] = {"x": laid[n.id]["x"], "y": laid[n.id]["y"] + bottom}

    # --- history -----------------------------------------------------------------------
    def _snapshot(self) -> str:
        return self.pipeline.model_dump_json(by_alias=True)

    def _restore(self, snap: str) -> None:
        self.pipeline = Pipeline.model_validate_json(snap)

    @contextmanager
    def edit(self) -> Iterator[Pipeline]:
        """Change `self.pipeline` inside the block; an exception leaves it as it was."""
        before = self._snapshot()
        try:
            yield self.pipeline
        except Exception:
            self._restore(before)
            raise
        if self._snapshot() != before:
            self._undo.append(before)
            del self._undo[:-HISTORY_LIMIT]
            self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def dirty(self) -> bool:
        return self._snapshot() != self.saved_json

    def mark_saved(self) -> None:
        self.saved_json = self._snapshot()

    # --- positions ---------------------------------------------------------------------
    @property
    def positions(self) -> dict[str, dict]:
        return self.pipeline.ui.setdefault("positions", {})

    def move(self, moved: dict[str, dict]) -> None:
        with self.edit():
            for node_id, pos in moved.items():
                if self.pipeline.node(node_id) is not None:
                    self.positions[node_id] = {"x": round(float(pos["x"])), "y": round(float(pos["y"]))}

    def layout(self, pane: dict | None = None) -> str:
        """Tidy the canvas; with the pane's size, in the direction that uses it best. Returns it."""
        heights = self.node_heights()
        direction = best_direction(self.pipeline, heights, pane)
        with self.edit():
            self.pipeline.ui["positions"] = auto_layout(self.pipeline, self.positions, heights, direction)
        return direction

    def node_heights(self) -> dict[str, int]:
        return {n.id: self._height(n) for n in self.pipeline.nodes}

    # --- nodes and edges ---------------------------------------------------------------
    def _new_id(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c in "-_" else "-" for c in base.lower()).strip("-") or "node"
        taken = {n.id for n in self.pipeline.nodes} | {e.id for e in self.pipeline.edges}
        if base not in taken:
            return base
        i = 2
        while f"{base}-{i}" in taken:
            i += 1
        return f"{base}-{i}"

    def add_node(self, item: dict, x: float, y: float) -> Node:
        """Add a node from a palette item ({"kind": ..., "model": registry id or None}) where it
        was dropped, or straight below the cards it would cover."""
        node = self._node_for(item)
        with self.edit():
            placed = self._boxes()
            self.pipeline.nodes.append(node)
            self.positions[node.id] = free_spot(placed, x, y, self._height(node))
        return node

    def add_node_in_view(self, item: dict, view: dict) -> Node:
        """Add a node from a palette item in the middle of `view` (the flow area the pane shows:
        {x, y, width, height}), or in the free space nearest to it, in sight when there is room."""
        node = self._node_for(item)
        view = _view(view)
        height = self._height(node)
        with self.edit():
            placed = self._boxes()
            self.pipeline.nodes.append(node)
            self.positions[node.id] = free_spot_near(placed, view["x"] + (view["width"] - NODE_WIDTH) / 2,
                                                     view["y"] + (view["height"] - height) / 2, NODE_WIDTH, height, view)
        return node

    def _node_for(self, item: dict) -> Node:
        kind = item.get("kind", "model")
        model_id = item.get("model")
        if kind == "model":
            spec = self.models.get(model_id or "")
            if spec is None:
                raise ValueError(f"there is no model {model_id!r} in the registry.")
            node = Node(id=self._new_id(model_id.split("/")[-1]), kind="model", label=spec.name, model=model_id,
                        params=dict(spec.default_params))
            if spec.model_type in ("llm", "vision"):
                node.prompt = "{{ text }}"
        elif kind == "input":
            node = Node(id=self._new_id("input"), kind="input", label="Input",
                        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
        elif kind == "capability":
            from studio.spec.pipeline import CapabilityChoice
            capability = item.get("capability") or "chat"
            node = Node(id=self._new_id(f"any-{capability}"), kind="capability", label=f"Any '{capability}' model",
                        choose=CapabilityChoice(capability=capability), prompt="{{ text }}")
        elif kind == "router":
            from studio.spec.pipeline import Route
            node = Node(id=self._new_id("router"), kind="router", label="Router",
                        routes=[Route(port="yes", when="text | length > 0"), Route(port="no")])
        elif kind == "transform":
            node = Node(id=self._new_id("transform"), kind="transform", label="Transform", template="{{ text }}")
        elif kind in ("output", "merge"):
            node = Node(id=self._new_id(kind), kind=kind, label=kind.title())
        else:
            raise ValueError(f"unknown node kind {kind!r}.")
        return node

    def _height(self, node: Node) -> int:
        return node_height(len(input_ports(node, self.models, self.pipeline)), len(output_ports(node, self.models)))

    def _boxes(self) -> dict[str, dict]:
        """Every placed node's box ({x, y, h}), for placing new ones beside rather than on top."""
        return {n.id: {**self.positions[n.id], "h": self._height(n)} for n in self.pipeline.nodes if n.id in self.positions}

    def connect(self, source: str, source_port: str, target: str, target_port: str) -> str | None:
        """Add an edge; returns None, or the sentence saying why it was refused."""
        target_port = field_for(self.pipeline, target, target_port, source_port)
        reason = check_connection(self.pipeline, self.models, source, source_port, target, target_port)
        if reason:
            return reason
        with self.edit():
            self.pipeline.edges.append(Edge(id=self._new_id(f"{source}-{target}"), source=source, source_port=source_port,
                                            target=target, target_port=target_port))
        return None

    def delete(self, node_ids: list[str], edge_ids: list[str]) -> None:
        nodes, edges = set(node_ids), set(edge_ids)
        with self.edit() as p:
            p.nodes = [n for n in p.nodes if n.id not in nodes]
            p.edges = [e for e in p.edges if e.id not in edges and e.source not in nodes and e.target not in nodes]
            for n in nodes:
                self.positions.pop(n, None)

    def paste(self, node_ids: list[str], offset: float = 40) -> list[str]:
        """Duplicate the given nodes and the edges among them, each `offset` from its original;
        returns the new ids (a clip of this pipeline, pasted into it)."""
        clip = self.clip(node_ids)
        return self.paste_clip(clip, offset=offset) if clip is not None else []

    def clip(self, node_ids: list[str]) -> Pipeline | None:
        """What copy carries: the chosen nodes as this pipeline holds them, the edges among them
        and their positions, as a small pipeline under this one's id (so it is checked for
        secrets, and read back, the way an exported pipeline is). None when none is chosen."""
        chosen = [n for n in self.pipeline.nodes if n.id in set(node_ids)]
        if not chosen:
            return None
        ids = {n.id for n in chosen}
        return Pipeline(id=self.pipeline.id, name=self.pipeline.name, nodes=[n.model_copy(deep=True) for n in chosen],
                        edges=[e.model_copy() for e in self.pipeline.edges if e.source in ids and e.target in ids],
                        ui={"positions": {i: dict(self.positions[i]) for i in ids if i in self.positions}})

    def paste_clip(self, clip: Pipeline, view: dict | None = None, offset: float = 40) -> list[str]:
        """Add a copied clip's nodes (from this pipeline or another) with fresh ids, and the edges
        among them; returns the new ids. Into the pipeline it came from, each lands `offset`
        from its original, as a paste of ids does; into another, the group keeps its shape and
        goes to the free space nearest the middle of `view`. A model node whose model is not in
        this registry is pasted all the same, and shown as unknown like any other."""
        if not clip.nodes:
            return []
        at = clip.ui.get("positions") or {}
        rel = {n.id: at.get(n.id) or {"x": 0, "y": 0} for n in clip.nodes}
        left, top = min(p["x"] for p in rel.values()), min(p["y"] for p in rel.values())
        mapping: dict[str, str] = {}
        with self.edit() as p:
            boxes = self._boxes()
            added = []
            for n in clip.nodes:
                new = n.model_copy(deep=True)
                new.id = self._new_id(n.id)
                mapping[n.id] = new.id
                p.nodes.append(new)
                added.append((n.id, new))
            heights = {new.id: self._height(new) for _, new in added}
            if clip.id == p.id or view is None:
                for old, new in added:
                    spot = free_spot(boxes, rel[old]["x"] + offset, rel[old]["y"] + offset, heights[new.id])
                    self.positions[new.id] = spot
                    boxes[new.id] = {**spot, "h": heights[new.id]}
            else:
                view = _view(view)
                width = max(rel[o]["x"] - left for o, _ in added) + NODE_WIDTH
                height = max(rel[o]["y"] - top + heights[new.id] for o, new in added)
                spot = free_spot_near(boxes, view["x"] + (view["width"] - width) / 2,
                                      view["y"] + (view["height"] - height) / 2, width, height, view)
                for old, new in added:
                    self.positions[new.id] = {"x": round(spot["x"] + rel[old]["x"] - left),
                                              "y": round(spot["y"] + rel[old]["y"] - top)}
            for e in clip.edges:
                if e.source in mapping and e.target in mapping:
                    p.edges.append(e.model_copy(update={"id": self._new_id(e.id), "source": mapping[e.source],
                                                        "target": mapping[e.target]}))
        return list(mapping.values())

    def update_node(self, node_id: str, changes: dict[str, Any]) -> None:
        """Apply field changes (python names, e.g. {"prompt": ..., "policy": {...}}) to one node."""
        i = self._index(self.pipeline.nodes, node_id, "node")
        with self.edit() as p:
            data = p.nodes[i].model_dump()
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "params" and key != "input_schema":
                    data[key] = {**data[key], **value}
                else:
                    data[key] = value
            p.nodes[i] = Node.model_validate(data)

    def update_edge(self, edge_id: str, changes: dict[str, Any]) -> None:
        i = self._index(self.pipeline.edges, edge_id, "edge")
        with self.edit() as p:
            p.edges[i] = Edge.model_validate({**p.edges[i].model_dump(), **changes})

    @staticmethod
    def _index(items: list, item_id: str, what: str) -> int:
        for i, item in enumerate(items):
            if item.id == item_id:
                return i
        raise ValueError(f"the {what} {item_id!r} is gone (deleted or undone); select another.")

    def rename(self, name: str) -> None:
        with self.edit() as p:
            p.name = name

    # --- what the browser draws ----------------------------------------------------------
    def node_view(self, node: Node) -> dict:
        spec = self.models.get(node.model or "")
        health = self.health.get(node.model or "")
        problem = self.problems.get(node.id)
        if node.kind == "model" and spec is None:
            problem = problem or f"unknown model {node.model!r}: pick one from the registry."
        problem = problem or template_error(node.prompt) or template_error(node.template)
        pos = self.positions.get(node.id, {"x": 0, "y": 0})
        return {
            "id": node.id,
            "kind": node.kind,
            "label": node.label or node.id,
            "model": node.model or (f"any '{node.choose.capability}' ({node.choose.strategy})" if node.choose else ""),
            "provider": spec.provider if spec else "",
            "price": price_label(spec) if spec else "",
            "health": health.state if health else ("" if spec is None else "unknown"),
            "inputs": [p.to_view() for p in input_ports(node, self.models, self.pipeline)],
            "outputs": [p.to_view() for p in output_ports(node, self.models)],
            "problem": problem or "",
            "needsKey": self.missing_keys.get(node.model or "", "") if node.kind == "model" else "",
            "x": pos.get("x", 0),
            "y": pos.get("y", 0),
        }

    def view(self) -> dict:
        return {
            "nodes": [self.node_view(n) for n in self.pipeline.nodes],
            "edges": [{"id": e.id, "source": e.source, "sourcePort": e.source_port, "target": e.target,
                       "targetPort": e.target_port, "mapped": bool(e.mapping or e.template),
                       "problem": self.problems.get(e.id, "")} for e in self.pipeline.edges],
        }


def _view(view: Any) -> dict:
    """The visible flow area the browser sent ({x, y, width, height}), as numbers."""
    try:
        return {k: float(view[k]) for k in ("x", "y", "width", "height")}
    except (KeyError, TypeError, ValueError):
        raise ValueError("the canvas did not say what it shows; reload the page and try again.") from None


def palette(models: list[ModelSpec], health: dict[str, HealthStatus],
            missing_keys: dict[str, str] | None = None) -> list[dict]:
    """Palette items the browser filters by name or capability; a model whose key is not set
    says so (and which key) before it is dropped on the canvas."""
    missing_keys = missing_keys or {}
    items = [{"kind": kind, "model": None, "title": title, "subtitle": what, "search": f"{kind} {title} {what}".lower()}
             for kind, title, what in BASIC_KINDS]
    capabilities = sorted({c for spec in models for c in spec.capabilities})
    items += [{"kind": "capability", "model": None, "capability": cap, "title": f"Any '{cap}' model",
               "subtitle": "picked at run time by policy", "search": f"capability {cap} any"} for cap in capabilities]
    for spec in sorted(models, key=lambda s: s.name.lower()):
        h = health.get(spec.id)
        items.append({
            "kind": "model", "model": spec.id, "title": spec.name, "subtitle": f"{spec.id} · {price_label(spec)}",
            "health": h.state if h else "unknown", "needsKey": missing_keys.get(spec.id, ""),
            "search": " ".join([spec.id, spec.name, spec.provider, spec.model_type, *spec.capabilities, *spec.tags]).lower(),
        })
    return items


def pipeline_json(doc: dict) -> str:
    """An exported pipeline (`Studio.share_pipeline`) as the downloaded file's text."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


__all__ = ["EditSession", "palette", "pipeline_json"]
