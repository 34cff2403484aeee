"""The Evaluate page: pick a dataset, variants and scorers; run with live progress; compare
variants in a table and a cost-versus-quality scatter with the Pareto front; diff two
variants row by row. The work is `studio.eval.experiments`, the same as `iom eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui

from studio.errors import UserError
from studio.eval.datasets import SAMPLE, list_datasets
from studio.eval.experiments import (Variant, by_scorer, delete_experiment, figure, first_row_diffs, judge_cost_text,
                                     list_experiments, load_experiment)
from studio.eval.jobs import ExperimentJob, experiment_jobs
from studio.eval.scorers import ScorerSpec
from studio.formats import money_total
from studio.registry.quality import save_from_experiment, variant_model
from studio.ui.app import get_studio
from studio.ui.batches_panel import batches_panel
from studio.ui.datasets_panel import datasets_panel
from studio.ui.shell import frame
from studio.ui.threads import io_bound
from studio.ui.widgets import confirm, dollars, says_when_empty

DEFAULT_VARIANTS = "review-triage\nlocal/sentiment-vader#sentiment=label"
# like with like: the second variant is a sentiment model alone (scored on language too, its ISO
# codes against the sample's language names halved its quality)
DEFAULT_SCORERS = "sentiment:classification"
DIFF_ROWS_SHOWN = 200  # the page's table; `iom eval compare` lists every row


def _fmt(v: float | None, kind: str = "") -> str:
    if v is None:
        return "—"
    if kind == "$":
        return dollars(v)
    if kind == "ms":
        return f"{v:,.0f} ms"
    if kind == "%":
        return f"{100 * v:.1f}%"
    return f"{v:.3f}"


def dataset_options(home: Path) -> dict[str, str]:
    """The imported datasets, then the shipped sample by its path."""
    options = {d.id: f"{d.id} ({d.rows} rows)" for d in list_datasets(home)}
    options[str(SAMPLE)] = "reviews.csv (sample, 197 labelled reviews)"
    return options


def earlier_options(docs: list[dict]) -> dict[str, str]:
    """The saved experiments, newest first, each named by when, on what and which variants."""
    out = {}
    for d in reversed(docs):
        names = ", ".join(v["variant"] for v in d.get("variants", []))
        data = d.get("datasetId") or Path(d.get("data", "")).name
        out[d["id"]] = f"{d.get('created', '')[:16].replace('T', ' ')} · {d['id']} · {data} · {names[:70]}"
    return out


def compare_rows(doc: dict) -> list[dict[str, Any]]:
    rows = []
    for i, v in enumerate(doc["variants"], 1):
        ci = v.get("qualityCi95")
        rows.append({"n": i, "variant": v["variant"], "quality": _fmt(v["quality"]),
                     "ci95": "—" if not ci else f"{ci[0]:.3f} – {ci[1]:.3f}",
                     "costRow": "unpriced" if v.get("unpricedRows") else _fmt(v["costPerRowUsd"], "$"),
                     "cost": money_total(v["costUsd"], v.get("unpricedRows")), "judgeCost": judge_cost(v),
                     "p50": _fmt(v["latencyP50Ms"], "ms"), "p95": _fmt(v["latencyP95Ms"], "ms"),
                     "errors": _fmt(v["errorRate"], "%"),
                     "cached": f"{v['cachedRows']} / {v['rows']}" if v.get("cachedRows") else "—",
                     "pareto": "Pareto" if v.get("pareto") else "", "byScorer": by_scorer(v) or "—"})
    return rows


def judge_cost(variant: dict) -> str:
    """What grading this variant's rows with an LLM judge cost: counted in the experiment apart
    from the variant's own cost (so it never moves the variant on the chart), and shown beside it."""
    return judge_cost_text(variant) or "—"


COLUMNS = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in [
    ("n", "#"), ("variant", "Variant"), ("quality", "Quality"), ("ci95", "95% CI"), ("costRow", "Cost / row"),
    ("cost", "Total cost"), ("judgeCost", "Judge cost"), ("p50", "p50"), ("p95", "p95"), ("errors", "Errors"), ("cached", "Rows from cache"),
    ("pareto", "Front"), ("byScorer", "By scorer")]]

# The row diff's long cells (an input, two outputs) end in an ellipsis, whole in their tooltip:
# at full length they made the table scroll sideways on a laptop's 1280 px.
DIFF_COLUMNS = [{"name": k, "label": k, "field": k, "align": "left",
                 **({} if k == "row" else {"classes": "ellipsis", "style": "max-width: 0; width: 25%"})}
                for k in ("row", "input", "expected", "A", "B")]
ELLIPSIS_CELL = '<q-td :props="props" :title="props.value">{{ props.value }}</q-td>'


