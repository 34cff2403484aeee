"""Experiments: one dataset over several variants, scored and compared side by side.

A variant is a batch target (a pipeline or a model) plus optional node swaps
(`review-triage@sentiment=local/other`) and output-field names per expected column
(`local/sentiment-vader#sentiment=label`), written `TARGET[@NODE=MODEL,…][#COLUMN=FIELD,…]`.
Each variant runs as an ordinary (resumable) batch; the experiment file
`IOM_HOME/experiments/<id>.json` keeps the variants, scorers and the figures compared:
score with its bootstrap interval, cost per row and total, latency p50/p95, error rate. Each
row's scores (a figure per row, scorer and variant) are kept apart, in
`experiments/per-row/<id>.json`: listing the experiments reads only their figures.

Variants call their models afresh by default, not answering from the output cache: a variant
that shares nodes with the one before it would otherwise find their outputs cached and look
cheaper and faster than it is. `use_cache=True` trades that for money saved, and each variant
then counts the rows a cached output answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from studio.atomic import write_json, write_text
from studio.errors import UserError, named_twice
from studio.formats import money_total, plot_text
from studio.eval.batch import (SAFE_ID, BatchRows, answered_latency, batch_models, builtin_names, in_workers,
                               percentile, plan_batch, row_count, run_batch, swapped_pipeline, target_label)
from studio.eval.caveats import failure_warnings, score_warnings
from studio.eval.scorers import ScorerSpec, bootstrap_quality_ci, judge_rows, pick, score_each
from studio.paths import left_out, read_each
from studio.providers.local import processes
from studio.spec.base import utcnow


@dataclass
class Variant:
    target: str
    swaps: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # expected column -> output field

    @property
    def name(self) -> str:
        text = target_label(self.target, self.swaps)
        if self.fields:
            text += "#" + ",".join(f"{k}={v}" for k, v in sorted(self.fields.items()))
        return text

    @classmethod
    def parse(cls, text: str) -> "Variant":
        rest, _, fields_part = text.partition("#")
        target, _, swaps_part = rest.partition("@")
        if not target.strip():
            raise UserError(f"variant {text!r} names no pipeline or model; write e.g. review-triage@sentiment=local/sentiment-vader.")
        return cls(target=target.strip(), swaps=_pairs(swaps_part, text), fields=_pairs(fields_part, text))


def _pairs(part: str, whole: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (p.strip() for p in part.split(","))):
        k, sep, v = item.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise UserError(f"variant {whole!r}: {item!r} must look like NAME=VALUE.")
        out[k.strip()] = v.strip()
    return out


def experiments_root(home: Path) -> Path:
    return home / "experiments"


def experiment_id(data: str, variants: list[Variant], scorers: list[ScorerSpec], limit: int | None,
                  use_cache: bool = False, batch_ids: list[str] | None = None) -> str:
    """The same experiment again has the same id. Its batches' ids carry what each variant's
    pipeline and models are, so after an edit it is a new experiment, and the one before
    the edit stays to compare with instead of being overwritten."""
    key = json.dumps([data, [v.name for v in variants], [s.name for s in scorers], limit]
                     + (["cache"] if use_cache else []) + ([batch_ids] if batch_ids else []))
    return "x" + hashlib.sha256(key.encode()).hexdigest()[:11]


def _measured_version(studio, v: Variant) -> str | None:
    """The `answer_version` of the one model the variant measures (see quality.variant_model),
    so a score saved from it is not credited to a later, edited version of that model."""
    from studio.engine.cache import answer_version
    from studio.registry.quality import variant_model

    model = variant_model({"target": v.target, "swaps": v.swaps})
    spec = studio.models.find(model) if model else None
    return answer_version(spec) if spec is not None else None


def pareto_front(points: list[tuple[str, float | None, float | None]]) -> set[str]:
    """Names of the (name, cost, quality) points no other point beats on both: cheaper or as
    cheap AND better or as good, strictly better on one. Unscored or unpriced points are out.
    Figures equal but for float rounding (within $1e-12 or a relative 1e-9) are equal: two
    variants of the same per-row costs got totals a last bit apart, and one was dropped at random."""
    from math import isclose

    def below(a: float, b: float) -> int:  # -1, 0 or 1 as a is under, level with or over b
        return 0 if isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else -1 if a < b else 1

    ok = [(n, c, q) for n, c, q in points if c is not None and q is not None]
    front = set()
    for n, c, q in ok:
        if not any(below(c2, c) <= 0 and below(q, q2) <= 0 and (below(c2, c) or below(q, q2)) for _, c2, q2 in ok):
            front.add(n)
    return front


class ExperimentStopped(UserError):
    """The user stopped the experiment (its finished rows are kept)."""


async def run_experiment(studio, data: str, variants: list[Variant], scorers: list[ScorerSpec], *,
                         limit: int | None = None, concurrency: int = 8, executor: str = "local",
                         use_cache: bool = False,
                         progress: Callable[[str, int, int], None] | None = None,
                         stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Run every variant as a batch over the data, score it, save and return the experiment.
    Once `stop()` says so, no further row starts and ExperimentStopped is raised when the rows
    in flight have finished; what is done is kept, and the same experiment run again resumes."""
    if len(variants) < 1:
        raise UserError("an experiment needs at least one variant (--variant).")
    if not scorers:
        raise UserError("an experiment needs at least one scorer (--score COLUMN:KIND).")
    twice = named_twice(s.name for s in scorers)
    if twice:  # two reports of one name: save-quality could not tell which it meant
        raise UserError(f"the scorer {twice} is given twice; give each scorer once.")

    await _check_judges(studio, scorers)

    def plan_all():  # reads and hashes the data file: in a thread, off the UI's event loop
        return [plan_batch(studio, v.target, data, limit=limit, concurrency=concurrency, executor=executor,
                           swaps=v.swaps, scored={s.column for s in scorers}, use_cache=use_cache)
                for v in variants]
    plans = await asyncio.to_thread(plan_all)  # every variant checked before any row runs
    for s in scorers:
        if s.column not in plans[0].expected:
            raise UserError(f"the data has no expected column {s.column!r} for scorer {s.name}; "
                            f"its expected columns are {', '.join(plans[0].expected) or 'none'}.")
    exp_id = experiment_id(data, variants, scorers, limit, use_cache, [p.id for p in plans])
    async with processes.in_use(await asyncio.to_thread(_builtin_models, studio, plans)):
        results = await _run_variants(studio, variants, plans, scorers, progress, stop)
    front = pareto_front([(r["variant"], r["costPerRowUsd"], r["quality"]) for r in results])
    for r in results:
        r["pareto"] = r["variant"] in front
    doc = {"id": exp_id, "data": data, "datasetId": plans[0].dataset_id, "limit": limit,
           "scorers": [s.name for s in scorers], "useCache": use_cache, "variants": results,
           "created": utcnow().isoformat()}
    await asyncio.to_thread(save_experiment, studio.home, doc)
    return doc


