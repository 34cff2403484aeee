"""`iom batch run|list|show|delete|export`: a pipeline or a model over every row of a dataset.

Running the same target + data + --limit again resumes the batch (or `--resume BATCH_ID`).
The progress bar (rich) goes to stderr and only to a terminal, never with --json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from studio.cli.common import (MOST_ROWS, interrupted, print_json, print_json_with_rows, print_table, progress_bars,
                               run_until_interrupted, studio, total_cost, whole_number)
from studio.errors import UserError
from studio.formats import money_total


def register(sub) -> None:
    b = sub.add_parser("batch", help="run a pipeline or model over a dataset").add_subparsers(
        dest="action", metavar="ACTION", required=True)

    p = b.add_parser("run", help="run (or resume) a batch")
    p.add_argument("target", nargs="?", help="a pipeline id or a model id")
    p.add_argument("--data", help="a dataset id or a CSV/JSONL/Parquet file")
    p.add_argument("--limit", type=whole_number(1, MOST_ROWS), help="only the first N rows")
    p.add_argument("--concurrency", type=whole_number(1, 100_000), default=8, help="rows run at once (default 8)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", help="an existing Ray cluster (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--no-cache", action="store_true",
                   help="call every node's model even where a cached output exists (a separate batch: cost and latency of a fresh run)")
    p.add_argument("--resume", metavar="BATCH_ID", help="continue this batch with its saved target and data")
    p.add_argument("--json", action="store_true", help="print the batch's aggregates as JSON")
    p.set_defaults(handler=_run)

    p = b.add_parser("list", help="list batches")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = b.add_parser("show", help="a batch's rows and aggregates")
    p.add_argument("batch_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = b.add_parser("delete", help="remove batches' saved rows (their runs stay in the analytics)")
    p.add_argument("batch_ids", nargs="+", metavar="BATCH_ID")
    p.set_defaults(handler=_delete)

    p = b.add_parser("export", help="write a batch's rows to a Parquet or CSV file")
    p.add_argument("batch_id")
    p.add_argument("-o", "--output", required=True, help="FILE.parquet or FILE.csv")
    p.set_defaults(handler=_export)


def _run(args) -> int:
    from studio.eval.batch import load_plan, plan_batch, run_batch

    s = studio()
    if args.resume:
        plan = load_plan(s.home, args.resume)
        if args.no_cache and plan.use_cache:
            raise UserError(f"batch {plan.id} reuses cached outputs; --no-cache makes a separate batch: "
                            "run it with the target and --data instead of --resume.")
        plan.concurrency, plan.executor = args.concurrency, args.executor
    else:
        if not args.target or not args.data:
            raise UserError("give a target and --data, e.g. 'iom batch run review-triage --data reviews', or --resume BATCH_ID.")
        plan = plan_batch(s, args.target, args.data, limit=args.limit, concurrency=args.concurrency,
                          executor=args.executor, use_cache=not args.no_cache)
    if args.ray_address:
        import os

        os.environ["RAY_ADDRESS"] = args.ray_address
    update, stop = progress_bars(not args.json and sys.stderr.isatty())
    done = [0]

    def progress(n: int, total: int) -> None:
        done[0] = n
        update(f"batch {plan.id}", n, total)

    async def go():
        try:
            return await run_batch(s, plan, progress=progress)
        finally:
            await s.aclose()
    agg = run_until_interrupted(go, stop, quiet_stdout=args.json)
    if agg is None:
        return interrupted(f"interrupted: {done[0]} of {plan.rows} rows of batch {plan.id} are done and kept; run the same "
                           f"command again (or 'iom batch run --resume {plan.id}') to go on from there.")
    if args.json:
        print_json({"id": plan.id, "target": plan.target, "rows": plan.rows, **agg})
    else:
        print(f"batch {plan.id}: {agg['succeeded']} succeeded, {agg['failed']} failed of {plan.rows} rows; "
              f"cost {total_cost(agg)}, p50 {_ms(agg['latencyP50Ms'])}, p95 {_ms(agg['latencyP95Ms'])}"
              f"{_cached(agg)}")
    return 0


def _cached(agg: dict) -> str:
    """A note when cached outputs answered some rows' nodes: their cost and latency are lower
    than a fresh run's."""
    n = agg.get("cachedRows") or 0
    return f"; {n} row(s) reused cached outputs (--no-cache measures every call)" if n else ""