LABEL_COLUMNS = [{"name": k, "label": label, "field": k, "align": "left"} for k, label in [
    ("label", "Label"), ("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"), ("support", "Support")]]
MATRIX_LABELS = 12  # a wider confusion matrix does not fit the page: `iom eval show ID --json` has it whole


def classification_views(doc: dict) -> list[dict[str, Any]]:
    """Each variant's classification reports as the page shows them (the table sums each up in
    one mean): a title, the per-label rows, and the confusion matrix's columns and rows (its
    columns keyed c0, c1, … since a label may be any text), or a note when it has too many."""
    views = []
    for i, v in enumerate(doc["variants"], 1):
        for score in v.get("scores") or ():
            report = score.get("classification") if isinstance(score, dict) else None
            if not report or not report.get("labels"):
                continue
            labels = list(report["labels"])
            view = {"title": f"Variant {i} ({v['variant']}), {score['scorer']}: accuracy {_fmt(report.get('accuracy'))}, "
                             f"macro-F1 {_fmt(report.get('macroF1'))}",
                    "labels": [{"label": lab, "precision": _fmt(m["precision"]), "recall": _fmt(m["recall"]),
                                "f1": _fmt(m["f1"]), "support": m["support"]} for lab, m in report["labels"].items()],
                    "columns": [], "matrix": [], "note": ""}
            if len(labels) > MATRIX_LABELS:
                view["note"] = (f"Confusion matrix: {len(labels)} labels, too many to show; "
                                f"'iom eval show {doc['id']} --json' has it.")
            else:
                confusion = report.get("confusion") or {}
                view["columns"] = [{"name": "expected", "label": "Expected ↓ predicted →", "field": "expected",
                                    "align": "left"}] + [{"name": f"c{n}", "label": lab, "field": f"c{n}"}
                                                         for n, lab in enumerate(labels)]
                view["matrix"] = [{"expected": lab, **{f"c{n}": confusion.get(lab, {}).get(p, 0)
                                                       for n, p in enumerate(labels)}} for lab in labels]
            views.append(view)
    return views


