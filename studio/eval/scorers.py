"""Scorers: compare a row's output with its expected value, per row and in aggregate.

A scorer is chosen per expected column and reads one field of the output (`field`, default:
the expected column's name; a dotted path reaches nested fields). Per-row scores are in
[0, 1] (None when the row failed or has no expected value); aggregates carry a seeded
bootstrap confidence interval so two variants can be told apart honestly. The LLM judge is
an ordinary registry call through the hub: recorded, priced, its cost counted separately.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable

import jsonschema
import regex

from studio.errors import UserError

# A pattern may backtrack without end on one output ((a+)+$ over 30 characters: hours). The
# `regex` module stops a match at a time limit, and matches with the GIL released, so scoring
# never stops the web app's other pages meanwhile (re can do neither).
REGEX_TIMEOUT_S = 1.0


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> "regex.Pattern":
    return regex.compile(pattern, flags=regex.VERSION0)  # VERSION0: re's own syntax and meaning

KINDS = ("exact", "normalized", "contains", "regex", "json_schema", "numeric", "classification",
         "similarity", "llm_judge")

DEFAULT_RUBRIC = (
    "You grade an AI output against a reference.\n"
    "Input: {input}\nReference answer: {expected}\nOutput to grade: {output}\n"
    "Reply with one number from 0 to 10 (10 = fully correct and complete), nothing else."
)


@dataclass
class ScorerSpec:
    column: str  # the expected-value name (dataset column)
    kind: str = "exact"
    field: str | None = None  # output field to read (default: column)
    pattern: str | None = None  # regex
    tolerance: float = 0.0  # numeric: absolute tolerance
    schema: dict | None = None  # json_schema
    judge_model: str | None = None  # llm_judge: a registry model id
    rubric: str = DEFAULT_RUBRIC

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UserError(f"unknown scorer {self.kind!r}; use one of {', '.join(KINDS)}.")
        if self.kind == "regex":
            try:
                _compiled(self.pattern or "")
            except regex.error as e:
                raise UserError(f"the regex scorer's pattern {self.pattern!r} is not valid ({e}).") from None
        if self.kind == "numeric" and not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise UserError(f"the numeric scorer's tolerance must be a finite number of 0 or more, "
                            f"not {self.tolerance!r} (a negative one matches nothing, inf everything).")
        if self.kind == "llm_judge" and not self.judge_model:
            raise UserError("the llm_judge scorer needs a judge model id from the registry.")

    @property
    def name(self) -> str:
        """How it is written on the command line, its argument included: two regex scorers (or
        two judges) of one column are two scorers, in a report and in an experiment's id."""
        arg = {"regex": self.pattern or "", "llm_judge": self.judge_model or "",
               "numeric": _number_name(self.tolerance) if self.tolerance else ""}.get(self.kind, "")
        return f"{self.column}:{self.kind}" + (f":{arg}" if arg else "")

    @classmethod
    def parse(cls, text: str) -> "ScorerSpec":
        """'COLUMN:KIND[:ARG]' as typed on the command line, e.g. sentiment:classification,
        score:numeric:0.5, code:regex:^[A-Z]{3}$, answer:llm_judge:openai/gpt-4o-mini."""
        column, _, rest = text.partition(":")
        kind, _, arg = rest.partition(":")
        if not column or not kind:
            raise UserError(f"--score {text!r} must look like COLUMN:KIND, e.g. sentiment:classification.")
        kw: dict[str, Any] = {}
        if kind == "regex":
            kw["pattern"] = arg
        elif kind == "numeric" and arg:
            try:
                kw["tolerance"] = float(arg)
            except ValueError:
                raise UserError(f"--score {text!r}: the numeric tolerance must be a number.") from None
        elif kind == "llm_judge":
            kw["judge_model"] = arg
        elif arg and kind in KINDS:  # a scorer that takes nothing more would ignore it without a word
            raise UserError(f"--score {text!r}: the {kind} scorer takes no argument; write {column}:{kind}.")
        return cls(column=column, kind=kind, **kw)