def _row_cost(row: dict) -> str:
    """A row's cost: 'unpriced' when not known, and a priced part is never shown alone when a
    call of the row had no known price (it read as the whole cost)."""
    if row.get("costUsd") is None:
        return "unpriced"
    return money_total(row["costUsd"], row.get("unpricedCalls"))


def _ms(v) -> str:
    return "-" if v is None else f"{v:.0f} ms"


def _list(args) -> int:
    from studio.eval.batch import target_label, unreadable_batches
    from studio.eval.batch_watch import list_batches

    items = list_batches(studio().home)
    for batch_id in unreadable_batches(studio().home, (b["id"] for b in items)):
        print(f"warning: batch {batch_id} cannot be read and is left out; 'iom batch show {batch_id}' says why.",
              file=sys.stderr)
    if args.json:
        print_json(items)
        return 0
    if not items:
        print("no batches yet; start one with 'iom batch run PIPELINE_ID --data DATASET'.", file=sys.stderr)
    print_table([[b["id"], target_label(b["target"], b["swaps"]), b["datasetId"] or Path(b["data"]).name, f"{b['done']}/{b['rows']}",
                  b["state"], str(b["failed"]), total_cost(b), str(b["cachedRows"]) if b["useCache"] else "off"]
                 for b in items],
                ["id", "target", "data", "done", "state", "failed", "cost", "from cache"])
    if any(b["state"] == "stopped" for b in items):
        print("a stopped batch goes on where it stopped with 'iom batch run --resume BATCH_ID' (or its Resume on "
              "the Evaluate page, or the command or experiment that started it, run again).", file=sys.stderr)
    return 0


def _show(args) -> int:
    """The rows are read one at a time (rows_in_order), tallied as they pass: a batch of a
    million rows is not held as a million dicts to be shown."""
    from studio.eval.batch import BatchRows, Tally, load_plan

    home = studio().home
    plan = load_plan(home, args.batch_id)
    rows = BatchRows(home, plan.id)
    if args.json:  # the figures lead, the rows follow: two passes over the file (its offsets read once)
        agg = Tally.of(rows).result(plan)
        print_json_with_rows({**plan.to_json(), **agg}, "rowResults", rows)
        return 0
    tally = Tally()
    table = []
    for r in rows:
        tally.add(r)
        table.append([str(r["index"]), r["status"], _row_cost(r), _ms(r.get("latencyMs")),
                      (r.get("error") or json.dumps(r.get("output"), ensure_ascii=False))[:80]])
    agg = tally.result(plan)
    print(f"batch {plan.id}: {plan.target} over {plan.dataset_id or plan.data}; "
          f"{agg['done']}/{plan.rows} rows done, {agg['failed']} failed, cost {total_cost(agg)}, "
          f"p50 {_ms(agg['latencyP50Ms'])}, p95 {_ms(agg['latencyP95Ms'])}{_cached(agg)}")
    print_table(table, ["row", "status", "cost", "latency", "output"])
    return 0


def _delete(args) -> int:
    """Each id is checked before any is removed: a typo in the third deletes nothing."""
    from studio.eval.batch import batch_folder, delete_batch
    from studio.eval.experiments import experiments_by_batch, kept_note

    home = studio().home
    for batch_id in args.batch_ids:  # every id checked before any is removed
        batch_folder(home, batch_id)
    used = experiments_by_batch(home)
    for batch_id in args.batch_ids:
        rows = delete_batch(home, batch_id)
        print(f"deleted batch {batch_id}: {rows} rows{kept_note(used.get(batch_id))}", file=sys.stderr)
    return 0


def _export(args) -> int:
    from studio.eval.batch import export_rows

    n = export_rows(studio().home, args.batch_id, Path(args.output))
    print(f"wrote {n} rows to {args.output}", file=sys.stderr)
    return 0