async def evaluate_page() -> None:
    studio = get_studio()
    options = await io_bound(dataset_options, studio.home)
    state: dict[str, Any] = {"doc": None}

    with frame("Evaluate"):
        ui.label("Evaluate").classes("text-h5")
        ui.label("Run variants over one dataset, score them, and compare quality against cost.").classes("text-grey-7")
        # The syntax goes in each field's hint, which wraps: in the label it was cut to "…[#CO…" at
        # 1280 px, and it is the only statement of it on the page.
        with ui.row().classes("w-full items-start gap-4"):
            data = ui.select(options, value=next(iter(options)), label="Dataset").classes("w-96").props(
                "data-testid=eval-dataset")
            limit = ui.number("Rows (limit)", value=20, min=1, precision=0).classes("w-32").props("data-testid=eval-limit")
            variants = ui.textarea("Variants, one a line", value=DEFAULT_VARIANTS).classes("w-96").props(
                'data-testid=eval-variants hint="TARGET[@NODE=MODEL or NODE=POLICY][#COLUMN=FIELD]"')
            scorers = ui.textarea("Scorers, one a line", value=DEFAULT_SCORERS).classes("w-72").props(
                'data-testid=eval-scorers hint="COLUMN:KIND[:ARG]"')

        async def imported(dataset_id: str) -> None:
            data.set_options(await io_bound(dataset_options, studio.home), value=dataset_id)

        async def look_again() -> None:
            """The list as it is when opened: a dataset imported or deleted with `iom datasets`
            while the page was open shows, or goes (the choice kept while it still exists)."""
            options = await io_bound(dataset_options, studio.home)
            if options != data.options:
                data.set_options(options, value=data.value if data.value in options else next(iter(options)))
        data.on("popup-show", look_again)
        await datasets_panel(studio.home, data, imported, look_again)
        with ui.row().classes("items-center gap-4"):
            button = ui.button("Run experiment", icon="play_arrow").props("data-testid=eval-run")
            stop = ui.button("Stop", icon="stop").props("outline data-testid=eval-stop").tooltip(
                "Start no further row; the rows in flight finish, and running the same experiment again "
                "goes on from there")
            stop.visible = False
            reuse = ui.checkbox("Reuse cached outputs").props("data-testid=eval-reuse-cache").tooltip(
                "Cheaper, but a row a cached output answered leaves that call's cost and latency out: "
                "off, every variant calls its models and is measured as it would run")
            progress_label = ui.label("").props("data-testid=eval-progress")
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            earlier = ui.select(earlier_options(await io_bound(list_experiments, studio.home)),
                                label="Or open an earlier experiment").classes("grow").props(
                "clearable data-testid=eval-earlier")
            delete = ui.button(icon="delete", color="negative").props(
                "flat round data-testid=eval-delete").tooltip("Delete the experiment chosen here")
            delete.bind_enabled_from(earlier, "value", backward=bool)
        bar = ui.linear_progress(value=0, show_value=False).classes("w-full")
        bar.visible = False
        results = ui.column().classes("w-full gap-4")

        jobs = experiment_jobs(studio)

        async def start() -> None:
            try:
                vs = [Variant.parse(line) for line in (variants.value or "").splitlines() if line.strip()]
                ss = [ScorerSpec.parse(line.strip()) for line in (scorers.value or "").splitlines() if line.strip()]
                n = int(limit.value) if limit.value else None
                job = jobs.start(studio, data.value, vs, ss, limit=n, use_cache=bool(reuse.value))
            except UserError as e:
                ui.notify(str(e), type="negative")
                if jobs.last is not None and jobs.last.running and state.get("job") is None:
                    follow(jobs.last)  # started from another tab since this page opened
                return
            follow(job)

        def follow(job: ExperimentJob) -> None:
            """Show the job's progress (the server runs it: a reload finds it here again)."""
            state["job"] = job
            button.disable()
            stop.visible = not job.stopping
            bar.visible = True
            progress_label.text = job.describe()
            watcher.activate()

        async def watch() -> None:
            job = state.get("job")
            if job is None:
                watcher.deactivate()
                return
            progress_label.text = job.describe()
            bar.value = job.done / job.total if job.total else 0
            if job.running:
                return
            watcher.deactivate()
            state["job"] = None
            job.seen = True
            button.enable()
            stop.visible = bar.visible = False
            if job.stopped:
                ui.notify(job.error[0].upper() + job.error[1:], type="info")
                progress_label.text = "Stopped; the rows done are kept."
                return
            if job.error:
                ui.notify(job.error, type="negative")
                progress_label.text = ""
                return
            await finished(job.result)

        async def finished(doc: dict) -> None:
            state["doc"] = doc
            earlier.set_options(earlier_options(await io_bound(list_experiments, studio.home)))
            if doc["id"] in earlier.options:  # (unless deleted from the CLI meanwhile)
                earlier.value = doc["id"]  # the one shown (open_earlier sees it is already)
            await show(doc)
            progress_label.text = f"Experiment {doc['id']} finished."  # once its figures are on the page

        def ask_stop() -> None:
            job = state.get("job")
            if job is not None and job.running:
                job.stop()
                stop.visible = False
                progress_label.text = job.describe()

        watcher = ui.timer(0.25, watch, active=False)
        button.on_click(start)
        stop.on_click(ask_stop)

        async def open_earlier() -> None:
            exp_id = earlier.value
            if not exp_id or (state["doc"] or {}).get("id") == exp_id:
                return
            try:
                doc = await io_bound(load_experiment, studio.home, exp_id)
            except UserError as e:
                ui.notify(str(e), type="negative")
                return
            state["doc"] = doc
            progress_label.text = f"Experiment {exp_id}, run {doc.get('created', '')[:16].replace('T', ' ')} UTC."
            await show(doc)
            # The form says what this experiment ran (another dataset, the defaults, stayed):
            # Run experiment then runs it again, and goes on where it stopped.
            ran_on = doc.get("datasetId") or doc.get("data")  # (the shipped sample is picked by its path)
            if ran_on in data.options:
                data.value = ran_on
            else:  # not a silent run on whatever the form holds
                ui.notify(f"Experiment {exp_id} ran on {Path(str(ran_on)).name}, which is not among the datasets here; "
                          "Run experiment runs it on the dataset the form names.", type="warning")
            limit.value = doc.get("limit")
            variants.value = "\n".join(v["variant"] for v in doc.get("variants") or [] if v.get("variant"))
            scorers.value = "\n".join(doc.get("scorers") or [])

        earlier.on_value_change(open_earlier)

        async def remove(exp_id: str) -> None:
            await io_bound(delete_experiment, studio.home, exp_id)
            if (state["doc"] or {}).get("id") == exp_id:
                state["doc"] = None
                results.clear()
                progress_label.text = ""
            earlier.set_options(earlier_options(await io_bound(list_experiments, studio.home)), value=None)
            ui.notify(f"Deleted experiment {exp_id}; its batches stay, so running the same variants again "
                      "resumes them ('iom eval delete --with-batches' removes those too).", type="positive")

        def ask_delete() -> None:
            exp_id = earlier.value
            if exp_id:
                confirm(f"Delete experiment {exp_id}? Its figures go; the runs stay in the analytics.",
                        lambda: remove(exp_id))

        delete.on_click(ask_delete)

        def save_quality_row(doc: dict) -> None:
            """`iom eval save-quality` on the page: the scores of the variants that measure one
            model become what quality-aware capability nodes route by."""
            with ui.row().classes("items-center gap-2"):
                capability = ui.input("Capability the scores measure", value=doc["scorers"][0].split(":")[0]).classes(
                    "w-72").props("data-testid=eval-capability")
                scorer = None
                if len(doc["scorers"]) > 1:  # each capability is best measured by its own scorer
                    scorer = ui.select({"": "the mean over all scorers", **{n: n for n in doc["scorers"]}}, value="",
                                       label="Score to save").classes("w-72").props("data-testid=eval-quality-scorer")

                async def save() -> None:
                    try:
                        saved, notes = await io_bound(save_from_experiment, studio.home, doc, capability.value or "",
                                                      studio.models.find, (scorer.value or None) if scorer else None)
                    except UserError as e:
                        ui.notify(str(e), type="negative", multi_line=True)
                        return
                    said = ", ".join(f"{model} {score:.3f}" for model, score in saved)
                    ui.notify(f"Saved the measured quality for {capability.value.strip()!r}: {said}.", type="positive")
                    for note in notes:
                        ui.notify(note, type="warning", multi_line=True)

                ui.button("Save quality for routing", icon="save", on_click=save).props(
                    "outline data-testid=eval-save-quality").tooltip(
                    "Capability nodes that choose by quality use these scores (with the dataset and date)")

        async def show(doc: dict) -> None:
            results.clear()
            with results:
                # wrap-cells: long names and the by-scorer means wrap, the table fits a laptop's width
                ui.table(columns=COLUMNS, rows=compare_rows(doc), row_key="n").classes("w-full").props(
                    "dense flat wrap-cells data-testid=eval-compare")
                warnings = [f"Variant {i}, {w}" for i, v in enumerate(doc["variants"], 1) for w in v.get("warnings") or ()]
                if warnings:
                    with ui.column().classes("gap-1").props("data-testid=eval-warnings"):
                        for warning in warnings:
                            with ui.row().classes("items-start no-wrap gap-2 text-warning"):
                                ui.icon("warning")
                                ui.label(warning)
                views = classification_views(doc)
                if views:  # per-label figures and confusion matrices, folded: the table leads
                    with ui.column().classes("w-full gap-0").props("data-testid=eval-classification"):
                        for view in views:
                            with ui.expansion(view["title"], icon="grid_on").classes("w-full"):
                                ui.table(columns=LABEL_COLUMNS, rows=view["labels"], row_key="label").props(
                                    "dense flat data-testid=eval-labels")
                                if view["matrix"]:
                                    ui.table(columns=view["columns"], rows=view["matrix"], row_key="expected").props(
                                        "dense flat data-testid=eval-confusion")
                                else:
                                    ui.label(view["note"])
                ui.plotly(figure(doc)).classes("w-full h-96 eval-chart")
                if any(variant_model(v) for v in doc["variants"]):
                    save_quality_row(doc)
                names = {str(i): f"{i}. {v['variant']}" for i, v in enumerate(doc["variants"], 1)}
                if len(names) >= 2:
                    ui.label("Rows where two variants differ").classes("text-h6")
                    with ui.row().classes("items-center gap-4"):
                        a = ui.select(names, value="1", label="A").classes("w-80").props("data-testid=eval-a")
                        b = ui.select(names, value="2", label="B").classes("w-80").props("data-testid=eval-b")
                    diff_box = ui.column().classes("w-full")

                    async def refresh_diff() -> None:
                        diff, count = await io_bound(first_row_diffs, studio.home, doc, a.value, b.value, DIFF_ROWS_SHOWN)
                        diff_box.clear()
                        with diff_box:
                            shown = f" (the first {len(diff)} shown; 'iom eval compare {doc['id']} {a.value} {b.value}' lists all)" \
                                if count > len(diff) else ""
                            ui.label(f"{count} row(s) differ{shown}").props("data-testid=eval-diff-count")
                            table = ui.table(columns=DIFF_COLUMNS, rows=[
                                {"row": d["index"], "input": str(d["inputs"]), "expected": str(d["expected"]),
                                 "A": str(d["a"]["fields"]), "B": str(d["b"]["fields"])} for d in diff],
                                row_key="row", pagination=10).classes("w-full").props(
                                "dense flat data-testid=eval-diff")
                            table.add_slot("body-cell", ELLIPSIS_CELL)
                            says_when_empty(table, "No row differs: the two variants gave the same answer on "
                                                   "every row.")
                    a.on_value_change(refresh_diff)
                    b.on_value_change(refresh_diff)
                    await refresh_diff()

        last = jobs.last  # what the server runs, or ran while no page watched (a closed tab):
        if last is not None and (last.running or not last.seen):  # its end is shown once
            follow(last)

        await batches_panel(studio)