def per_row_path(home: Path, exp_id: str) -> Path:
    return experiments_root(home) / "per-row" / f"{exp_id}.json"


def save_experiment(home: Path, doc: dict[str, Any]) -> None:
    """The figures in `<id>.json` and the per-row scores beside them: thirty experiments of
    10,000 rows, two variants scored twice, were 30 MB in one file each, which listing them read
    in 0.41 s (1.3 ms now: bench/bench_experiments.py). Only comparing rows needs the per-row
    scores. They are written first, so an experiment listed has them."""
    per_row = [{s["scorer"]: s["perRow"] for s in v["scores"]} for v in doc["variants"]]
    figures = {**doc, "variants": [{**v, "scores": [{k: x for k, x in s.items() if k != "perRow"} for s in v["scores"]]}
                                   for v in doc["variants"]]}
    write_text(per_row_path(home, doc["id"]), json.dumps(per_row, separators=(",", ":")))  # read by programs only
    write_json(experiments_root(home) / f"{doc['id']}.json", figures)


async def _check_judges(studio, scorers: list[ScorerSpec]) -> None:
    """A judge that cannot be called is named before any row runs (and is paid for): it used
    to fail at grading, after every variant's rows, with a traceback in the terminal."""
    from studio.secrets.store import how_to_set, read_keys

    for s in scorers:
        if s.kind != "llm_judge":
            continue
        judge = studio.models.get(s.judge_model)  # a UserError naming an id the registry lacks
        if judge.key_ref and not (await read_keys(studio.providers.keys, (judge.key_ref,)))[judge.key_ref]:
            raise UserError(f"the judge {judge.id} needs the key {judge.key_ref}, which is not set; "
                            f"{how_to_set([judge.key_ref])}, then run the experiment again.")


