"""Measured quality per model and capability, saved from experiments into the registry's data
(`IOM_HOME/quality.json`, beside `health.json`), with the dataset, scorers and date each figure
came from. Capability nodes rank by these figures instead of guessing from prices or model-id words."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.atomic import file_locked, write_json
from studio.errors import UserError


def quality_path(home: Path) -> Path:
    return home / "quality.json"


def move_out_of_models_folder(home: Path) -> None:
    """Scores were first saved as `models/quality.json`, where the model registry read them as
    a model that could not be read (a warning on every `iom models list`), and where a model
    with the id `quality` would have its file: moved beside `health.json`, once. A model's file
    (it has an `id`) stays where it is."""
    old = home / "models" / "quality.json"
    if not old.is_file() or quality_path(home).exists():
        return
    try:
        doc = json.loads(old.read_text("utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(doc, dict) and "id" not in doc:
        os.replace(old, quality_path(home))


def load_quality(home: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """{capability: {model_id: {"score", "dataset", "scorers", "experiment", "date", "rows",
    "modelVersion"}}} (modelVersion: the model's `answer_version` when it was measured)."""
    try:
        data = json.loads(quality_path(home).read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, ValueError):
        return {}


def _quality_to_update(home: Path) -> dict:
    """What is saved, to add to; a file that cannot be read is refused, not written over (the
    qualities in it may be mended by hand)."""
    path = quality_path(home)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UserError(f"{path} cannot be read ({type(e).__name__}); mend it or move it away, then save again. "
                        f"Nothing was saved.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not an object of capabilities; mend it or move it away, then save again. "
                        f"Nothing was saved.")
    return data


def counts_for(entry: dict, spec) -> bool:
    """Whether a saved score belongs to the model as it is now: it was measured on the same
    `answer_version` (scores saved before versions were kept count)."""
    from studio.engine.cache import answer_version

    return not entry.get("modelVersion") or entry["modelVersion"] == answer_version(spec)


def variant_model(variant: dict) -> str | None:
    """The one model a variant measures: a model target, or a pipeline with one node swapped."""
    if variant.get("swaps"):
        return next(iter(variant["swaps"].values())) if len(variant["swaps"]) == 1 else None
    return variant["target"] if "/" in variant["target"] else None


def save_from_experiment(home: Path, doc: dict, capability: str, models_known,
                         scorer: str | None = None) -> tuple[list[tuple[str, float]], list[str]]:
    """Store each model-measuring variant's quality for the capability: the mean over the
    experiment's scorers or, given `scorer`, that scorer's alone (an experiment that scores
    sentiment and language together measures each capability with one of them). Returns what
    was saved and, in a sentence each, the models left out because a scorer found no field to
    read in their outputs (a quality of 0 that routing would then hold against a model it never
    measured)."""
    from studio.eval.caveats import unread_scores

    capability = capability.strip()
    if not capability:
        raise UserError("name the capability the scores measure, e.g. sentiment.")
    if scorer is not None and scorer not in doc["scorers"]:
        raise UserError(f"experiment {doc['id']} has no scorer {scorer!r}; its scorers are "
                        f"{', '.join(doc['scorers'])}.")
    entries: dict[str, dict[str, Any]] = {}  # model -> what is saved for it
    saved: dict[str, float] = {}  # model -> quality, in the order they were (last) saved
    left_out: dict[str, str] = {}  # model -> why
    notes: list[str] = []
    for v in doc["variants"]:
        model = variant_model(v)
        quality = v.get("quality") if scorer is None else _scorer_mean(v, scorer)
        if model is None or quality is None or models_known(model) is None:
            continue
        if v.get("errorRate") == 1:  # every row failed: its scores of 0 measured no answer of the model
            left_out[model] = (f"{model}: not saved, because every row of {v['variant']} failed, so none of its "
                               "answers was scored; mend what made the rows fail and run the experiment again.")
            continue
        unread = [s for s in unread_scores(v, home) if scorer is None or s["scorer"] == scorer]
        if unread:
            reads = ", ".join(f"{s['field']!r} ({s['scorer']})" for s in unread)
            left_out[model] = (f"{model}: not saved, because none of its answers has the output field {reads}; "
                               "name the field in the variant (TARGET#COLUMN=FIELD) or leave that scorer out, "
                               "and run the experiment again.")
            continue
        entries[model] = {
            "score": quality, "dataset": doc.get("datasetId") or Path(doc["data"]).name,
            "scorers": [scorer] if scorer else doc["scorers"], "experiment": doc["id"], "date": doc["created"],
            "rows": v["rows"], "modelVersion": v.get("modelVersion")}
        earlier = saved.pop(model, None)
        if earlier is not None and earlier != quality:  # measured by two variants (two pipelines, say): the last counts
            notes.append(f"{model}: measured by more than one variant; saved the last one's quality "
                         f"({v['variant']}: {quality:.3f}), not {earlier:.3f}.")
        saved[model] = quality
    skipped = notes + [why for model, why in left_out.items() if model not in saved]  # not measured by another variant
    if not saved:
        if skipped:
            raise UserError(" ".join(["nothing was saved:", *skipped]))
        raise UserError(f"experiment {doc['id']} has no variant that measures one registry model "
                        "(a model target, or a pipeline with one node swapped); nothing was saved.")
    with file_locked(home / "quality.json.lock"):  # the web app and `iom eval save-quality` may save at once
        data = _quality_to_update(home)
        data.setdefault(capability, {}).update(entries)
        write_json(quality_path(home), data)
    return list(saved.items()), skipped


def _scorer_mean(variant: dict, scorer: str) -> float | None:
    return next((s["mean"] for s in variant.get("scores", []) if s["scorer"] == scorer), None)


def measured_for(home: Path, spec) -> list[dict[str, Any]]:
    """The scores saved for this model, one per capability, each marked `current` when it was
    measured on the model as it is now (an edit of what it answers retires it from routing)."""
    found = []
    for capability, models in sorted(load_quality(home).items()):
        entry = models.get(spec.id) if isinstance(models, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("score"), (int, float)):
            found.append({"capability": capability, **{k: entry.get(k) for k in ("score", "dataset", "date", "rows",
                                                                                "experiment")},
                          "current": counts_for(entry, spec)})
    return found


def quality_label(measured: list[dict[str, Any]]) -> str:
    """One line for the registry's detail: each capability's score and where it came from."""
    if not measured:
        return "not measured (an experiment's 'iom eval save-quality' adds it)"
    return "; ".join(f"{m['capability']} {m['score']:.3f} ({m['dataset']}, {str(m['date'])[:10]}, {m['rows']} rows"
                     + ("" if m["current"] else "; measured before the model was edited, not used") + ")"
                     for m in measured)
