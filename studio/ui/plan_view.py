"""A dry run's plan as a person reads it: what it would cost, then each request it would send,
as the HTTP the provider would get (the key shown as its name). The start page and the canvas
show the same plan this one way."""

from __future__ import annotations

import json
import re
from typing import Any

from nicegui import ui

from studio.ui.threads import io_bound


async def show_plan(studio, plan: Any, *, cost_testid: str = "dry-cost",
                    input_hint: str = "fill it in above and run again") -> None:
    """Into the current container: the cost estimate, the parallel layers, and one expansion a
    request (the first open). `input_hint` says where this page takes a missing input."""
    from studio.providers.preview import wire_request
    from studio.ui.canvas.run_view import field
    from studio.ui.widgets import money

    ui.label(f"Would cost about {money(field(plan, 'estimatedCostUsd'))} "
             f"({field(plan, 'note', default='')}).").classes("text-sm").props(f"data-testid={cost_testid}")
    layers = field(plan, "layers", default=None) or []
    if len(layers) > 1:
        ui.label("Runs as: " + "  →  ".join("[" + ", ".join(layer) + "]" for layer in layers)) \
            .classes("text-xs opacity-70").props("data-testid=dry-layers")
    specs = {s.id: s for s in await io_bound(studio.models.all)}
    for i, request in enumerate(field(plan, "requests", default=[]) or []):
        spec = specs.get(field(request, "modelId"))
        if spec is None:
            continue
        wire = await wire_request(spec, field(request, "input", default={}), field(request, "params", default={}))
        with ui.expansion(f"{field(request, 'nodeId')} → {spec.id} · ~{money(field(request, 'estimatedCostUsd'))}",
                          value=i == 0).props("dense").classes("w-full text-sm"):
            # "http" only for a real request: Pygments boxes every line it cannot parse in red
            ui.code(wire_text(wire), language="http" if wire else "text").classes("w-full text-xs") \
                .props(f"data-testid=wire-{field(request, 'nodeId')}")
    for warning in field(plan, "warnings", default=None) or []:
        ui.label(for_this_page(warning, input_hint)).classes("text-xs text-warning")


# The engine's plan says how the CLI gives a missing input; a page says its own way.
_CLI_INPUT = re.compile(r" \(e\.g\. --input '.*'\)")


def for_this_page(warning: str, input_hint: str) -> str:
    return _CLI_INPUT.sub(lambda _: f" ({input_hint})", warning)


def wire_text(wire: dict | None) -> str:
    """The request as HTTP/1.1 (what httpx sends), whose request line the http highlighter needs."""
    if wire is None:
        return "(runs inside the studio: nothing is sent)"
    head = [f"{wire['method']} {wire['url']} HTTP/1.1", *(f"{k}: {v}" for k, v in wire["headers"].items())]
    body = wire["body"] if isinstance(wire["body"], str) else json.dumps(wire["body"], indent=2, ensure_ascii=False)
    return "\n".join(head) + "\n\n" + (body or "")