async def _run_variants(studio, variants: list[Variant], plans: list, scorers: list[ScorerSpec],
                        progress: Callable[[str, int, int], None] | None,
                        stop: Callable[[], bool] | None) -> list[dict[str, Any]]:
    """Each variant's batch, run (or resumed) and scored, in turn."""
    results = []
    for v, plan in zip(variants, plans):
        agg = await run_batch(studio, plan, progress=(lambda d, t, n=v.name: progress(n, d, t)) if progress else None,
                              stop=stop)
        if stop is not None and stop() and (agg["done"] < plan.rows or plan is not plans[-1]):
            raise ExperimentStopped(f"stopped at {v.name} ({agg['done']} of {plan.rows} rows done); the rows done "
                                    "are kept, and running the same experiment again goes on from there.")
        rows = BatchRows(studio.home, plan.id)  # each pass in a thread: it reads the file
        specs = [ScorerSpec(**{**s.__dict__, "field": v.fields.get(s.column, s.field)}) for s in scorers]
        plain = [spec for spec in specs if spec.kind != "llm_judge"]  # scored together, in one pass
        plain_reports = iter(await asyncio.to_thread(score_each, plain, rows) if plain else [])
        scores = []
        for spec in specs:
            report = await judge_rows(studio, spec, rows) if spec.kind == "llm_judge" else next(plain_reports)
            scores.append(report.to_json())
        means = [s["mean"] for s in scores if s["mean"] is not None]
        lat, warnings = await asyncio.to_thread(_row_figures, v, plan.id, scores, rows)
        ci = await asyncio.to_thread(bootstrap_quality_ci, [s["perRow"] for s in scores])
        judged = [s["judgeCostUsd"] for s in scores if s.get("judgeCostUsd") is not None]
        judge_unpriced = sum(s.get("judgeUnpricedCalls") or 0 for s in scores)
        # judge calls of no known price make the judge's cost unpriced (None and a count), never $0
        judge_cost = math.fsum(judged) if judged or not judge_unpriced else None
        total = agg["costUsd"]
        results.append({"variant": v.name, "target": v.target, "swaps": v.swaps, "fields": v.fields,
                        "batchId": plan.id, "rows": plan.rows, "quality": sum(means) / len(means) if means else None,
                        "qualityCi95": ci,
                        "scores": scores, "costUsd": total, "judgeCostUsd": judge_cost,
                        "judgeUnpricedCalls": judge_unpriced,
                        # a variant with rows of unknown price has no cost per row to compare
                        "costPerRowUsd": None if total is None or agg["unpricedRows"] else total / max(1, agg["done"]),
                        "latencyP50Ms": percentile(lat, 0.5), "latencyP95Ms": percentile(lat, 0.95),
                        "errorRate": agg["errorRate"], "unpricedRows": agg["unpricedRows"],
                        "cachedRows": agg["cachedRows"], "modelVersion": _measured_version(studio, v),
                        "warnings": warnings})
    return results


def _row_figures(v: Variant, batch_id: str, scores: list[dict], rows: BatchRows) -> tuple[list[float], list[str]]:
    """The answered rows' latencies and the variant's warnings, from one pass over the rows
    (score_warnings reads a few rows again only when a score read no field at all)."""
    latencies = []
    failed, first_failed = 0, None
    for r in rows:
        ms = answered_latency(r)
        if ms is not None:
            latencies.append(ms)
        if r.get("status") != "succeeded":
            failed += 1
            first_failed = first_failed or r
    warnings = failure_warnings(failed, first_failed, len(rows), batch_id) + score_warnings(v, scores, rows)
    return latencies, warnings


