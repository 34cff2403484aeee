"""Typed ports, connection checks, the edit session (undo/redo, paste, delete) and the layout,
without a browser."""

from __future__ import annotations

import pytest

from studio.core import Studio
from studio.spec.pipeline import Edge, Node, Pipeline
from studio.ui.canvas.layout import NODE_WIDTH, auto_layout, best_direction, layers
from studio.engine.ports import check_connection, input_ports, output_ports, template_variables, types_fit
from studio.ui.canvas.session import EditSession, palette


@pytest.fixture
def studio() -> Studio:
    return Studio()


@pytest.fixture
def session(studio) -> EditSession:
    p = Pipeline(id="t", name="T", nodes=[
        Node(id="in", kind="input", input_schema={"type": "object", "properties": {
            "text": {"type": "string"}, "n": {"type": "number"}, "k": {"type": "integer"}}}),
        Node(id="out", kind="output"),
    ])
    return EditSession(p, {m.id: m for m in studio.models.all()})


def test_model_ports_come_from_its_schemas_and_template(session):
    node = session.add_node({"kind": "model", "model": "openai/gpt-4o-mini"}, 810, 20)
    ins = {p.name: p.type for p in input_ports(node, session.models, session.pipeline)}
    outs = {p.name: p.type for p in output_ports(node, session.models)}
    assert ins == {"in": "object", "messages": "array", "prompt": "string", "system": "string", "text": None}
    assert outs == {"out": "object", "text": "string", "finishReason": "string"}
    assert session.positions[node.id] == {"x": 810, "y": 20}  # a free spot: where it was dropped
    assert "position" not in node.model_dump()


def test_input_and_output_nodes_have_one_side_only(session):
    p = session.pipeline
    assert input_ports(p.node("in"), session.models, p) == []
    assert output_ports(p.node("out"), session.models) == []
    assert [x.name for x in output_ports(p.node("in"), session.models)] == ["out", "text", "n", "k"]


def test_types_fit_with_the_engine_coercions_only():
    assert types_fit("string", "string") and types_fit("integer", "number") and types_fit(None, "string")
    assert types_fit("string", "array") and types_fit("array", "string")
    assert not types_fit("number", "string") and not types_fit("object", "string") and not types_fit("boolean", "number")


def test_incompatible_connections_are_refused_with_a_reason(session):
    m = session.add_node({"kind": "model", "model": "openai/gpt-4o-mini"}, 300, 0)
    assert "number output 'n' cannot feed the string input 'system'" in session.connect("in", "n", m.id, "system")
    assert "is an input node" in session.connect(m.id, "text", "in", "in")
    assert "cannot feed itself" in session.connect(m.id, "text", m.id, "prompt")
    assert "no input port 'nope'" in session.connect("in", "text", m.id, "nope")
    assert session.pipeline.edges == []
    assert session.connect("in", "text", m.id, "prompt") is None
    assert "already connected" in session.connect("in", "text", m.id, "prompt")
    assert "already fed" in session.connect("in", "k", m.id, "prompt")
    assert session.connect(m.id, "text", "out", "in") is None
    assert session.pipeline.edges[-1].target_port == "text"  # a field dropped on an output's "in" becomes a field


def test_a_cycle_is_refused(session):
    a = session.add_node({"kind": "transform"}, 0, 0)
    b = session.add_node({"kind": "transform"}, 0, 0)
    assert session.connect(a.id, "out", b.id, "in") is None
    assert "cycle" in check_connection(session.pipeline, session.models, b.id, "out", a.id, "in")


def test_undo_redo_and_dirty(session):
    assert not session.dirty and not session.can_undo
    m = session.add_node({"kind": "model", "model": "openai/gpt-4o-mini"}, 0, 0)
    session.connect("in", "text", m.id, "prompt")
    assert len(session.pipeline.edges) == 1 and session.dirty
    assert session.undo() and session.pipeline.edges == []
    assert session.undo() and session.pipeline.node(m.id) is None
    assert not session.dirty and not session.undo()
    assert session.redo() and session.redo() and len(session.pipeline.edges) == 1
    session.mark_saved()
    assert not session.dirty


def test_a_failed_edit_changes_nothing(session):
    before = session.pipeline.model_dump()
    with pytest.raises(ValueError):
        session.add_node({"kind": "model", "model": "no/such-model"}, 0, 0)
    with pytest.raises(Exception):
        session.update_node("in", {"policy": {"retries": 99}})
    assert session.pipeline.model_dump() == before and not session.can_undo


