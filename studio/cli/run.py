"""`iom run PIPELINE_ID|FILE --input JSON|@FILE [--json] [--stream] [--dry-run] [--no-cache]
[--from NODE] [--to NODE]`: run a pipeline headless, the same engine the canvas uses."""

from __future__ import annotations

import asyncio
import json
import sys

from studio.cli.common import load_pipeline_ref, print_json, studio
from studio.cli.invoke import parse_input
from studio.errors import UserError
from studio.formats import dollars


def register(sub) -> None:
    p = sub.add_parser("run", help="run a saved pipeline (by id) or a pipeline file")
    p.add_argument("pipeline", help="a pipeline id or a path to a pipeline JSON file")
    p.add_argument("--input", "-i", default="{}", help='the run\'s input as JSON, e.g. \'{"text": "…"}\', or @FILE')
    p.add_argument("--json", action="store_true", help="print the whole run record as JSON")
    p.add_argument("--stream", action="store_true", help="print the output node's text as it arrives")
    p.add_argument("--dry-run", action="store_true", help="print the plan, the requests and a cost estimate; call nothing")
    p.add_argument("--no-cache", action="store_true", help="do not reuse cached node outputs")
    p.add_argument("--from", dest="from_node", metavar="NODE", help="run from this node, reusing upstream outputs of the last run")
    p.add_argument("--to", dest="to_node", metavar="NODE", help="run only up to this node")
    p.set_defaults(handler=_run)


def _run(args) -> int:
    from studio.engine import RunOptions

    for flag, node in (("--from", args.from_node), ("--to", args.to_node)):
        if node is not None and not node.strip():  # '' read as no --from, without a word
            raise UserError(f"{flag} needs a node id; 'iom pipelines show {args.pipeline}' lists them.")
    s = studio()
    pipeline = load_pipeline_ref(s, args.pipeline)
    inputs = parse_input(args.input)
    streamed: list[str] = []

    def on_text(node_id: str, text: str) -> None:
        streamed.append(text)
        if args.stream and not args.json:
            sys.stdout.write(text)
            sys.stdout.flush()

    options = RunOptions(from_node=args.from_node, to_node=args.to_node, dry_run=args.dry_run,
                         use_cache=not args.no_cache, on_text=on_text if args.stream else None)

    async def go():
        try:
            return await s.engine.run(pipeline, inputs, options)
        finally:
            await s.aclose()

    result = asyncio.run(go())
    s.engine.write_kept_outputs()  # before the run is reported, so a 'run --from' after it finds them
    if args.dry_run:
        _print_plan(result, args.json)
        return 0
    if streamed and args.stream and not args.json:
        print()
    if args.json:
        print_json(result.model_dump(mode="json", by_alias=True))
    else:
        _print_run(result, "".join(streamed) if args.stream else None, args.to_node)
    if args.from_node:
        _say_what_ran_again(pipeline, args.from_node, result)
    if result.status != "succeeded":
        raise UserError(result.error or f"the run {result.status}.")
    return 0


def _say_what_ran_again(pipeline, from_node: str, record) -> None:
    """--from reuses an upstream node's kept output only where it was made from what the node
    is given now; the nodes before `from_node` that ran again, and why they may have."""
    from studio.engine.executor import REUSED_FROM_LAST_RUN
    from studio.engine.graph import Graph

    graph = Graph.of(pipeline)
    before = set(graph.nodes) - graph.descendants(from_node) - {from_node}  # what --from may reuse
    again = [n for n in graph.nodes if n in before and n in record.nodes and record.nodes[n].reason != REUSED_FROM_LAST_RUN]
    if not again:
        return
    if len(again) == len(before):
        said = f"every node before {from_node!r} ran again"
    else:
        said = f"{', '.join(repr(n) for n in again)} ran again"
    print(f"note: {said}: no earlier run of {pipeline.id} kept an output that fits this run for "
          f"{'it' if len(again) == 1 else 'them'} (none kept, or made from another input or an earlier version "
          "of a node, or one that held a secret).", file=sys.stderr)


def _print_run(record, streamed: str | None = None, to_node: str | None = None) -> None:
    """The output on stdout, the summary on stderr. A lone text output already streamed to
    stdout (`--stream`) is not printed again: a script piping the command got it twice.
    With `--to NODE` the output is that node's: the output nodes after it did not run, so the
    run's own outputs are empty (`{}` was printed)."""
    out = record.outputs
    if to_node is not None:
        reached = record.nodes.get(to_node)
        out = reached.output if reached is not None and reached.output is not None else {}
    text = out.get("text") if isinstance(out, dict) else None
    lone_text = isinstance(text, str) and len(out) == 1
    if lone_text and streamed and text == streamed:
        pass
    elif out or record.status == "succeeded":  # a failed run has no output: `{}` on stdout read as an empty result
        print(text if lone_text else json.dumps(out, indent=2, ensure_ascii=False))
    cost = "unpriced" if record.cost_usd is None else dollars(record.cost_usd)
    if record.unpriced_calls and record.cost_usd is not None:
        cost += f" + {record.unpriced_calls} unpriced"
    print(f"run {record.id}: {record.status} in {record.wall_ms:.0f} ms, {cost}, "
          f"{record.input_tokens} in / {record.output_tokens} out tokens, {record.cached_nodes} cached node(s)",
          file=sys.stderr)
    for node_id, nr in record.nodes.items():
        if nr.status in ("failed", "skipped") or (nr.reason and "fell back" in nr.reason):
            print(f"  {node_id}: {nr.status}" + (f" — {nr.error or nr.reason}" if (nr.error or nr.reason) else ""),
                  file=sys.stderr)


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    print("parallel layers: " + "  →  ".join("[" + ", ".join(layer) + "]" for layer in plan["layers"]))
    for r in plan["requests"]:
        cost = "unpriced" if r["estimatedCostUsd"] is None else "~" + dollars(r["estimatedCostUsd"])
        print(f"  {r['nodeId']}: {r['modelId']} ({r['api']}), ~{r['estimatedInputTokens']} in / "
              f"{r['estimatedOutputTokens']} out tokens, {cost}")
    total = plan["estimatedCostUsd"]
    for warning in plan.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    print("estimated cost: " + ("unpriced" if total is None else "~" + dollars(total))
          + (f" (+ unpriced: {', '.join(plan['unpricedNodes'])})" if plan["unpricedNodes"] and total is not None else ""))