def _builtin_models(studio, plans: list) -> list[str]:
    """The built-in models of the variants that have rows left to run several at a time here:
    the worker processes that run them serve every variant, started once rather than once per
    variant, and not at all when the experiment is run again with every row done."""
    names: set[str] = set()
    for plan in plans:
        if in_workers(plan) and row_count(studio.home, plan.id) < plan.rows:
            pipeline = swapped_pipeline(studio, plan.target, plan.swaps) if plan.kind == "pipeline" else None
            names.update(builtin_names(batch_models(studio, plan.kind, plan.target, pipeline)))
    return sorted(names)


def delete_experiment(home: Path, exp_id: str, *, with_batches: bool = False) -> list[str]:
    """Remove an experiment's file (even one that no longer reads as an experiment); with
    `with_batches` also its batches that no other saved experiment uses (returns their ids).
    The batches' runs stay in the analytics."""
    from studio.eval.batch import BatchBusy, BatchLock, batch_dir, delete_batch

    path = experiment_path(home, exp_id)
    try:
        doc = load_experiment(home, exp_id)
    except UserError:  # not well formed: nothing to follow to its batches
        doc = {"variants": []}
    # a hand-edited file may name anything: only ids that can be a batch's folder name are followed
    batches = [b for b in dict.fromkeys(v["batchId"] for v in doc["variants"]) if SAFE_ID.fullmatch(b)] \
        if with_batches else []
    for batch_id in batches:  # nothing is removed while one of them is being run
        folder = batch_dir(home, batch_id)
        if folder.is_dir() and BatchLock(folder, batch_id).is_held():
            raise BatchBusy(f"batch {batch_id} of experiment {exp_id} is being run; wait for it to finish "
                            "(or stop it), then delete the experiment. Nothing was deleted.")
    path.unlink()
    per_row = per_row_path(home, exp_id)
    per_row.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # the folder goes with the last experiment's file
        per_row.parent.rmdir()
    if not batches:  # the batches stay: no other experiment needs reading
        return []
    used = {v["batchId"] for d in list_experiments(home) for v in d["variants"]}
    gone = []
    for batch_id in batches:
        if batch_id not in used and (batch_dir(home, batch_id) / "batch.json").is_file():  # not deleted already
            delete_batch(home, batch_id)
            gone.append(batch_id)
    return gone


def experiment_path(home: Path, exp_id: str) -> Path:
    """The file of a saved experiment; one sentence when the id is not one or there is none."""
    if not SAFE_ID.fullmatch(exp_id):
        raise UserError(f"{exp_id!r} is not an experiment id; 'iom eval list' shows them.")
    path = experiments_root(home) / f"{exp_id}.json"
    if not path.is_file():
        raise UserError(f"no experiment {exp_id!r}; 'iom eval list' shows them.")
    return path


def load_experiment(home: Path, exp_id: str) -> dict[str, Any]:
    path = experiment_path(home, exp_id)
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(f"no experiment {exp_id!r}; 'iom eval list' shows them.") from None
    except ValueError:
        doc = None
    if not _well_formed(doc):
        raise UserError(f"{path} is not an experiment as the studio writes it (edited by hand, or cut "
                        f"short); 'iom eval delete {exp_id}' removes it.")
    _add_per_row(home, doc)
    return doc


def _add_per_row(home: Path, doc: dict) -> None:
    """Each score's `perRow`, from the experiment's per-row file (one saved before they were
    kept apart has them in place). A per-row file gone or unreadable leaves them empty: the
    figures still read, and the row diff shows no per-row score."""
    scores = [s for v in doc["variants"] for s in v.get("scores") or [] if isinstance(s, dict)]
    if all("perRow" in s for s in scores):
        return
    try:
        per_row = json.loads(per_row_path(home, doc["id"]).read_text("utf-8"))
    except (OSError, ValueError):
        per_row = []
    for i, v in enumerate(doc["variants"]):
        kept = per_row[i] if isinstance(per_row, list) and i < len(per_row) and isinstance(per_row[i], dict) else {}
        for s in v.get("scores") or []:
            if isinstance(s, dict) and "perRow" not in s:
                s["perRow"] = kept.get(s.get("scorer"), {})