def test_paste_copies_nodes_and_the_edges_between_them(session):
    a = session.add_node({"kind": "transform"}, 0, 0)
    b = session.add_node({"kind": "transform"}, 100, 0)
    session.connect(a.id, "out", b.id, "in")
    session.connect("in", "out", a.id, "in")
    new = session.paste([a.id, b.id])
    assert len(new) == 2 and not set(new) & {a.id, b.id}
    copied = [e for e in session.pipeline.edges if e.source in new]
    assert [(e.source, e.target) for e in copied] == [(new[0], new[1])]  # not the edge from outside
    assert session.positions[new[1]]["x"] == session.positions[b.id]["x"] + 40
    assert not overlapping(session)


def overlapping(session) -> list[tuple[str, str]]:
    """Pairs of node cards whose boxes intersect on the canvas."""
    boxes = session._boxes()
    ids = sorted(boxes)
    return [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]
            if boxes[a]["x"] < boxes[b]["x"] + NODE_WIDTH and boxes[b]["x"] < boxes[a]["x"] + NODE_WIDTH
            and boxes[a]["y"] < boxes[b]["y"] + boxes[b]["h"] and boxes[b]["y"] < boxes[a]["y"] + boxes[a]["h"]]


def test_nodes_dropped_on_others_go_beside_them_as_the_pipeline_grows(session):
    """A person dropping nodes anywhere, even all on one spot, gets a pipeline with no card on
    another; a drop on free space stays exactly where it was dropped."""
    at = session.positions["in"]
    for item in ({"kind": "transform"}, {"kind": "model", "model": "openai/gpt-4o-mini"}, {"kind": "router"},
                 {"kind": "merge"}, {"kind": "transform"}):
        node = session.add_node(item, at["x"] + 10, at["y"] + 10)
        assert session.positions[node.id]["x"] == at["x"] + 10  # moved down only, never sideways
        assert not overlapping(session), node.id
    session.paste([n.id for n in session.pipeline.nodes])
    assert not overlapping(session)
    free = session.add_node({"kind": "transform"}, 2000, 15)
    assert session.positions[free.id] == {"x": 2000, "y": 15}


def test_delete_removes_attached_edges_and_positions(session):
    m = session.add_node({"kind": "model", "model": "openai/gpt-4o-mini"}, 0, 0)
    session.connect("in", "text", m.id, "prompt")
    session.delete([m.id], [])
    assert session.pipeline.edges == [] and m.id not in session.positions


def test_update_node_policy_and_edge_mapping(session):
    m = session.add_node({"kind": "model", "model": "openai/gpt-4o-mini"}, 0, 0)
    session.update_node(m.id, {"policy": {"retries": 4, "fallback": ["anthropic/claude-haiku-4-5"]}, "prompt": "Hi {{ name }}"})
    node = session.pipeline.node(m.id)
    assert node.policy.retries == 4 and node.policy.timeout_s == 60.0 and node.policy.fallback == ["anthropic/claude-haiku-4-5"]
    assert "name" in {p.name for p in input_ports(node, session.models, session.pipeline)}
    session.connect("in", "out", m.id, "in")
    session.update_edge(session.pipeline.edges[0].id, {"mapping": "/text"})
    assert session.pipeline.edges[0].mapping == "/text"


def test_template_variables_and_a_broken_template_is_shown_on_the_node(session):
    assert template_variables("{{ a }} and {{ b | upper }} {% for x in c %}{{ x }}{% endfor %}") == ("a", "b", "c")
    t = session.add_node({"kind": "transform"}, 0, 0)
    session.update_node(t.id, {"template": "{{ unclosed"})
    assert "does not parse" in session.node_view(session.pipeline.node(t.id))["problem"]


