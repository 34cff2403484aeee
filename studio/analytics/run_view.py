"""A recorded run seen the way the pipeline flows: nodes in flow order and the critical path
(the chain of dependent nodes whose times add up to the run's wall time), for the drill-down."""

from __future__ import annotations

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
    return max((node["ended"] - node["started"]).total_seconds(), 0.0)