def _well_formed(doc: Any) -> bool:
    """What reading an experiment relies on: an id, the data, and variants with their batch."""
    return (isinstance(doc, dict) and isinstance(doc.get("id"), str) and isinstance(doc.get("data"), str)
            and isinstance(doc.get("scorers"), list) and isinstance(doc.get("variants"), list)
            and all(isinstance(v, dict) and isinstance(v.get("variant"), str) and isinstance(v.get("batchId"), str)
                    for v in doc["variants"]))


def experiments_by_batch(home: Path) -> dict[str, str]:
    """batch id -> the experiment whose variant it is (what deleting the batch takes from it)."""
    return {v["batchId"]: d["id"] for d in list_experiments(home) for v in d["variants"]}


def kept_note(experiment_id: str | None) -> str:
    """What a deleted batch leaves its experiment, for the sentence that says it is deleted."""
    return f" (experiment {experiment_id} keeps its figures; its row diff for this variant is gone)" if experiment_id else ""


def unreadable_experiments(home: Path, listed: list[dict[str, Any]]) -> list[str]:
    """The ids (file stems) of experiment files `list_experiments` (which gave `listed`) left out."""
    return left_out(experiments_root(home), "*.json", (d["id"] for d in listed), lambda p: p.stem)


def list_experiments(home: Path) -> list[dict[str, Any]]:
    """The saved experiments, oldest first; a file that is not one (see `_well_formed`) is left out."""
    docs = read_each(experiments_root(home), "*.json", lambda p: json.loads(p.read_text("utf-8")), (ValueError, OSError))
    return sorted(filter(_well_formed, docs), key=lambda d: str(d.get("created", "")))


def find_variant(doc: dict, ref: str) -> dict:
    """The experiment's variant named by its number (from 1), its name or its batch id."""
    for i, v in enumerate(doc["variants"]):
        if ref in (v["variant"], str(i + 1), v["batchId"]):
            return v
    raise UserError(f"experiment {doc['id']} has no variant {ref!r}; use its number (1..{len(doc['variants'])}) or name.")


def row_diffs(home: Path, doc: dict, a: str, b: str, *, only_different: bool = True) -> Iterator[dict[str, Any]]:
    """Per-row outputs of two variants side by side, with expected values and per-row scores, in
    index order and one row at a time (two 30k-row batches held as dicts were 300 MB). Reads both
    batches' rows files as it goes: off the event loop."""
    va, vb = find_variant(doc, a), find_variant(doc, b)
    columns = list(dict.fromkeys(name.split(":")[0] for name in doc["scorers"]))  # the scored columns
    for index, x, y in _paired(BatchRows(home, va["batchId"]), BatchRows(home, vb["batchId"])):
        scores_a = {s["scorer"]: s["perRow"].get(str(index)) for s in va["scores"]}
        scores_b = {s["scorer"]: s["perRow"].get(str(index)) for s in vb["scores"]}
        fields_a = {c: pick(x.get("output"), va["fields"].get(c, c)) for c in columns}
        fields_b = {c: pick(y.get("output"), vb["fields"].get(c, c)) for c in columns}
        same = fields_a == fields_b and x.get("status") == y.get("status")
        if only_different and same:
            continue
        yield {"index": index, "differs": not same,
               "inputs": x.get("inputs") or y.get("inputs"), "expected": x.get("expected") or y.get("expected"),
               "a": {"status": x.get("status"), "fields": fields_a, "scores": scores_a, "error": x.get("error")},
               "b": {"status": y.get("status"), "fields": fields_b, "scores": scores_b, "error": y.get("error")}}


