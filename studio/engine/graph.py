"""The pipeline as a graph: predecessors, successors, cycles, parallel layers, sub-graphs."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.spec.pipeline import Edge, Pipeline


@dataclass
class Graph:
    nodes: list[str]
    incoming: dict[str, list[Edge]] = field(default_factory=dict)
    outgoing: dict[str, list[Edge]] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline: Pipeline) -> "Graph":
        ids = [n.id for n in pipeline.nodes]
        g = cls(ids, {i: [] for i in ids}, {i: [] for i in ids})
        for e in pipeline.edges:
            if e.source in g.outgoing and e.target in g.incoming:
                g.outgoing[e.source].append(e)
                g.incoming[e.target].append(e)
        return g

    def predecessors(self, node: str) -> set[str]:
        return {e.source for e in self.incoming[node]}

    def successors(self, node: str) -> set[str]:
        return {e.target for e in self.outgoing[node]}

    def layers(self) -> list[list[str]]:
        """Kahn's algorithm by levels: each layer can run in parallel. Nodes on a cycle are left out."""
        indegree = {n: len(self.predecessors(n)) for n in self.nodes}
        layer = [n for n in self.nodes if indegree[n] == 0]
        result = []
        while layer:
            result.append(layer)
            nxt = []
            for n in layer:
                for s in sorted(self.successors(n), key=self.nodes.index):
                    indegree[s] -= 1
                    if indegree[s] == 0:
                        nxt.append(s)
            layer = nxt
        return result

    def cycle_nodes(self) -> list[str]:
        placed = {n for layer in self.layers() for n in layer}
        return [n for n in self.nodes if n not in placed]

    def ancestors(self, node: str) -> set[str]:
        return self._walk(node, self.predecessors)

    def descendants(self, node: str) -> set[str]:
        return self._walk(node, self.successors)

    @staticmethod
    def _walk(start: str, step) -> set[str]:
        seen: set[str] = set()
        stack = list(step(start))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(step(n))
        return seen
