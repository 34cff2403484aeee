"""`iom analytics` (summary of calls, cost, latency, errors), `iom runs list|show` and
`iom calls show` (one call's audit trail: which model answered what)."""

from __future__ import annotations

import sys

from studio.analytics import queries as q
from studio.analytics.remote import apply_retention_anywhere, read_anywhere
from studio.analytics.run_view import node_attempts, node_wall_ms
from studio.analytics.settings import MAX_RETENTION_DAYS
from studio.analytics.store import refused_sentence
from studio.cli.common import MOST_ROWS, print_json, print_table, studio, whole_number
from studio.errors import UserError
from studio import formats


def register(sub) -> None:
    p = sub.add_parser("analytics", help="summary of calls, cost, latency and errors")
    p.add_argument("--since", default="7d", help="time span, e.g. 24h, 7d, 4w or 'all' (default 7d)")
    p.add_argument("--model")
    p.add_argument("--pipeline")
    p.add_argument("--status", choices=q.STATUSES)
    p.add_argument("--retention", action="store_true", help="apply the retention setting now")
    p.add_argument("--set-retention-days", type=int, metavar="N",
                   help="keep call detail N days, then only daily totals (0 = keep forever)")
    p.add_argument("--set-hashes-only", choices=["on", "off"],
                   help="audit trail: keep only sha256 hashes of inputs and outputs (on) or their content too (off)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_analytics)

    runs = sub.add_parser("runs", help="pipeline run history").add_subparsers(dest="action", metavar="ACTION", required=True)
    p = runs.add_parser("list", help="recent runs, newest first")
    p.add_argument("--since", default="all")
    p.add_argument("--pipeline")
    p.add_argument("--limit", type=whole_number(1, MOST_ROWS), default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_runs_list)
    p = runs.add_parser("show", help="one run with its nodes: model, inputs, output, timings, cost")
    p.add_argument("run_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_runs_show)

    calls = sub.add_parser("calls", help="one recorded call's audit trail").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = calls.add_parser("show", help="one call with its input and output, by call id or request id")
    p.add_argument("call_id", metavar="CALL_ID|REQUEST_ID",
                   help="the call's id (a gateway answer's x-request-id) or the provider's request id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_calls_show)


# The studio's one number format (the analytics page uses the same).
money = formats.money_total
_ms = formats.latency


def _analytics(args) -> int:
    s = studio()
    changes = {}
    if args.set_retention_days is not None:
        if not 0 <= args.set_retention_days <= MAX_RETENTION_DAYS:
            raise UserError(f"--set-retention-days takes 1 to {MAX_RETENTION_DAYS} days, or 0 to keep call detail "
                            f"forever; nothing was changed.")
        changes["retention_days"] = args.set_retention_days or None
    if args.set_hashes_only:
        changes["audit_hashes_only"] = args.set_hashes_only == "on"
    if changes:
        new = s.analytics.update_settings(**changes)
        kept = f"{new.retention_days} days" if new.retention_days else "forever"
        print(f"settings: retention {kept}, audit "
              f"{'hashes only' if new.audit_hashes_only else 'hashes and content'} ({s.home / 'analytics.json'})",
              file=sys.stderr)
    if args.retention:
        report = apply_retention_anywhere(s.analytics, keys=s.keys)  # by the web app when it holds the database
        print(f"retention: {report.calls_rolled_up} calls rolled up into daily totals"
              if report.cutoff else "retention: no retention period is set; nothing dropped.", file=sys.stderr)
    f = q.Filters(since=q.parse_since(args.since), model=args.model, pipeline=args.pipeline, status=args.status)
    data = read_anywhere(s.analytics, q.dashboard, f, keys=s.keys)
    refused = refused_sentence(s.home)
    if refused:
        print(f"warning: {refused}", file=sys.stderr)
    if args.json:
        print_json(data)
        return 0
    sm = data["summary"]
    rate = "—" if sm["error_rate"] is None else f"{sm['error_rate']:.1%}"
    if sm["cache_hits"]:  # the rate and the p95 are of the calls that reached a model
        rate += f" of {sm['calls'] - sm['cache_hits']} calls made"
    # Past the retention, calls are daily totals without latency: the percentiles are of the
    # calls kept in detail, said so (as the page's card does).
    detail = sm.get("latency_calls")
    partial = detail is not None and detail < sm["calls"] - sm["cache_hits"]
    of_detail = f" (of the {detail:,} calls kept in detail)" if partial else ""
    print(f"since {args.since}: {sm['calls']} calls, {sm['errors']} errors ({rate}), "
          f"cost {money(sm['cost_usd'], sm['unpriced_calls'])}, p95 latency {_ms(sm['p95_latency_ms'])}{of_detail}, "
          f"cache hits {sm['cache_hits']} (saved {money(sm['saved_usd'])}), fallbacks {sm['fallbacks']}")
    # Two counts per model, told apart: latency is of the calls that reached a model (a cache
    # hit's lookup is not the model's speed); cost is of every call, cache hits included.
    if data["latency"]:
        print()
        print_table([[r["model_id"], str(r["calls"]), _ms(r["p50_ms"]), _ms(r["p95_ms"]), _ms(r["p99_ms"]),
                      _ms(r["ttft_p50_ms"])] for r in data["latency"]],
                    ["model", "calls in detail" if partial else "calls made", "p50", "p95", "p99", "ttft p50"])
    if data["cost_by_model"]:
        print()
        print_table([[str(r["key"]), str(r["calls"]), money(r["cost_usd"], r["unpriced_calls"])]
                     for r in data["cost_by_model"]], ["model", "all calls", "cost"])
    if data["errors"]:
        print()
        print_table([[r["error_class"], str(r["errors"]), f"{r['rate']:.1%}"] for r in data["errors"]],
                    ["error class", "errors", "of calls"])
    return 0


def _runs_list(args) -> int:
    s = studio()
    rows = read_anywhere(s.analytics, q.list_runs, q.Filters(since=q.parse_since(args.since), pipeline=args.pipeline),
                         args.limit, keys=s.keys)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no runs recorded yet.", file=sys.stderr)
    print_table([[r["id"], r["pipeline_id"], r["status"], formats.when(r["started"]), _ms(r["wall_ms"]),
                  money(r["cost_usd"], r["unpriced_calls"] or 0), str(r["node_count"])] for r in rows],
                ["run", "pipeline", "status", "started (utc)", "wall", "cost", "nodes"])
    return 0


def _runs_show(args) -> int:
    s = studio()
    run = read_anywhere(s.analytics, q.get_run, args.run_id, keys=s.keys)
    if run is None:
        raise UserError(f"no run {args.run_id!r} is recorded; see 'iom runs list'.")
    if args.json:
        print_json(run)
        return 0
    print(f"run {run['id']} of {run['pipeline_id']}: {run['status']}, started {formats.when(run['started'])} UTC, "
          f"wall {_ms(run['wall_ms'])}, cost {money(run['cost_usd'], run['unpriced_calls'] or 0)}")
    if run["error"]:
        print(f"error: {run['error']}")
    # a node's time as the page's timeline draws it (all its attempts), and what those attempts were
    print_table([[n["node_id"], n["status"], n["model_id"] or "—", _ms(node_wall_ms(n)),
                  f"{n['input_tokens']}/{n['output_tokens']}", _node_cost(n)]
                 + [node_attempts(n, run["calls"]) or "—"] for n in run["nodes"]],
                ["node", "status", "model", "wall", "tokens in/out", "cost", "attempts"])
    return 0


def _calls_show(args) -> int:
    from studio.analytics.call_view import answered_by, audit_display, call_figures, ids_line, where_from

    s = studio()
    call = read_anywhere(s.analytics, q.get_call, args.call_id, keys=s.keys)
    if call is None:
        raise UserError(f"no call {args.call_id!r} is recorded under that call id or request id; calls past the "
                        "retention period are kept only as daily totals, and a pipeline's request id is its run's "
                        "('iom runs show ID').")
    if args.json:
        print_json(call)
        return 0
    print(f"call {call['id']} at {formats.when(call['time'])} UTC: {call_figures(call)}")
    print(f"answered by: {answered_by(call)}")
    made_for = where_from(call)
    if made_for:
        print(f"made for: {made_for}")
    print(ids_line(call))
    if call["matches"] > 1:
        print(f"({call['matches']} calls carry this provider request id; the newest is shown: give a call id "
              "for another)")
    if call["error_message"]:
        print(f"error: {call['error_message']}")
    for part in ("input", "output"):
        print(f"\n{part}:")
        print(audit_display(call[part], part))
    return 0


def _node_cost(node: dict) -> str:
    """As the page's run view says it: a node that called a model and has no price is
    "unpriced" ("—" read as the cost of a node that calls none), a free one "free"."""
    return formats.money(node["cost_usd"]) if node["model_id"] else "—"
