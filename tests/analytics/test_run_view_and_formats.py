"""The drill-down's flow order and critical path, the bucket choice, and the page's one number format."""

from datetime import datetime, timedelta

import pytest

from studio.analytics import queries as q
from studio.analytics.run_view import critical_path, flow_order
from studio.ui import analytics_figures as figs
from studio import formats as fmt
from studio.ui.analytics_page import recent_row

T0 = datetime(2026, 1, 10, 10, 0, 0)


def node(node_id: str, start_ms: int, end_ms: int) -> dict:
    return {"node_id": node_id, "status": "succeeded",
            "started": T0 + timedelta(milliseconds=start_ms), "ended": T0 + timedelta(milliseconds=end_ms)}


def test_flow_order_follows_edges_not_the_recorded_order():
    edges = [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")]
    assert flow_order(["out", "b", "a", "in"], edges) == ["in", "b", "a", "out"]
    assert flow_order(["x", "in"], []) == ["x", "in"]


def test_critical_path_is_the_longest_dependent_chain():
    edges = [("in", "fast"), ("in", "slow"), ("fast", "out"), ("slow", "out")]
    nodes = [node("in", 0, 1), node("fast", 1, 20), node("slow", 1, 300), node("out", 300, 302)]
    assert critical_path(nodes, edges) == ["in", "slow", "out"]
    fig = figs.run_timeline(nodes, ["in", "slow", "out"])
    bar = fig["data"][0]
    colours = dict(zip(bar["y"], bar["marker"]["color"]))
    assert colours["slow"] != colours["fast"] and colours["in"] == colours["slow"]


def test_a_node_under_half_a_millisecond_is_not_drawn_before_its_source_ends():
    """A minimum bar width of 0.5 ms drew `in` (0.1 ms) as running past the start of `a`, which
    it feeds; the bars are their real length, and a node too short to see is a tick at its start."""
    def fast(node_id: str, start_us: int, end_us: int) -> dict:
        return {"node_id": node_id, "status": "succeeded",
                "started": T0 + timedelta(microseconds=start_us), "ended": T0 + timedelta(microseconds=end_us)}
    edges = [("in", "a"), ("a", "slow"), ("slow", "out")]
    nodes = [fast("in", 0, 100), fast("a", 100, 300), fast("slow", 300, 250_000), fast("out", 250_000, 250_050)]
    fig = figs.run_timeline(nodes, [])
    bar = fig["data"][0]
    spans = {y: (base, base + x) for y, base, x in zip(bar["y"], bar["base"], bar["x"])}
    for source, target in edges:
        assert spans[target][0] >= spans[source][1] - 1e-9, (source, target, spans)  # to the float
    assert spans["in"] == pytest.approx((0, 0.1)) and spans["a"] == pytest.approx((0.1, 0.3))
    ticks = fig["data"][1]
    assert ticks["type"] == "scatter" and dict(zip(ticks["y"], ticks["x"])) == pytest.approx({"out": 250, "a": 0.1, "in": 0})


def test_buckets_fit_the_range():
    now = datetime(2026, 1, 10, 12, 0)
    assert q.pick_bucket(q.Filters(since=now - timedelta(hours=1)), now) == "minute"
    assert q.pick_bucket(q.Filters(since=now - timedelta(hours=24)), now) == "hour"
    assert q.pick_bucket(q.Filters(since=now - timedelta(days=7)), now) == "day"
    assert q.pick_bucket(q.Filters(), now) == "day"


def test_one_number_format():
    assert fmt.latency(215.267202) == "215 ms" and fmt.latency(12_345) == "12.3 s" and fmt.latency(None) == "—"
    assert fmt.money(None) == "unpriced" and fmt.money(0) == "free" and fmt.money(0.5) == "$0.5000"
    assert fmt.money_total(None, 3) == "3 unpriced" and fmt.money_total(0.5, 2) == "$0.5000 + 2 unpriced"
    assert fmt.tokens(12345) == "12,345" and fmt.rate(0.125) == "12.5%"


def test_recent_row_shows_no_raw_python_values():
    error = {"id": 1, "time": T0, "model_id": "m/a", "pipeline_id": None, "status": "error", "error_class": "timeout",
             "latency_ms": 215.267202, "input_tokens": 10, "output_tokens": 0, "cost_usd": None}
    row = recent_row(error)
    assert row["cost"] == "—" and row["latency"] == "215 ms" and row["status"] == "error (timeout)"
    assert not any(v in ("True", "False") or "True" in str(v) for v in row.values())
    assert recent_row({**error, "status": "ok", "cost_usd": None})["cost"] == "unpriced"


def test_empty_charts_say_what_is_missing_instead_of_axes():
    unpriced = figs.cost([{"key": "m/a", "calls": 4, "cost_usd": None, "unpriced_calls": 4}], "Cost by model")
    assert unpriced["data"] == [] and "none priced" in unpriced["layout"]["annotations"][0]["text"]
    assert figs.tokens_per_second([])["layout"]["annotations"][0]["text"].startswith("No successful")
    free = figs.cost([{"key": "local/a", "calls": 6, "cost_usd": 0.0, "unpriced_calls": 0},
                      {"key": "m/b", "calls": 1, "cost_usd": None, "unpriced_calls": 1}], "Cost by model")
    assert free["data"] == [] and free["layout"]["annotations"][0]["text"] == \
        "6 calls, all free (1 more unpriced): no cost to draw."
    priced = figs.cost([{"key": datetime(2026, 12, 1).date(), "calls": 1, "cost_usd": 0.01, "unpriced_calls": 0}],
                       "Cost by day", by_day=True)
    assert priced["data"][0]["x"] == ["2026-12-01"] and priced["layout"]["xaxis"]["type"] == "category"
    assert priced["config"]["displayModeBar"] is False


def test_charts_by_model_read_their_names_across():
    """Upright bars set long model ids at an angle, cut them off and over the legend: the bars
    lie along the names, the margin fits the longest, and the figure grows with the models."""
    rows = [{"model_id": f"local/summarize-extractive-{i}", "p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0,
             "ttft_p50_ms": None} for i in range(12)]
    fig = figs.latency(rows)
    bars = fig["data"][0]
    assert bars["orientation"] == "h" and bars["y"][0] == "local/summarize-extractive-0"
    assert fig["layout"]["margin"]["l"] >= 7 * len("local/summarize-extractive-10")
    assert fig["layout"]["height"] > figs.latency(rows[:2])["layout"]["height"]
    assert figs.cost([{"key": "m/a", "calls": 1, "cost_usd": 0.5, "unpriced_calls": 0}], "Cost by model")["data"][0]["y"] == ["m/a"]


def test_a_real_runs_timeline_draws_each_node_as_long_as_it_took(tmp_path):
    """Node times were stored to the second: a node of 500 ms drew no bar, one across a second
    boundary a bar of 1000 ms. Run the offline sample for real, read it back as the page does."""
    import os
    import subprocess
    import sys

    import duckdb

    env = dict(os.environ, IOM_HOME=str(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    r = subprocess.run([sys.executable, "-m", "studio", "run", "review-triage", "--json", "--input",
                        '{"text": "The room was lovely but breakfast was cold."}'], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with duckdb.connect(str(tmp_path / "analytics.duckdb"), read_only=True) as db:
        run_id = db.execute("SELECT id FROM runs").fetchone()[0]
        run = q.get_run(db.cursor(), run_id)
    fig = figs.run_timeline(run["nodes"], [])
    bars = {node_id: (start, start + length)
            for node_id, start, length in zip(fig["data"][0]["y"], fig["data"][0]["base"], fig["data"][0]["x"])}
    for n in run["nodes"]:  # a node runs at least as long as its call took (it may also wait its turn)
        assert bars[n["node_id"]][1] - bars[n["node_id"]][0] >= (n["latency_ms"] or 0) - 1, (n, bars[n["node_id"]])
    assert max(end for _, end in bars.values()) <= run["wall_ms"] + 5  # and no bar runs past the run


def test_names_on_charts_are_text_not_plotly_markup():
    """Plotly reads <b> and <a href=…> in its labels: a variant so named was a working link."""
    from studio.eval.experiments import figure

    name = '<a href="https://example.com">x</a> & <b>y</b>'
    doc = {"variants": [{"variant": name, "quality": 0.5, "costPerRowUsd": 0.1, "pareto": True},
                        {"variant": "<b>free</b>", "quality": 0.4, "costPerRowUsd": None}]}
    fig = figure(doc)
    assert fig["data"][0]["text"] == ['&lt;a href="https://example.com"&gt;x&lt;/a&gt; &amp; &lt;b&gt;y&lt;/b&gt;']
    assert "<b>" not in fig["layout"]["annotations"][0]["text"]