def first_row_diffs(home: Path, doc: dict, a: str, b: str, keep: int) -> tuple[list[dict[str, Any]], int]:
    """The first `keep` rows where the two variants differ, and how many differ in all."""
    first, count = [], 0
    for d in row_diffs(home, doc, a, b):
        if count < keep:
            first.append(d)
        count += 1
    return first, count


def _paired(a: Iterable[dict], b: Iterable[dict]) -> Iterator[tuple[int, dict, dict]]:
    """Two streams of rows in index order, merged: each index once, with {} for a side that has
    no such row (a batch stopped early, a row that failed to run)."""
    ia, ib = iter(a), iter(b)
    x, y = next(ia, None), next(ib, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x["index"] < y["index"]):
            yield x["index"], x, {}
            x = next(ia, None)
        elif x is None or y["index"] < x["index"]:
            yield y["index"], {}, y
            y = next(ib, None)
        else:
            yield x["index"], x, y
            x, y = next(ia, None), next(ib, None)


def by_scorer(variant: dict) -> str:
    """Each scorer's mean, when a variant has several: the quality is their mean, and one scorer
    that reads a field the variant writes another way (ISO codes against names) can halve it."""
    scores = [s for s in variant.get("scores") or [] if isinstance(s, dict)]
    if len(scores) < 2:
        return ""
    return ", ".join(f"{s['scorer']} {s['mean']:.3f}" if s.get("mean") is not None else f"{s['scorer']} —"
                     for s in scores)


def judge_cost_text(variant: dict) -> str | None:
    """What grading the variant's rows with an LLM judge cost (None: no judge scored it): the
    priced calls' sum and how many calls had no known price, as other costs are shown."""
    if not any(isinstance(s, dict) and ":llm_judge" in str(s.get("scorer")) for s in variant.get("scores") or []):
        return None
    return money_total(variant.get("judgeCostUsd"), variant.get("judgeUnpricedCalls"))


def figure(doc: dict) -> dict[str, Any]:
    """A plain-dict Plotly figure: cost per row against quality, the Pareto front marked."""
    rows = [v for v in doc["variants"] if v["quality"] is not None and v["costPerRowUsd"] is not None]
    unpriced = [v["variant"] for v in doc["variants"] if v["quality"] is not None and v["costPerRowUsd"] is None]
    front = sorted((v for v in rows if v.get("pareto")), key=lambda v: v["costPerRowUsd"])
    notes = [{"text": f"not plotted, no price known: {plot_text(', '.join(unpriced))}", "showarrow": False, "xref": "paper",
              "yref": "paper", "x": 0, "y": -0.25, "xanchor": "left"}] if unpriced else []
    # The labels were centred on their points and clipped to the axes: at the edges a variant's
    # name was cut off. Each label now reaches inwards, over the axes' box, and the quality axis
    # has room above the top point for its label.
    costs, qualities = [v["costPerRowUsd"] for v in rows], [v["quality"] for v in rows]
    middle = (min(costs) + max(costs)) / 2 if rows else 0
    low, high = (min(qualities), max(qualities)) if rows else (0, 1)
    pad = max(0.05, 0.15 * (high - low))
    return {"data": [
        {"type": "scatter", "mode": "markers+text", "name": "variants", "x": costs, "y": qualities,
         "text": [plot_text(v["variant"]) for v in rows], "cliponaxis": False,
         "textposition": ["top left" if c > middle else "top right" for c in costs],
         "marker": {"size": 12, "symbol": ["star" if v.get("pareto") else "circle" for v in rows]}},
        {"type": "scatter", "mode": "lines", "name": "Pareto front",
         "x": [v["costPerRowUsd"] for v in front], "y": [v["quality"] for v in front], "line": {"dash": "dot"}},
    ], "layout": {"xaxis": {"title": {"text": "cost per row (USD)"}, "rangemode": "tozero"},  # free variants: 0, not -1
                  "yaxis": {"title": {"text": "quality (mean score)"}, "range": [low - pad, high + pad]},
                  "margin": {"t": 40, "l": 70, "r": 30, "b": 90 if notes else 60}, "showlegend": True, "annotations": notes}}
