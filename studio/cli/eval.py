"""`iom eval run|list|show|compare|delete`: experiments, one dataset over several variants, scored.

    iom eval run --data reviews --variant review-triage --variant 'local/sentiment-vader#sentiment=label' \
        --score sentiment:classification [--limit N] [--json]
"""

from __future__ import annotations

import json
import sys

from studio.cli.common import (MOST_ROWS, interrupted, print_json, print_json_list, print_table, progress_bars,
                               run_until_interrupted, studio, total_cost, whole_number)
from studio.errors import UserError
from studio.formats import dollars


DETAIL_HELP = ("under the table, each classification scorer's per-label precision, recall, F1 and support, "
               "and its confusion matrix (up to 12 labels; all of them in --json)")
MATRIX_LABELS = 12  # a wider confusion matrix does not fit a terminal: --json has it whole


def register(sub) -> None:
    e = sub.add_parser("eval", help="experiments: compare variants on a dataset").add_subparsers(
        dest="action", metavar="ACTION", required=True)

    p = e.add_parser("run", help="run every variant over the data and score it")
    p.add_argument("--data", required=True, help="a dataset id or a CSV/JSONL/Parquet file")
    p.add_argument("--variant", "-v", action="append", required=True,
                   help="TARGET[@NODE=MODEL|NODE=STRATEGY[:MIN_QUALITY],…][#COLUMN=FIELD,…]; repeat for each variant")
    p.add_argument("--score", "-s", action="append", required=True,
                   help="COLUMN:KIND[:ARG], e.g. sentiment:classification, answer:llm_judge:MODEL_ID; repeatable")
    p.add_argument("--limit", type=whole_number(1, MOST_ROWS))
    p.add_argument("--concurrency", type=whole_number(1, 100_000), default=8)
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--reuse-cache", action="store_true",
                   help="answer nodes from cached outputs where they exist: cheaper, but those rows' cost and "
                        "latency leave the cached calls out (the table counts them)")
    p.add_argument("--detail", action="store_true", help=DETAIL_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_run)

    p = e.add_parser("list", help="list experiments")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = e.add_parser("show", help="an experiment's comparison table")
    p.add_argument("id")
    p.add_argument("--detail", action="store_true", help=DETAIL_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = e.add_parser("delete", help="remove saved experiments")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--with-batches", action="store_true",
                   help="also remove their batches that no other saved experiment uses")
    p.set_defaults(handler=_delete)

    p = e.add_parser("save-quality", help="save each model variant's measured quality for a capability into the registry")
    p.add_argument("id")
    p.add_argument("--capability", required=True, help="the capability the scores measure, e.g. sentiment")
    p.add_argument("--scorer", help="save this scorer's score (e.g. sentiment:classification) instead of the mean "
                                    "over all the experiment's scorers")
    p.set_defaults(handler=_save_quality)

    p = e.add_parser("compare", help="per-row diff of two variants' outputs")
    p.add_argument("id")
    p.add_argument("a", help="variant number (1, 2, …) or name")
    p.add_argument("b")
    p.add_argument("--all", action="store_true", help="also rows where both agree")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_compare)


def _run(args) -> int:
    from studio.eval.experiments import Variant, run_experiment
    from studio.eval.scorers import ScorerSpec

    s = studio()
    variants = [Variant.parse(v) for v in args.variant]
    scorers = [ScorerSpec.parse(x) for x in args.score]
    update, stop = progress_bars(not args.json and sys.stderr.isatty())
    where: list = []  # (variant, rows done, rows) of the batch running now

    def progress(variant: str, done: int, total: int) -> None:
        where[:] = [variant, done, total]
        update(variant, done, total)

    async def go():
        try:
            return await run_experiment(s, args.data, variants, scorers, limit=args.limit,
                                        concurrency=args.concurrency, executor=args.executor,
                                        use_cache=args.reuse_cache, progress=progress)
        finally:
            await s.aclose()
    doc = run_until_interrupted(go, stop, quiet_stdout=args.json)
    if doc is None:
        if not where:
            return interrupted("interrupted before any row ran; nothing was kept.")
        return interrupted(f"interrupted at {where[0]} with {where[1]} of {where[2]} rows done, which are kept; run the same "
                           "command again to go on from there.")
    if args.json:
        print_json(doc)
    else:
        _table(doc)
        if args.detail:
            _classification_detail(doc)
    return 0


def _fmt(v, kind="") -> str:
    if v is None:
        return "-"
    if kind == "$":
        return dollars(v)  # significant digits, as the page: $0.00000011 is not $0.000000
    if kind == "ms":
        return f"{v:.0f}"
    if kind == "%":
        return f"{100 * v:.1f}%"
    return f"{v:.3f}"


def _table(doc: dict) -> None:
    from studio.eval.experiments import by_scorer, judge_cost_text

    print(f"experiment {doc['id']} on {doc.get('datasetId') or doc['data']} (scorers: {', '.join(doc['scorers'])})")
    rows = []
    for i, v in enumerate(doc["variants"], 1):
        ci = v.get("qualityCi95")
        rows.append([str(i), v["variant"], _fmt(v["quality"]), "-" if not ci else f"{ci[0]:.3f}-{ci[1]:.3f}",
                     "unpriced" if v.get("unpricedRows") else _fmt(v["costPerRowUsd"], "$"), total_cost(v),
                     _fmt(v["latencyP50Ms"], "ms"),
                     _fmt(v["latencyP95Ms"], "ms"), _fmt(v["errorRate"], "%"), "*" if v.get("pareto") else ""])
    print_table(rows, ["#", "variant", "quality", "ci95", "cost/row", "cost", "p50 ms", "p95 ms", "errors", "pareto"])
    cached = [f"{i} ({v['cachedRows']} of {v['rows']} rows)" for i, v in enumerate(doc["variants"], 1) if v.get("cachedRows")]
    if cached:
        print(f"cached outputs answered some nodes of variant {', '.join(cached)}: their cost and latency "
              "leave those calls out; run without --reuse-cache to measure every call.")
    for i, v in enumerate(doc["variants"], 1):
        if by_scorer(v):
            print(f"variant {i} by scorer: {by_scorer(v)}")
        if judge_cost_text(v):  # apart from the variant's own cost: it never moves it on the chart
            print(f"variant {i} judge cost: {judge_cost_text(v)}")
    for i, v in enumerate(doc["variants"], 1):
        for warning in v.get("warnings") or ():
            print(f"variant {i}, {warning}")