def _number_name(x: float) -> str:
    """A tolerance as short as it reads back the same: 0.5 and 1 as they were always written (so
    saved experiments keep their scorers' names), 100.0001 whole, not rounded to 6 digits as
    100 (two tolerances were one name, one experiment id)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def lookup(output: Any, path: str) -> tuple[bool, Any]:
    """(whether the output has the field at the dotted path, its value); a plain string output
    is its own 'text', at any path."""
    if isinstance(output, str):
        return True, output
    value = output
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def pick(output: Any, path: str) -> Any:
    """A field of the output by dotted path (None where there is none)."""
    return lookup(output, path)[1]


def has_field(output: Any, path: str) -> bool:
    """Whether the output has the field, rather than a null standing for its absence."""
    return lookup(output, path)[0]


def normalize(value: Any) -> str:
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _comparable(got: Any, expected: Any) -> tuple[str, str]:
    """Both values normalized, or, when that empties either ("-", "+", "?", "C++" against "C#"
    are all punctuation), both only stripped and casefolded: "-" was equal to "+"."""
    a, b = normalize(got), normalize(expected)
    if a and b:
        return a, b
    def plain(v: Any) -> str:
        return unicodedata.normalize("NFKC", "" if v is None else str(v)).casefold().strip()
    return plain(got), plain(expected)


def missing_expected(expected: Any) -> bool:
    """No expected value: none, an empty cell, or a float NaN (how pandas and Parquet write a
    missing number; it was scored as a wrong answer)."""
    return expected is None or expected == "" or (isinstance(expected, float) and math.isnan(expected))


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


class UnscorableRow(ValueError):
    """A row whose expected value the scorer cannot use: it is left unscored and counted."""


def _schema_of(expected: Any) -> Any:
    """The json_schema scorer's schema: the row's expected value, written as JSON or as a dict."""
    if not (isinstance(expected, str) and expected.strip()):
        return expected
    try:
        return json.loads(expected)
    except ValueError as e:
        raise UnscorableRow(f"its expected value {expected[:40]!r} is not a JSON schema ({e})") from None


NUMERIC_EPSILON = 1e-12  # relative: far above a float's rounding error, far below any tolerance meant


def score_value(spec: ScorerSpec, got: Any, expected: Any) -> float | None:
    """One row's score in [0, 1] for the non-judge scorers."""
    k = spec.kind
    if k == "json_schema":
        schema = spec.schema if spec.schema is not None else _schema_of(expected)
        if not isinstance(schema, dict):
            return None
        try:  # the schema first: one that cannot be used hid behind every output that is not JSON
            checker = jsonschema.validators.validator_for(schema)
            checker.check_schema(schema)
        except Exception as e:  # noqa: BLE001 - a schema that cannot be used (bad keyword)
            raise UnscorableRow(f"its schema cannot be used ({str(e).splitlines()[0][:120]})") from None
        value = got
        if isinstance(got, str):
            try:
                value = json.loads(got)
            except ValueError:
                return 0.0
        try:
            return 1.0 if checker(schema).is_valid(value) else 0.0
        except Exception as e:  # noqa: BLE001 - a $ref to nowhere shows only as it is followed
            raise UnscorableRow(f"its schema cannot be used ({str(e).splitlines()[0][:120]})") from None
    if missing_expected(expected):
        return None
    if got is None:
        return 0.0
    if k in ("exact", "classification"):
        return 1.0 if _as_text(got).strip() == _as_text(expected).strip() else 0.0
    if k == "normalized":
        a, b = _comparable(got, expected)
        return 1.0 if a == b else 0.0
    if k == "contains":  # an empty needle is in every answer: it is never found
        a, b = _comparable(got, expected)
        return 1.0 if b and b in a else 0.0
    if k == "regex":  # with no pattern of its own, each row's expected value is the pattern
        try:
            found = _compiled(spec.pattern or str(expected)).search(_as_text(got), timeout=REGEX_TIMEOUT_S,
                                                                    concurrent=True)
        except regex.error as e:
            raise UnscorableRow(f"its expected value {str(expected)[:40]!r} is not a regular expression ({e})") from None
        except TimeoutError:
            raise UnscorableRow(f"the pattern took longer than {REGEX_TIMEOUT_S:g} s on its output (it backtracks "
                                "without end, as (a+)+$ does); simplify the pattern") from None
        return 1.0 if found else 0.0
    if k == "numeric":
        try:
            want = float(expected)
        except (TypeError, ValueError):
            raise UnscorableRow(f"its expected value {str(expected)[:40]!r} is not a number") from None
        if not math.isfinite(want):  # inf - inf is nan: every answer scored 0
            raise UnscorableRow(f"its expected value {str(expected)[:40]!r} is not a finite number") from None
        try:  # with room for binary floats' error: abs(1.1 - 1.0) is 0.10000000000000009
            return 1.0 if abs(float(got) - want) <= spec.tolerance + NUMERIC_EPSILON * max(1.0, abs(want)) else 0.0
        except (TypeError, ValueError):  # an answer that is not a number is a wrong one
            return 0.0
    if k == "similarity":
        from rapidfuzz import fuzz

        return fuzz.token_sort_ratio(_as_text(got), _as_text(expected), processor=normalize) / 100.0
    raise UserError(f"scorer {k} needs a model call; it is graded by judge_rows, which calls the model.")