def test_a_model_registered_without_an_output_schema_offers_the_fields_it_answers_with(session):
    """No outputSchema: its node had only "out", so its text could not be wired on; it offers
    what every answer of its kind carries (the engine runs such an edge: tests/engine)."""
    from studio.spec import ModelSpec
    bare = {"provider": "http", "endpoint": "http://127.0.0.1:9/x"}
    for spec in (ModelSpec(id="t/chat", name="chat", api="openai-chat", model="m", **bare),
                 ModelSpec(id="t/vec", name="vec", api="openai-embeddings", model="e", model_type="embedding", **bare),
                 ModelSpec(id="t/any", name="any", api="http", model_type="custom", **bare),
                 ModelSpec(id="t/hook", name="hook", api="http", model_type="custom", http={"output": "a.b", "outputField": "score"}, **bare)):
        session.models[spec.id] = spec
    ports = {m: {p.name: p.type for p in output_ports(session.add_node({"kind": "model", "model": m}, 0, 0), session.models)}
             for m in ("t/chat", "t/vec", "t/any", "t/hook")}
    assert ports == {"t/chat": {"out": "object", "text": "string"}, "t/vec": {"out": "object", "vectors": "array"},
                     "t/any": {"out": "object", "text": None}, "t/hook": {"out": "object", "score": None}}
    chat = [n.id for n in session.pipeline.nodes if n.model == "t/chat"][0]
    assert session.connect(chat, "text", "out", "in") is None
    assert session.node_view(session.pipeline.node(chat))["outputs"] == [{"name": "out", "type": "object"},
                                                                        {"name": "text", "type": "string"}]


def test_unknown_model_still_loads_and_is_marked(studio):
    p = Pipeline(id="x", name="X", nodes=[Node(id="m", kind="model", model="gone/model")])
    view = EditSession(p, {m.id: m for m in studio.models.all()}).view()
    assert "unknown model 'gone/model'" in view["nodes"][0]["problem"]


def test_palette_lists_basic_kinds_and_models_searchable_by_capability(studio):
    items = palette(studio.models.all(), {})
    kinds = {i["kind"] for i in items}
    assert {"input", "output", "transform", "router", "merge", "capability", "model"} <= kinds
    translators = [i["model"] for i in items if "translate" in i["search"].split()]
    assert "openai/gpt-4o-mini" in translators


def test_layout_puts_each_node_right_of_its_inputs():
    p = Pipeline(id="l", name="L", nodes=[Node(id=i, kind="transform") for i in "abcd"],
                 edges=[Edge(id="1", source="a", target="b"), Edge(id="2", source="b", target="d"),
                        Edge(id="3", source="a", target="c"), Edge(id="4", source="c", target="d")])
    assert layers(p) == {"a": 0, "b": 1, "c": 1, "d": 2}
    pos = auto_layout(p, {})
    assert pos["a"]["x"] < pos["b"]["x"] == pos["c"]["x"] < pos["d"]["x"] and pos["b"]["y"] != pos["c"]["y"]


def chain(n: int) -> Pipeline:
    ids = [f"n{i}" for i in range(n)]
    return Pipeline(id="chain", name="Chain", nodes=[Node(id=i, kind="transform") for i in ids],
                    edges=[Edge(id=f"e{k}", source=a, target=b) for k, (a, b) in enumerate(zip(ids, ids[1:]))])


def test_layout_direction_follows_the_pane():
    p = chain(5)
    heights = {n.id: 80 for n in p.nodes}
    assert best_direction(p, heights, {"width": 600, "height": 900}) == "TB"  # a long chain on a tall pane
    assert best_direction(p, heights, {"width": 1600, "height": 500}) == "LR"
    assert best_direction(p, heights, None) == "LR"  # no pane size: the usual left to right
    top_down = auto_layout(p, {}, heights, "TB")
    ys = [top_down[f"n{i}"]["y"] for i in range(5)]
    assert ys == sorted(ys) and len(set(ys)) == 5 and len({v["x"] for v in top_down.values()}) == 1
    assert all(b - a >= 80 for a, b in zip(ys, ys[1:]))  # no node box reaches the next


def test_a_layer_laid_top_to_bottom_puts_its_nodes_side_by_side():
    p = Pipeline(id="f", name="F", nodes=[Node(id=i, kind="transform") for i in "abc"],
                 edges=[Edge(id="1", source="a", target="b"), Edge(id="2", source="a", target="c")])
    pos = auto_layout(p, {}, {"a": 80, "b": 80, "c": 80}, "TB")
    assert pos["b"]["y"] == pos["c"]["y"] > pos["a"]["y"] and abs(pos["b"]["x"] - pos["c"]["x"]) >= 260


def test_a_capability_item_makes_a_modelless_node(session, studio):
    items = palette(studio.models.all(), {})
    item = next(i for i in items if i.get("capability") == "translate")
    node = session.add_node(item, 0, 0)
    assert node.kind == "capability" and node.choose.capability == "translate" and node.model is None
    assert "any 'translate'" in session.node_view(node)["model"]


