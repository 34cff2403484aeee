"""Engine events and node records become the canvas's status badges."""

from studio.spec.pipeline import Node, Pipeline
from studio.spec.records import NodeRun, RunRecord
from studio.ui.canvas.run_view import event_patch, event_text, record_patch

P = Pipeline(id="p", name="P", nodes=[Node(id="a", kind="model", model="openai/gpt-4o-mini"), Node(id="b", kind="transform")])


def test_node_events_in_either_spelling():
    assert event_patch({"type": "node", "nodeId": "a", "status": "running"}, P) == {"a": {"state": "running"}}
    assert event_patch({"node_id": "b", "status": "succeeded", "latency_ms": 12.5, "cost_usd": 0.0012}, P) == {
        "b": {"state": "done", "latencyMs": 12.5, "cost": "$0.0012"}}
    assert event_patch({"type": "text", "nodeId": "a", "text": "hi"}, P) == {}
    assert event_text({"type": "text", "nodeId": "a", "text": "hi"}) == "hi"


def test_a_node_answered_by_another_model_fell_back():
    ev = {"node": NodeRun(node_id="a", status="succeeded", model_id="anthropic/claude-haiku-4-5", reason="503 from openai")}
    assert event_patch(ev, P)["a"] == {"state": "fallback", "fellBackTo": "anthropic/claude-haiku-4-5",
                                       "detail": "503 from openai"}


def test_every_node_of_a_finished_record():
    rec = RunRecord(id="r", pipeline_id="p", nodes={
        "a": NodeRun(node_id="a", status="cached", model_id="openai/gpt-4o-mini", cost_usd=0.0),
        "b": NodeRun(node_id="b", status="failed", error="boom")})
    patch = record_patch(rec, P)
    assert patch["a"]["state"] == "cached" and patch["a"]["cost"] == "$0"
    assert patch["b"] == {"state": "failed", "detail": "boom"}


def test_a_node_that_used_its_default_and_a_capability_nodes_choice_are_said():
    """A node that failed and answered with its default showed a plain green "done", and a
    capability node never said which model it chose."""
    p = Pipeline(id="p", name="P", nodes=[Node(id="a", kind="model", model="openai/gpt-4o-mini"),
                                          Node(id="c", kind="capability", choose={"capability": "sentiment"})])
    rec = RunRecord(id="r", pipeline_id="p", nodes={
        "a": NodeRun(node_id="a", status="succeeded", error="HTTP 500", model_id="openai/gpt-4o-mini",
                     reason="used the node's default after: HTTP 500"),
        "c": NodeRun(node_id="c", status="succeeded", model_id="local/sentiment-vader",
                     reason="chosen by policy: cheapest of 1 model(s)")})
    patch = record_patch(rec, p)
    assert patch["a"]["state"] == "defaulted" and patch["a"]["detail"] == "used the node's default after: HTTP 500"
    assert patch["c"]["state"] == "done" and patch["c"]["chose"] == "local/sentiment-vader"
    assert patch["c"]["detail"] == "chosen by policy: cheapest of 1 model(s)"


def test_the_run_summary_counts_unpriced_calls_as_the_run_history_does():
    """The canvas said "$0.0000" of a run whose history said "+ 1 unpriced"."""
    from studio.ui.canvas.run_panel import RunPanel

    said = RunPanel.describe(None, {"status": "succeeded", "wallMs": 12, "costUsd": 0.00002, "unpricedCalls": 1}, False)
    assert said == "Run succeeded · 12 ms · $0.00002 + 1 unpriced"
    assert RunPanel.describe(None, {"status": "succeeded", "wallMs": 5, "costUsd": None, "unpricedCalls": 2}, False) \
        == "Run succeeded · 5 ms · 2 unpriced"
    assert RunPanel.describe(None, {"estimatedCostUsd": 0.0012}, True) == "Dry run · $0.0012 estimated"
