"""Plain-dict Plotly figures for the analytics page (no plotly import: NiceGUI renders dicts).

Each figure answers the question in its title; when it cannot, it says what is missing instead
of drawing empty axes. The mode bar is hidden (it covered the titles) and the colours are
transparent and neutral, so one figure reads on NiceGUI's light and dark themes. Hover texts
come from `studio.formats`, the page's one number format."""

from __future__ import annotations

from typing import Any

from studio import formats as fmt

_GRID = "rgba(128,128,128,0.25)"
_AXIS = {"gridcolor": _GRID, "zerolinecolor": _GRID}  # no automargin: it can loop redraws
_LAYOUT = {
    "margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "height": 300,
    "legend": {"orientation": "h", "y": -0.2},
    "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"color": "#8a8f98"}, "xaxis": _AXIS, "yaxis": _AXIS,
}
CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
_TICKS = {"minute": "%H:%M", "hour": "%H:%M<br>%b %d", "day": "%b %d"}


def _figure(title: str, data: list[dict], empty: str | None = None, **layout: Any) -> dict:
    """A figure, or (when `empty` says why there is nothing to draw) a message and no axes."""
    base = {**_LAYOUT, "title": {"text": title, "font": {"size": 14}, "x": 0.01}}
    for axis in ("xaxis", "yaxis"):
        base[axis] = {**_AXIS, **layout.pop(axis, {})}
    if empty:
        base["xaxis"] = base["yaxis"] = {"visible": False}
        base["annotations"] = [{"text": empty, "showarrow": False, "xref": "paper", "yref": "paper",
                                "x": 0.5, "y": 0.5, "font": {"size": 13}}]
        data = []
    return {"data": data, "layout": {**base, **layout}, "config": CONFIG}


def over_time(rows: list[dict], bucket: str = "day") -> dict:
    x = [r["bucket"].isoformat() if hasattr(r["bucket"], "isoformat") else str(r["bucket"]) for r in rows]
    per = {"minute": "minute", "hour": "hour", "day": "day"}.get(bucket, bucket)
    return _figure(f"Calls and errors per {per}", [
        {"type": "bar", "name": "ok", "x": x, "y": [r["calls"] - r["errors"] for r in rows],
         "marker": {"color": "#4caf50"}, "hovertemplate": "%{x}: %{y:,} ok<extra></extra>"},
        {"type": "bar", "name": "errors", "x": x, "y": [r["errors"] for r in rows],
         "marker": {"color": "#e53935"}, "hovertemplate": "%{x}: %{y:,} errors<extra></extra>"},
    ], None if rows else "No calls in this range.", barmode="stack",
        xaxis={"type": "date", "tickformat": _TICKS.get(bucket, "%b %d")})


def _by_name(names: list[str], per_name: int = 22) -> dict:
    """Layout for bars along a list of names (model ids, pipelines): the names read across on
    the left, first at the top, and the figure grows with them. Upright bars set the ids at an
    angle, cut them off and ran them over the legend. The left margin is worked out from the
    longest name, since Plotly's automargin can loop redraws."""
    longest = max((len(n) for n in names), default=0)
    return {"height": max(220, 110 + per_name * len(names)),
            "margin": {**_LAYOUT["margin"], "l": min(260, 20 + 7 * longest)},
            "yaxis": {"type": "category", "autorange": "reversed"}, "legend": {"orientation": "h", "y": -0.18}}


def latency(rows: list[dict]) -> dict:
    names = [r["model_id"] for r in rows]
    series = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("TTFT p50", "ttft_p50_ms"))
    shape = _by_name(names, per_name=44)
    return _figure("How long does each model take? (latency)", [
        {"type": "bar", "orientation": "h", "name": name, "y": names, "x": [r[key] for r in rows],
         "customdata": [fmt.latency(r[key]) for r in rows], "hovertemplate": f"%{{y}} {name}: %{{customdata}}<extra></extra>"}
        for name, key in series
    ], None if rows else "No call detail in this range (retention may have rolled it up).",
        barmode="group", xaxis={"ticksuffix": " ms", "rangemode": "tozero"}, **shape)


def tokens_per_second(rows: list[dict]) -> dict:
    names = [r["model_id"] for r in rows]
    return _figure("How fast does each model write? (output tokens/s)", [
        {"type": "bar", "orientation": "h", "name": "tokens/s", "y": names, "x": [r["tokens_per_s"] for r in rows],
         "customdata": [fmt.per_second(r["tokens_per_s"]) for r in rows],
         "hovertemplate": "%{y}: %{customdata}<extra></extra>"}],
        None if rows else "No successful, non-cached calls that reported output tokens in this range.",
        showlegend=False, **_by_name(names))


def errors(rows: list[dict]) -> dict:
    return _figure("Which errors happen? (errors by class)", [
        {"type": "bar", "name": "errors", "x": [r["error_class"] for r in rows], "y": [r["errors"] for r in rows],
         "customdata": [f"{fmt.tokens(r['errors'])} errors, {fmt.rate(r['rate'])} of calls" for r in rows],
         "hovertemplate": "%{x}: %{customdata}<extra></extra>", "marker": {"color": "#e53935"}}],
        None if rows else "No errors in this range.")