BOOTSTRAP_CELLS = 1 << 20  # draws made at once: all 1,000 resamples of 30k rows were 480 MB (100k: 1.6 GB)


def bootstrap_ci(values: list[float], *, resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean; seeded so a report is reproducible. The
    resamples are drawn a block at a time (the same draws, in the same order, as all at once)."""
    import numpy as np  # here, not at the top: the web app imports this module at start (~130 ms)

    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    n = len(arr)
    if n == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    block = max(1, BOOTSTRAP_CELLS // n)
    means = np.concatenate([arr[rng.integers(0, n, size=(min(block, resamples - done), n))].mean(axis=1)
                            for done in range(0, resamples, block)])
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_quality_ci(per_row: list[dict[Any, float | None]], *, resamples: int = 1000, level: float = 0.95,
                         seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a variant's quality, the mean of its scorers' means: the
    rows are resampled and each scorer's mean taken again over the resample (a scorer with no
    row in it left out, as from the quality). The interval of each row's mean over its scorers
    was another statistic: where scorers score different rows it could leave the quality out.
    With one scorer it is that scorer's interval (the same seeded draws)."""
    import numpy as np

    keys = sorted({k for scores in per_row for k, v in scores.items() if v is not None}, key=str)
    if not keys:
        return None
    arr = np.array([[np.nan if scores.get(k) is None else scores[k] for scores in per_row] for k in keys], dtype=float)
    present = ~np.isnan(arr)
    vals = np.where(present, arr, 0.0)
    n, k = arr.shape
    if n == 1:
        q = float(np.nanmean(arr[0]))
        return q, q
    rng = np.random.default_rng(seed)
    block = max(1, BOOTSTRAP_CELLS // (n * k))
    parts = []
    for done in range(0, resamples, block):
        idx = rng.integers(0, n, size=(min(block, resamples - done), n))
        counts = present[idx].sum(axis=1)  # (resample, scorer): every row has a score, so each resample some
        with np.errstate(invalid="ignore", divide="ignore"):
            means = vals[idx].sum(axis=1) / counts
        parts.append(np.nanmean(means, axis=1))
    lo, hi = np.quantile(np.concatenate(parts), [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def classification_report(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Accuracy, per-label precision/recall/F1 and the confusion matrix (expected -> predicted)."""
    labels = sorted({e for e, _ in pairs} | {p for _, p in pairs})
    matrix = {e: {p: 0 for p in labels} for e in labels}
    for e, p in pairs:
        matrix[e][p] += 1
    per_label = {}
    for lab in labels:
        tp = matrix[lab][lab]
        fp = sum(matrix[e][lab] for e in labels if e != lab)
        fn = sum(matrix[lab][p] for p in labels if p != lab)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[lab] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    correct = sum(1 for e, p in pairs if e == p)
    return {"accuracy": correct / len(pairs) if pairs else None, "labels": per_label, "confusion": matrix,
            "macroF1": sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else None}


@dataclass
class ScoreReport:
    scorer: str
    mean: float | None
    ci95: tuple[float, float] | None
    scored: int
    per_row: dict[int, float | None] = field(default_factory=dict)
    classification: dict | None = None
    judge_cost_usd: float | None = None  # the priced calls' sum (None: no priced call)
    judge_unpriced: int = 0  # judge calls with no known price (never counted as $0)
    judge_reused: int = 0  # rows whose grade came from the output cache (the same question asked before)
    field: str | None = None  # the output field read (None: the judge read the whole output)
    answered: int = 0  # rows that succeeded
    missing: int = 0  # of those, the rows whose output has no such field (each scored 0)
    judge_failed: int = 0  # rows the judge could not grade (not scored; graded when run again)
    judge_error: str | None = None  # the first of those failures, as one sentence
    unscorable: int = 0  # rows whose expected value the scorer cannot use (not scored)
    unscorable_why: str | None = None  # the first of those, as a clause

    def to_json(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "mean": self.mean, "ci95": list(self.ci95) if self.ci95 else None,
                "scored": self.scored, "perRow": {str(k): v for k, v in self.per_row.items()},
                "classification": self.classification, "judgeCostUsd": self.judge_cost_usd,
                "judgeUnpricedCalls": self.judge_unpriced, "judgeReused": self.judge_reused, "field": self.field, "answered": self.answered,
                "missingField": self.missing, "judgeFailed": self.judge_failed, "judgeError": self.judge_error,
                "unscorable": self.unscorable, "unscorableWhy": self.unscorable_why}


def _aggregate(spec: ScorerSpec, per_row: dict[int, float | None], pairs=None, judge_cost=None) -> ScoreReport:
    vals = [v for v in per_row.values() if v is not None]
    return ScoreReport(scorer=spec.name, mean=sum(vals) / len(vals) if vals else None, ci95=bootstrap_ci(vals),
                       scored=len(vals), per_row=per_row,
                       classification=classification_report(pairs) if pairs is not None else None,
                       judge_cost_usd=judge_cost)


def score_rows(spec: ScorerSpec, rows: Iterable[dict]) -> ScoreReport:
    """Score batch rows (as in rows.jsonl) with a non-judge scorer. A failed row scores 0, and
    so does an output without the field; the report counts those, so a 0 that only means "no
    such field" (a variant whose output names it differently) can be told from a wrong answer."""
    return score_each([spec], rows)[0]


def score_each(specs: list[ScorerSpec], rows: Iterable[dict]) -> list[ScoreReport]:
    """Several non-judge scorers over the rows in one pass (a batch's rows file read once, not
    once a scorer), a report each, as score_rows gives it."""
    scorings = [_Scoring(spec) for spec in specs]
    for r in rows:
        for scoring in scorings:
            scoring.add(r)
    return [scoring.report() for scoring in scorings]


FAILED_LABEL = "(failed)"  # what a failed row "predicted" in a confusion matrix


class _Scoring:
    """One scorer's figures, a row at a time."""

    def __init__(self, spec: ScorerSpec):
        self.spec = spec
        self.per_row: dict[int, float | None] = {}
        self.pairs: list[tuple[str, str]] | None = [] if spec.kind == "classification" else None
        self.path = spec.field or spec.column
        self.answered = self.missing = 0
        self.unscorable: list[str] = []

    def add(self, r: dict) -> None:
        spec = self.spec
        expected = (r.get("expected") or {}).get(spec.column)
        if r.get("status") != "succeeded":
            self.per_row[r["index"]] = None if missing_expected(expected) else 0.0
            if self.pairs is not None and not missing_expected(expected):  # a miss, as its score of 0 says
                self.pairs.append((_as_text(expected).strip(), FAILED_LABEL))
            return
        self.answered += 1
        found, got = lookup(r.get("output"), self.path)
        self.missing += not found
        try:
            self.per_row[r["index"]] = score_value(spec, got, expected)
        except UnscorableRow as e:
            self.per_row[r["index"]] = None
            self.unscorable.append(f"row {r['index']}: {e}")
        if self.pairs is not None and not missing_expected(expected):  # the texts the row's score compared
            self.pairs.append((_as_text(expected).strip(), "" if got is None else _as_text(got).strip()))

    def report(self) -> ScoreReport:
        report = _aggregate(self.spec, self.per_row, self.pairs)
        report.field, report.answered, report.missing = self.path, self.answered, self.missing
        report.unscorable = len(self.unscorable)
        report.unscorable_why = self.unscorable[0] if self.unscorable else None
        return report


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _grade(output: Any) -> float | None:
    """The judge's reply as a score in [0, 1]: its first number out of 10; None when it has none."""
    m = _NUMBER.search(str((output or {}).get("text", "")) if isinstance(output, dict) else str(output or ""))
    return None if m is None else max(0.0, min(10.0, float(m.group()))) / 10.0


def _excerpt(output: Any, size: int = 60) -> str:
    """A short quote of a judge's reply, for the note that says it could not be used."""
    text = " ".join(str(output.get("text", "") if isinstance(output, dict) else output or "").split())
    return repr(text if len(text) <= size else text[:size] + "…")


JUDGE_READ_AHEAD = 256  # rows read at a time; a row is kept only while its grade is asked


async def each_as_read(items: Iterable[Any], wanted: Callable[[Any], bool], work: Callable[[Any], Awaitable[None]],
                       *, part: int = JUDGE_READ_AHEAD) -> None:
    """`work(item)` for each item `wanted` says yes to, side by side (the work bounds itself: the
    judge's semaphore). The items are read `part` at a time in a thread (a batch's rows file, off
    the event loop), the next part while one is worked (a thread's turn at the GIL can take a
    while) and handed out only once at most a part's worth still waits: a million rows take the
    memory of three parts. The first error of any `work` ends it all."""
    import asyncio
    import itertools

    source = iter(items)
    waiting: set[asyncio.Task] = set()
    caught_up = asyncio.Event()
    error: Exception | None = None

    async def run(item) -> None:
        nonlocal error
        try:
            await work(item)
        except Exception as e:  # noqa: BLE001 - raised again below, once
            error = error or e
            caught_up.set()

    def finished(task: asyncio.Task) -> None:
        waiting.discard(task)
        if len(waiting) <= part:
            caught_up.set()

    def read() -> list:
        return list(itertools.islice(source, part))

    reading = asyncio.ensure_future(asyncio.to_thread(read))
    try:
        while items_read := await reading:
            reading = asyncio.ensure_future(asyncio.to_thread(read))  # the next part read while this one is worked
            for item in items_read:
                if wanted(item):
                    task = asyncio.ensure_future(run(item))
                    waiting.add(task)
                    task.add_done_callback(finished)
            while len(waiting) > part and error is None:
                caught_up.clear()
                await caught_up.wait()
            if error is not None:
                raise error
        if waiting:
            await asyncio.wait(waiting)
        if error is not None:
            raise error
    finally:
        reading.cancel()
        for task in list(waiting):  # (stopped, or an error: nothing is left running unwatched)
            task.cancel()


async def judge_rows(studio, spec: ScorerSpec, rows: Iterable[dict], *, concurrency: int = 4) -> ScoreReport:
    """LLM-as-judge: the judge model reads a rubric filled with input, expected and output and
    answers 0-10; each call goes through the hub (recorded and priced like any call). A grade
    is asked at temperature 0 and kept in the output cache, so a row graded before (the same
    rubric, output and judge) is not paid for again when an experiment gains a variant or
    runs again; the judge's cost is reported apart from the variants' and never moves them.
    `rows` may be a batch's file: they are graded as they are read (each_as_read)."""
    import asyncio

    from studio.engine.cache import cache_key, hit_record, model_version
    from studio.providers.errors import ProviderError
    from studio.providers.hub import CallContext
    from studio.spec.calls import CallRequest

    judge = studio.models.get(spec.judge_model)
    params = {"temperature": 0}
    sem = asyncio.Semaphore(concurrency)
    per_row: dict[int, float | None] = {}
    costs: list[float] = []
    reused = answered = without_field = unpriced = 0
    failures: list[str] = []

    async def one(r: dict) -> None:
        nonlocal reused, unpriced
        expected = (r.get("expected") or {}).get(spec.column)
        got = pick(r.get("output"), spec.field) if spec.field else r.get("output")
        prompt = spec.rubric.format(input=_as_text(r.get("inputs")), expected=_as_text(expected), output=_as_text(got))
        call_input = {"prompt": prompt}
        key = cache_key(model_id=judge.id, model_version=model_version(judge), params={**judge.default_params, **params},
                        prompt=None, system=None, call_input=call_input)
        hit = studio.engine.cache.get(key, built_in=judge.api == "local")
        if hit is not None and _grade(hit["output"]) is not None:  # (a reply without a grade cached before: asked again)
            reused += 1
            studio.providers.recorder.record_call(hit_record(judge, hit, run_id=r.get("runId"), node_id="judge"),
                                                  call_input, hit["output"])
            output = hit["output"]
        else:
            try:
                async with sem:
                    result = await studio.providers.call(
                        judge, CallRequest(model_id=judge.id, input=call_input, params=params),
                        context=CallContext(run_id=r.get("runId"), node_id="judge", routing_reason=f"judge for {spec.name}"))
            except ProviderError as e:  # this row is not graded (one attempt, as the hub makes), the others are
                failures.append(str(e))
                per_row[r["index"]] = None
                return
            if result.cost.usd is None:  # paid, at a price not known: unpriced, never $0
                unpriced += 1
            else:
                costs.append(result.cost.usd)
            output = result.output
            if _grade(output) is None:  # not cached: running the experiment again asks again
                failures.append(f"{judge.id} answered {_excerpt(output)}, which holds no grade from 0 to 10")
                per_row[r["index"]] = None
                return
            studio.engine.cache.put(key, {"output": result.output, "costUsd": result.cost.usd,
                                          "usage": result.usage.to_json_dict()}, model=judge.id)
        per_row[r["index"]] = _grade(output)

    def to_grade(r: dict) -> bool:
        """Counts the row. One that did not answer, or has no such field, scores 0 without the
        judge being asked (or paid)."""
        nonlocal answered, without_field
        if r.get("status") != "succeeded":
            per_row[r["index"]] = 0.0
            return False
        answered += 1
        if spec.field and not has_field(r.get("output"), spec.field):
            without_field += 1
            per_row[r["index"]] = 0.0
            return False
        return True

    await each_as_read(rows, to_grade, one)
    if failures and len(failures) == answered - without_field:
        raise UserError(f"the judge {judge.id} could not grade any row: {failures[0].rstrip('.')}. The variants' rows "
                        "are kept; running the same experiment again grades them.")
    report = _aggregate(spec, dict(sorted(per_row.items())), judge_cost=math.fsum(costs) if costs else None)
    report.judge_reused, report.judge_unpriced = reused, unpriced
    report.field, report.answered, report.missing = spec.field, answered, without_field
    report.judge_failed, report.judge_error = len(failures), failures[0] if failures else None
    return report
