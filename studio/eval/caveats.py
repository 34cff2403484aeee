"""What an experiment's figures do not say on their own, in one sentence each, kept with the
variant and shown under its table: rows that failed, answers without the field a scorer reads
(a 0 that only means "named differently"), rows a scorer or the LLM judge could not score.
`unread_scores` also keeps such zeros out of the registry's saved quality."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from studio.eval.batch import BatchRows
from studio.eval.scorers import has_field

if TYPE_CHECKING:
    from studio.eval.experiments import Variant


def failure_warnings(failed: int, first: dict | None, rows: int, batch_id: str) -> list[str]:
    """The variant's failed rows (how many, and the first of them), with the first one's error: a
    quality of 0 with 100% errors said nothing of why (a capability policy no model met, a key
    missing, a refused input)."""
    if not failed or first is None:
        return []
    why = str(first.get("error") or "no error recorded").rstrip(".")
    return [f"{failed} of {rows} rows failed and scored 0 (row {first['index']}: {why}); "
            f"'iom batch show {batch_id}' lists each row."]


def unread_scores(variant: dict, home: Path | None = None) -> list[dict]:
    """The variant's scores whose output field not one answered row has: their zeros say how
    the variant names its output, not how good its answers are. An experiment saved before
    the scores counted this is counted from its batch's rows (given `home`)."""
    scores = variant.get("scores", [])
    if home is not None and any("answered" not in s for s in scores):
        scores = _counted(variant, BatchRows(home, variant["batchId"]))
    return [s for s in scores if _reads_nothing(s)]


def _reads_nothing(score: dict) -> bool:
    """Not one answered row had the score's field."""
    return bool(score.get("answered")) and score.get("missingField") == score["answered"]


def _counted(variant: dict, rows: Iterable[dict]) -> list[dict]:
    """The scores with how many rows answered and how many of those lack each one's field, from
    one pass over the rows."""
    fields = []  # (score, the output field it reads)
    for s in variant.get("scores", []):
        column, _, kind = s["scorer"].partition(":")
        path = (variant.get("fields") or {}).get(column) or (None if kind == "llm_judge" else column)
        if path is not None:  # a judge given no field reads the whole output
            fields.append((s, path))
    answered, missing = 0, [0] * len(fields)
    for r in rows:
        if r.get("status") != "succeeded":
            continue
        answered += 1
        for i, (_, path) in enumerate(fields):
            missing[i] += not has_field(r.get("output"), path)
    return [{**s, "field": path, "answered": answered, "missingField": n} for (s, path), n in zip(fields, missing)]


def score_warnings(v: Variant, scores: list[dict], rows: Iterable[dict]) -> list[str]:
    """One sentence per score with rows the judge could not grade (not scored), and per score
    that read no field, or none in some rows (those rows scored 0)."""
    warnings = []
    for s in scores:
        if s.get("unscorable"):
            warnings.append(f"{s['scorer']}: {s['unscorable']} answered row(s) could not be scored ({s['unscorableWhy']}) "
                            "and are left out of its mean.")
        if s.get("judgeFailed"):
            warnings.append(f"{s['scorer']}: the judge could not grade {s['judgeFailed']} of {s['answered']} answered rows "
                            f"({s['judgeError'].rstrip('.')}); they are not scored, and running the same experiment "
                            "again grades them.")
        missing, answered, path = s.get("missingField") or 0, s.get("answered") or 0, s.get("field")
        if not missing:
            continue
        if not _reads_nothing(s):
            warnings.append(f"{s['scorer']}: {missing} of {answered} answered rows have no output field "
                            f"{path!r}; each of them scored 0.")
            continue
        column = s["scorer"].split(":")[0]
        named = replace(v, fields={**v.fields, column: "FIELD"}).name
        warnings.append(f"{s['scorer']}: none of the {answered} answered rows has an output field {path!r} "
                        f"({_output_fields(rows)}), so every row scored 0; if the answer is there under "
                        f"another name, write the variant as {named}")
    return warnings


def _output_fields(rows: Iterable[dict]) -> str:
    names = sorted({k for r in itertools.islice(rows, 50) if isinstance(r.get("output"), dict) for k in r["output"]})
    if not names:
        return "the outputs have no fields"
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"the outputs have {shown}"