def test_nodes_without_positions_are_laid_out_and_not_dirty(studio):
    p = Pipeline(id="h", name="H", nodes=[Node(id="a", kind="input"), Node(id="b", kind="transform"), Node(id="c", kind="output")],
                 edges=[Edge(id="1", source="a", target="b"), Edge(id="2", source="b", target="c")],
                 ui={"positions": {"a": {"x": 5, "y": 7}}})
    s = EditSession(p, {})
    pos = s.positions
    assert pos["a"] == {"x": 5, "y": 7} and set(pos) == {"a", "b", "c"}
    assert pos["b"]["x"] < pos["c"]["x"] and pos["b"]["y"] > 7
    assert not s.dirty and not s.can_undo


def test_capability_limits_are_merged_into_the_choice(session):
    node = session.add_node({"kind": "capability", "capability": "summarize"}, 0, 0)
    session.update_node(node.id, {"choose": {"max_latency_ms": 800, "require_healthy": True}})
    choose = session.pipeline.node(node.id).choose
    assert choose.capability == "summarize" and choose.max_latency_ms == 800 and choose.require_healthy
    assert choose.strategy == "balanced"


def test_editing_a_node_that_is_gone_says_so(session):
    with pytest.raises(ValueError, match="is gone"):
        session.update_node("nope", {"label": "x"})
    with pytest.raises(ValueError, match="is gone"):
        session.update_edge("nope", {"mapping": "/x"})


def test_every_sample_edge_lands_on_ports_the_canvas_draws(studio):
    from studio.registry.samples import sample_pipelines
    for p in sample_pipelines():
        for e in p.edges:
            outs = [x.name for x in output_ports(p.node(e.source), session_models(studio))]
            ins = [x.name for x in input_ports(p.node(e.target), session_models(studio), p)]
            assert e.source_port in outs and e.target_port in ins, (p.id, e.id)


def session_models(studio):
    return {m.id: m for m in studio.models.all()}


def test_models_whose_key_is_missing_are_marked_in_the_palette_and_on_nodes(studio):
    missing = {"openai/gpt-4o-mini": "OPENAI_API_KEY"}
    items = {i.get("model"): i for i in palette(studio.models.all(), {}, missing)}
    assert items["openai/gpt-4o-mini"]["needsKey"] == "OPENAI_API_KEY"
    assert items["local/sentiment-vader"]["needsKey"] == ""
    p = Pipeline(id="k", name="K", nodes=[Node(id="m", kind="model", model="openai/gpt-4o-mini"),
                                          Node(id="v", kind="model", model="local/sentiment-vader")])
    s = EditSession(p, {m.id: m for m in studio.models.all()}, {}, missing)
    assert s.node_view(p.node("m"))["needsKey"] == "OPENAI_API_KEY"
    assert s.node_view(p.node("v"))["needsKey"] == ""


def test_edge_data_is_what_the_engine_passed_along():
    from studio.ui.canvas.run_view import EDGE_PREVIEW_CHARS, edge_data

    p = Pipeline(id="e", name="E", nodes=[Node(id="a", kind="transform"), Node(id="b", kind="transform"),
                                          Node(id="c", kind="output")],
                 edges=[Edge(id="whole", source="a", target="b"), Edge(id="field", source="a", source_port="label", target="c"),
                        Edge(id="long", source="b", target="c", target_port="x"),
                        Edge(id="never", source="c", target="a")])
    record = {"nodes": {"a": {"output": {"label": "positive", "score": 0.9}}, "b": {"output": "x" * 1000}}}
    shown = edge_data(record, p)
    assert shown["whole"] == '{"label": "positive", "score": 0.9}'
    assert shown["field"] == "positive"
    assert len(shown["long"]) == EDGE_PREVIEW_CHARS + 1 and shown["long"].endswith("…")
    assert "never" not in shown  # the output node produced nothing to pass on


def test_unsaved_edits_stay_in_the_session(studio):
    """The session edited the registry's own object: with autosave off, an unsaved rename showed
    on the Pipelines page, and the gateway ran the draft."""
    stored = studio.pipelines.get("review-triage")
    session = EditSession(stored, session_models(studio))
    session.rename("Draft name")
    session.add_node({"kind": "transform"}, 0, 0)
    again = studio.pipelines.get("review-triage")
    assert again.name == stored.name != "Draft name" and len(again.nodes) == len(stored.nodes)


