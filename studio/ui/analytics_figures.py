"""Plain-dict Plotly figures for the analytics page (no plotly import: NiceGUI renders dicts)."""

from __future__ import annotations

from typing import Any

_LAYOUT = {"margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "height": 300, "legend": {"orientation": "h"}}


def _figure(title: str, data: list[dict], **layout: Any) -> dict:
    fig = {"data": data, "layout": {**_LAYOUT, "title": {"text": title, "font": {"size": 14}}, **layout},
           "config": {"displaylogo": False, "responsive": True}}
    if not data or not any(trace.get("x") or trace.get("labels") for trace in data):
        fig["layout"]["annotations"] = [{"text": "No calls in this range yet", "showarrow": False,
                                         "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]
    return fig


def over_time(rows: list[dict]) -> dict:
    x = [str(r["bucket"]) for r in rows]
    return _figure("Calls and errors over time", [
        {"type": "bar", "name": "ok", "x": x, "y": [r["calls"] - r["errors"] for r in rows], "marker": {"color": "#4caf50"}},
        {"type": "bar", "name": "errors", "x": x, "y": [r["errors"] for r in rows], "marker": {"color": "#e53935"}},
    ], barmode="stack")


def latency(rows: list[dict]) -> dict:
    x = [r["model_id"] for r in rows]
    return _figure("Latency by model (ms)", [
        {"type": "bar", "name": name, "x": x, "y": [r[key] for r in rows]}
        for name, key in (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("TTFT p50", "ttft_p50_ms"))
    ], barmode="group")


def tokens_per_second(rows: list[dict]) -> dict:
    return _figure("Output tokens per second", [
        {"type": "bar", "name": "tokens/s", "x": [r["model_id"] for r in rows], "y": [r["tokens_per_s"] for r in rows]}])


def errors(rows: list[dict]) -> dict:
    return _figure("Errors by class", [
        {"type": "bar", "name": "errors", "x": [r["error_class"] for r in rows], "y": [r["errors"] for r in rows],
         "text": [f"{r['rate']:.1%} of calls" for r in rows], "marker": {"color": "#e53935"}}])


def cost(rows: list[dict], title: str) -> dict:
    """Priced cost as bars; unpriced calls in the hover text and labels, never as $0."""
    return _figure(title, [{
        "type": "bar", "name": "USD", "x": [str(r["key"]) if r["key"] is not None else "(none)" for r in rows],
        "y": [r["cost_usd"] or 0 if r["cost_usd"] is not None else None for r in rows],
        "text": [(f"{r['unpriced_calls']} unpriced" if r["unpriced_calls"] else "") for r in rows],
        "hovertemplate": "%{x}: $%{y:.4f} %{text}<extra></extra>",
    }])