def cost(rows: list[dict], title: str, *, by_day: bool = False) -> dict:
    """Priced cost as bars; unpriced calls in the hover text, never as $0. With no priced call
    the figure says so (and how to fix it) instead of drawing axes from −1 to 1."""
    priced = [r for r in rows if r["cost_usd"] is not None]
    unpriced = sum(int(r["unpriced_calls"] or 0) for r in rows)
    if not rows:
        empty = "No calls in this range."
    elif not priced:
        # unpriced: a model without prices, or a call that failed after it was sent (its cost unknown)
        empty = (f"{unpriced:,} calls, none priced: calls that failed after they were sent have no known cost, "
                 "and a model without prices needs them set in the Registry to show its cost.")
    elif not any(r["cost_usd"] for r in priced):  # built-in and local models: free, nothing to draw
        calls = sum(int(r.get("calls") or 0) for r in rows) - unpriced
        empty = (f"{calls:,} calls, all free" if calls else "All calls free") + \
            (f" ({unpriced:,} more unpriced)" if unpriced else "") + ": no cost to draw."
    else:
        empty = None
    keys = [_key(r["key"], by_day) for r in rows]
    money = [fmt.money_total(r["cost_usd"], r["unpriced_calls"]) for r in rows]
    if by_day:
        return _figure(title, [{
            "type": "bar", "name": "USD", "x": keys, "y": [r["cost_usd"] for r in rows], "customdata": money,
            "hovertemplate": "%{x}: %{customdata}<extra></extra>",
        }], empty, xaxis={"type": "category"}, yaxis={"tickprefix": "$", "rangemode": "tozero"})
    shape = _by_name(keys)
    return _figure(title, [{
        "type": "bar", "orientation": "h", "name": "USD", "y": keys, "x": [r["cost_usd"] for r in rows],
        "customdata": money, "hovertemplate": "%{y}: %{customdata}<extra></extra>",
    }], empty, xaxis={"tickprefix": "$", "rangemode": "tozero"}, showlegend=False, **shape)


def _key(key: Any, by_day: bool) -> str:
    if key is None:
        return "(none)"
    if by_day and hasattr(key, "strftime"):
        return key.strftime("%Y-%m-%d")
    return str(key)


def run_timeline(nodes: list[dict], critical: list[str]) -> dict:
    """Which node ran when, the critical path in a strong colour (like a trace view)."""
    timed = [n for n in nodes if n.get("started") is not None and n.get("ended") is not None]
    if not timed:
        return _figure("Which node ran when?", [], "This run's nodes have no recorded times.")
    t0 = min(n["started"] for n in timed)
    on_path = set(critical)
    rows = list(reversed(timed))  # first node at the top
    # each bar its real length: a minimum width drew a node of 0.1 ms as running past the start
    # of the node it feeds; one too short to see is marked by a tick at its start instead
    ms = [max((n["ended"] - n["started"]).total_seconds() * 1000, 0.0) for n in rows]
    starts = [(n["started"] - t0).total_seconds() * 1000 for n in rows]
    unseen = max(s + d for s, d in zip(starts, ms)) / 200  # half a percent of the run's width
    names = [fmt.plot_text(n["node_id"]) for n in rows]
    colours = ["#e65100" if n["node_id"] in on_path else "#90a4ae" for n in rows]
    hover = [f"{n['status']}, {fmt.latency(d)}" + (" — critical path" if n["node_id"] in on_path else "")
             for n, d in zip(rows, ms)]
    short = [i for i, d in enumerate(ms) if d <= unseen]
    ticks = [{
        "type": "scatter", "mode": "markers", "x": [starts[i] for i in short], "y": [names[i] for i in short],
        "marker": {"symbol": "line-ns-open", "size": 16, "line": {"width": 2, "color": [colours[i] for i in short]}},
        "customdata": [hover[i] for i in short], "hovertemplate": "%{y}: %{customdata}<extra></extra>",
    }] if short else []
    return _figure("Which node ran when? (critical path highlighted)", [{
        "type": "bar", "orientation": "h", "y": names, "x": ms, "base": starts,
        "marker": {"color": colours}, "customdata": hover,
        "hovertemplate": "%{y}: %{customdata}<extra></extra>",
    }, *ticks], None, height=max(160, 40 + 28 * len(rows)), showlegend=False,
        # the node names' room (50 px cut "sentiment" to "entiment"): 9 px a character, as wide as
        # the fonts here draw "m" and "w" (7 px was short for "summarize-reviews" in CI's Chromium
        # at times), and Plotly's automargin on top where a name needs more
        margin={**_LAYOUT["margin"], "l": min(260, 24 + 9 * max(len(n["node_id"]) for n in rows))},
        xaxis={"title": {"text": "ms since the run started"}, "rangemode": "tozero"},
        yaxis={"type": "category", "automargin": True})