def _classification_detail(doc: dict) -> None:
    """Each classification scorer's report per variant, which the table sums up in one mean."""
    for i, v in enumerate(doc["variants"], 1):
        for score in v.get("scores") or ():
            report = score.get("classification") if isinstance(score, dict) else None
            if not report or not report.get("labels"):
                continue
            print(f"\nvariant {i} ({v['variant']}), {score['scorer']}: accuracy {_fmt(report.get('accuracy'))}, "
                  f"macro-F1 {_fmt(report.get('macroF1'))}")
            labels = report["labels"]
            print_table([[_label(lab), _fmt(m["precision"]), _fmt(m["recall"]), _fmt(m["f1"]), str(m["support"])]
                         for lab, m in labels.items()], ["label", "precision", "recall", "f1", "support"])
            if len(labels) > MATRIX_LABELS:
                print(f"confusion matrix: {len(labels)} labels, too many to print; see 'iom eval show {doc['id']} --json'.")
                continue
            confusion = report.get("confusion") or {}
            print("confusion matrix (rows: expected, columns: predicted):")
            print_table([[_label(lab), *(str(confusion.get(lab, {}).get(p, 0)) for p in labels)] for lab in labels],
                        ["expected", *map(_label, labels)], upper=False)


def _label(label: str) -> str:
    """A label as one short cell: a long answer taken as a label must not stretch the table."""
    text = " ".join(str(label).split()) or '""'
    return text if len(text) <= 24 else text[:23] + "…"


def _list(args) -> int:
    from studio.eval.experiments import list_experiments, unreadable_experiments

    docs = list_experiments(studio().home)
    for exp_id in unreadable_experiments(studio().home, docs):
        print(f"warning: experiment {exp_id} cannot be read and is left out; 'iom eval show {exp_id}' says why.",
              file=sys.stderr)
    if args.json:
        print_json(docs)
        return 0
    if not docs:
        print("no experiments yet; run one with 'iom eval run --data DATASET -v TARGET -v TARGET' "
              "(the README's Evaluate section has one over the shipped sample).", file=sys.stderr)
        return 0
    print_table([[d["id"], d.get("datasetId") or d["data"], str(len(d["variants"])), ", ".join(d["scorers"])] for d in docs],
                ["id", "data", "variants", "scorers"])
    return 0


def _show(args) -> int:
    from studio.eval.experiments import load_experiment

    doc = load_experiment(studio().home, args.id)
    if args.json:
        print_json(doc)
    else:
        _table(doc)
        if args.detail:
            _classification_detail(doc)
    return 0


def _compare(args) -> int:
    from studio.eval.experiments import find_variant, load_experiment, row_diffs

    home = studio().home
    doc = load_experiment(home, args.id)
    if find_variant(doc, args.a) is find_variant(doc, args.b):
        raise UserError(f"{args.a!r} and {args.b!r} are the same variant of experiment {doc['id']}; name two "
                        f"different ones by number (1..{len(doc['variants'])}) or name.")
    diffs = row_diffs(home, doc, args.a, args.b, only_different=not args.all)
    if args.json:
        print_json_list(diffs)
        return 0
    shown = differ = 0
    for d in diffs:
        print(f"row {d['index']}: expected {json.dumps(d['expected'], ensure_ascii=False)}"
              + ("" if d["differs"] else " (the same)"))
        print(f"  A {d['a']['status']}: {json.dumps(d['a']['fields'], ensure_ascii=False)} scores {d['a']['scores']}")
        print(f"  B {d['b']['status']}: {json.dumps(d['b']['fields'], ensure_ascii=False)} scores {d['b']['scores']}")
        shown, differ = shown + 1, differ + d["differs"]
    print(f"{shown} row(s) shown, {differ} differ." if args.all else f"{differ} row(s) differ.", file=sys.stderr)
    return 0


def _delete(args) -> int:
    from studio.eval.experiments import delete_experiment, experiment_path

    home = studio().home
    for exp_id in args.ids:  # every id checked before any is removed
        experiment_path(home, exp_id)
    for exp_id in args.ids:
        gone = delete_experiment(home, exp_id, with_batches=args.with_batches)
        print(f"deleted experiment {exp_id}" + (f" and batches {', '.join(gone)}" if gone else ""), file=sys.stderr)
    return 0


def _save_quality(args) -> int:
    from studio.eval.experiments import load_experiment
    from studio.registry.quality import save_from_experiment

    s = studio()
    doc = load_experiment(s.home, args.id)
    saved, skipped = save_from_experiment(s.home, doc, args.capability, s.models.find, args.scorer)
    source = f"{args.scorer} in {doc['id']}" if args.scorer else doc["id"]
    for model, score in saved:
        print(f"{model}: quality {score:.3f} for {args.capability!r} (from {source})")
    for sentence in skipped:
        print(sentence, file=sys.stderr)
    return 0
