"""A recorded run seen the way the pipeline flows: nodes in flow order and the critical path
(the chain of dependent nodes whose times add up to the run's wall time), for the drill-down."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any


def flow_order(node_ids: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Topological order (Kahn), ties kept in the given order; ids not reached come last."""
    ids = list(dict.fromkeys(node_ids))
    known = set(ids)
    indegree = {n: 0 for n in ids}
    children: dict[str, list[str]] = {n: [] for n in ids}
    for src, dst in edges:
        if src in known and dst in known:
            children[src].append(dst)
            indegree[dst] += 1
    ready = [n for n in ids if indegree[n] == 0]
    order: list[str] = []
    rank = {n: i for i, n in enumerate(ids)}
    while ready:
        ready.sort(key=rank.__getitem__)
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return order + [n for n in ids if n not in order]


def critical_path(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> list[str]:
    """The longest chain by node time (ended − started) through the edges, first node first.
    Nodes without times count as zero."""
    duration = {n["node_id"]: _seconds(n) for n in nodes}
    order = flow_order(list(duration), edges)
    parents: dict[str, list[str]] = {n: [] for n in order}
    for src, dst in edges:
        if src in duration and dst in duration:
            parents[dst].append(src)
    best: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for node in order:
        before = max(parents[node], key=lambda p: best.get(p, 0.0), default=None)
        best[node] = duration[node] + (best.get(before, 0.0) if before else 0.0)
        via[node] = before
    if not best:
        return []
    end: str | None = max(order, key=lambda n: best[n])
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = via[end]
    return path[::-1]


def _seconds(node: dict[str, Any]) -> float:
    if node.get("started") is None or node.get("ended") is None:
        return 0.0
    return max((_time(node["ended"]) - _time(node["started"])).total_seconds(), 0.0)


def _time(t: datetime | str) -> datetime:
    """A recorded time, also as the web app's JSON answer carries it (`iom runs show` beside it)."""
    return t if isinstance(t, datetime) else datetime.fromisoformat(t)


def node_wall_ms(node: dict[str, Any]) -> float | None:
    """The node's time from start to end, as the run's timeline draws it: every attempt, the
    waits between them and the fallbacks (its `latency_ms` is its answering call's alone)."""
    if node.get("started") is None or node.get("ended") is None:
        return node.get("latency_ms")
    return _seconds(node) * 1000


_HTTP = re.compile(r"\(HTTP \d{3}\)")


def _failure(call: dict[str, Any]) -> str:
    """A failed attempt in a word or two: its HTTP status where the error says one, else its class."""
    found = _HTTP.search(call.get("error_message") or "")
    return found.group(0)[1:-1] if found else (call.get("error_class") or "unknown error")


def node_attempts(node: dict[str, Any], calls: list[dict[str, Any]]) -> str:
    """What a node's calls were, when it made more than one (retries, fallbacks): e.g. "3 attempts:
    2 failed (HTTP 500), then answered by m-fb after falling back from m-500; the 2 failed attempts
    are unpriced". The node's cost is its answering call's; a failed attempt sent to a provider
    has no known cost, which this says. Empty for a node of one call or none."""
    mine = [c for c in calls if c.get("node_id") == node["node_id"]]
    if len(mine) < 2:
        return ""
    failed = [c for c in mine if c["status"] != "ok"]
    answered = next((c for c in reversed(mine) if c["status"] == "ok"), None)
    why = ", ".join(dict.fromkeys(_failure(c) for c in failed))
    if answered is None:
        said = f"{len(mine)} attempts: all failed ({why})"
    else:
        said = f"{len(mine)} attempts: {len(failed)} failed ({why}), then answered by {answered['model_id']}" \
            if failed else f"{len(mine)} attempts: answered by {answered['model_id']}"
        if answered.get("fell_back_from"):
            said += f" after falling back from {answered['fell_back_from']}"
    unpriced = sum(1 for c in failed if c.get("cost_usd") is None)
    if unpriced:
        said += (f"; the {unpriced} failed attempts are unpriced" if unpriced > 1
                 else "; the failed attempt is unpriced" if len(failed) == 1 else "; 1 failed attempt is unpriced")
    return said