def test_a_big_pipeline_without_positions_opens_with_no_node_on_another(studio):
    """The first layout spaced rows by a fixed gap, not by the nodes' heights: 40 model nodes
    imported without positions opened on top of each other."""
    from studio.ui.canvas.layout import NODE_WIDTH

    nodes = [Node(id="in", kind="input", input_schema={"type": "object", "properties": {"text": {"type": "string"}}})]
    nodes += [Node(id=f"n{i}", kind="model", model="openai/gpt-4o-mini", prompt="{{ text }}") for i in range(40)]
    nodes.append(Node(id="out", kind="output"))
    edges = [{"id": f"e{i}", "source": "in", "sourcePort": "text", "target": f"n{i}", "targetPort": "text"} for i in range(40)]
    edges += [{"id": f"o{i}", "source": f"n{i}", "sourcePort": "text", "target": "out", "targetPort": f"t{i}"} for i in range(40)]
    session = EditSession(Pipeline(id="big", name="Big", nodes=nodes, edges=edges), session_models(studio))
    at, tall = session.positions, session.node_heights()
    boxes = [(at[n.id]["x"], at[n.id]["y"], NODE_WIDTH, tall[n.id]) for n in session.pipeline.nodes]
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]]
    assert overlaps == []


def test_a_clip_pastes_into_another_pipeline_with_fresh_ids_in_free_space_in_view(studio, session):
    """Copy carries definitions, not ids: pasted into another pipeline they get fresh ids, the
    edges among them (only those), keep their shape, and land in free space in the view."""
    models = {m.id: m for m in studio.models.all()}
    src = EditSession(Pipeline(id="src", name="Src", nodes=[
        Node(id="in", kind="input"),
        Node(id="out", kind="model", model="acme/not-registered", prompt="Hi {{ text }}", params={"sentences": 2}),
        Node(id="shout", kind="transform", template="{{ text | upper }}")],
        edges=[Edge(id="e1", source="in", target="out", target_port="text"),
               Edge(id="e2", source="out", source_port="text", target="shout", target_port="text")],
        ui={"positions": {"in": {"x": 0, "y": 0}, "out": {"x": 500, "y": 500}, "shout": {"x": 800, "y": 520}}}), models)
    clip = src.clip(["out", "shout", "not-there"])
    assert [n.id for n in clip.nodes] == ["out", "shout"] and [e.id for e in clip.edges] == ["e2"]

    view = {"x": -100, "y": -100, "width": 1400, "height": 900}
    new = session.paste_clip(clip, view)
    assert new == ["out-2", "shout"]  # "out" is taken in the target
    p = session.pipeline
    assert p.node("out-2").params == {"sentences": 2} and p.node("out-2").prompt == "Hi {{ text }}"
    assert p.node("shout").template == "{{ text | upper }}"
    assert [(e.source, e.source_port, e.target, e.target_port) for e in p.edges] == [("out-2", "text", "shout", "text")]
    at = session.positions
    assert (at["shout"]["x"] - at["out-2"]["x"], at["shout"]["y"] - at["out-2"]["y"]) == (300, 20)  # its shape kept
    assert all(view["x"] <= at[i]["x"] and at[i]["x"] + NODE_WIDTH <= view["x"] + view["width"] for i in new)
    assert not overlapping(session)
    # the unknown model is pasted all the same and said on its node, as for any node
    assert "unknown model 'acme/not-registered'" in session.node_view(p.node("out-2"))["problem"]
    assert session.undo() and [n.id for n in session.pipeline.nodes] == ["in", "out"]

    # into the pipeline it came from, as a paste of ids: 40 px from the original (below it if on it)
    again = src.paste_clip(src.clip(["shout"]), view)
    assert src.positions[again[0]]["x"] == 840 and not overlapping(src)


def test_a_node_added_in_view_goes_to_the_free_space_nearest_its_middle(session):
    """A column of cards under the middle of the view: the new node went straight below them
    all (free_spot), out of sight; now beside them, in the view."""
    for i in range(6):
        session.add_node({"kind": "transform"}, 0, i * 170)
    view = {"x": -200, "y": 100, "width": 900, "height": 500}
    node = session.add_node_in_view({"kind": "router"}, view)
    at = session.positions[node.id]
    assert view["x"] <= at["x"] and at["x"] + NODE_WIDTH <= view["x"] + view["width"]
    assert view["y"] <= at["y"] and at["y"] + session._height(node) <= view["y"] + view["height"]
    assert not overlapping(session)
    free = session.add_node_in_view({"kind": "merge"}, {"x": 3000, "y": 3000, "width": 800, "height": 600})
    assert session.positions[free.id] == {"x": 3000 + (800 - NODE_WIDTH) // 2, "y": 3000 + (600 - session._height(free)) // 2}
