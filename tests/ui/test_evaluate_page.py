"""The Evaluate page, simulated: an earlier experiment is opened and deleted from the page
(tests/browser/test_evaluate_page.py runs and compares in real Chromium)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nicegui.testing import User

from studio.eval.datasets import SAMPLE
from tests.helpers.batches import stopped_batch
from tests.ui.util import all_by_testid, by_testid, element, set_value, settle, wait_until

ROOT = Path(__file__).resolve().parents[2]


def experiment(limit: int, *scorers: str) -> str:
    scored = [arg for name in scorers or ("sentiment:classification",) for arg in ("-s", name)]
    r = subprocess.run([sys.executable, "-m", "studio", "eval", "run", "--data", str(SAMPLE), "-v", "review-triage",
                        "-v", "local/sentiment-vader#sentiment=label", *scored,
                        "--limit", str(limit), "--json"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["id"]


async def test_an_earlier_experiment_is_deleted_from_the_page(user: User, iom_home):
    keep, gone = experiment(2), experiment(3)
    await user.open("/evaluate")
    assert not element(user, "eval-delete").enabled  # nothing chosen yet
    assert set(element(user, "eval-earlier").options) == {keep, gone}
    set_value(user, "eval-earlier", gone)
    await settle()
    assert all_by_testid(user, "eval-compare") and gone in element(user, "eval-progress").text
    assert element(user, "eval-delete").enabled
    by_testid(user, "eval-delete").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    await user.should_see(f"Deleted experiment {gone}; its batches stay")
    assert not (iom_home / "experiments" / f"{gone}.json").exists()
    assert (iom_home / "experiments" / f"{keep}.json").exists()
    assert set(element(user, "eval-earlier").options) == {keep} and element(user, "eval-earlier").value is None
    assert not all_by_testid(user, "eval-compare") and element(user, "eval-progress").text == ""
    assert not element(user, "eval-delete").enabled
    doc = json.loads((iom_home / "experiments" / f"{keep}.json").read_text())
    assert all((iom_home / "batches" / v["batchId"]).is_dir() for v in doc["variants"])


async def test_each_variants_classification_report_is_on_the_page(user: User, iom_home):
    """Per-label precision/recall/F1 and the confusion matrix were in `iom eval show --json` only:
    each variant's classification scorer now has them in a fold under the table."""
    exp_id = experiment(20)
    doc = json.loads((iom_home / "experiments" / f"{exp_id}.json").read_text())
    await user.open("/evaluate")
    set_value(user, "eval-earlier", exp_id)
    await settle()
    assert len(all_by_testid(user, "eval-classification")) == 1
    shown_labels, shown_matrices = all_by_testid(user, "eval-labels"), all_by_testid(user, "eval-confusion")
    assert len(shown_labels) == len(shown_matrices) == 2
    for v, labels_table, matrix_table in zip(doc["variants"], shown_labels, shown_matrices):
        report = v["scores"][0]["classification"]
        labels = list(report["labels"])
        assert [(r["label"], r["precision"], r["recall"], r["f1"], r["support"]) for r in labels_table.rows] == [
            (lab, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"])
            for lab, m in report["labels"].items()]
        assert [c["label"] for c in matrix_table.columns][1:] == labels
        assert [[r["expected"], *(r[f"c{n}"] for n in range(len(labels)))] for r in matrix_table.rows] == [
            [lab, *(report["confusion"][lab][p] for p in labels)] for lab in labels]


async def test_an_earlier_experiment_opened_fills_the_form_with_what_it_ran(user: User, iom_home):
    """The form kept its defaults (and another dataset) beside the experiment it showed."""
    exp_id = experiment(2, "sentiment:regex:^pos", "sentiment:classification")
    other = iom_home / "other.csv"  # an imported dataset: the form's first choice, not what the experiment ran on
    other.write_text("text,sentiment\nfine,positive\n", encoding="utf-8")
    imported = subprocess.run([sys.executable, "-m", "studio", "datasets", "import", str(other)], cwd=ROOT,
                              capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    await user.open("/evaluate")
    assert element(user, "eval-dataset").value != str(SAMPLE)
    set_value(user, "eval-earlier", exp_id)
    await settle()
    assert element(user, "eval-dataset").value == str(SAMPLE)  # it stayed on the imported one: Run ran that
    assert element(user, "eval-variants").value == "review-triage\nlocal/sentiment-vader#sentiment=label"
    assert element(user, "eval-scorers").value == "sentiment:regex:^pos\nsentiment:classification"
    assert element(user, "eval-limit").value == 2


async def test_the_measured_quality_is_saved_for_routing_from_the_page(user: User, iom_home):
    from studio.registry.quality import load_quality

    exp_id = experiment(4)
    doc = json.loads((iom_home / "experiments" / f"{exp_id}.json").read_text())
    vader = doc["variants"][1]["quality"]
    await user.open("/evaluate")
    set_value(user, "eval-earlier", exp_id)
    await settle()
    assert element(user, "eval-capability").value == "sentiment"  # the scored column, to start from
    assert not all_by_testid(user, "eval-quality-scorer")  # one scorer: its score is the quality
    set_value(user, "eval-capability", " classify ")
    by_testid(user, "eval-save-quality").click()
    await settle()
    await user.should_see(f"Saved the measured quality for 'classify': local/sentiment-vader {vader:.3f}.")
    saved = load_quality(iom_home)["classify"]["local/sentiment-vader"]
    assert saved["score"] == vader and saved["experiment"] == exp_id
    set_value(user, "eval-capability", "")
    by_testid(user, "eval-save-quality").click()
    await settle()
    await user.should_see("name the capability the scores measure")


async def open_questions_experiment(user: User, iom_home, rows: str) -> None:
    """The Evaluate page set to run `loop/chat` over a dataset "questions" of prompt,answer
    `rows`, scored by normalized match: the next click on Run starts it."""
    from studio.eval.datasets import import_dataset

    csv = iom_home / "questions.csv"
    csv.write_text("prompt,answer\n" + rows, encoding="utf-8")
    import_dataset(iom_home, csv, "questions")
    await user.open("/evaluate")
    set_value(user, "eval-dataset", "questions")
    set_value(user, "eval-variants", "loop/chat#answer=text")
    set_value(user, "eval-scorers", "answer:normalized")


def held_answers(fake) -> None:
    """Plain chat answers that the fake holds half sent until the test opens `fake.gate`."""
    from tests.ui.fake_chat import CHAT_PATH, held_plain_answer

    fake.reply(CHAT_PATH, held_plain_answer("yes"))


async def test_a_reloaded_page_follows_the_running_experiment_to_its_result(user: User, iom_home, loopback_model):
    held_answers(loopback_model)
    await open_questions_experiment(user, iom_home, "Is water wet?,yes\nIs fire cold?,no\n")
    by_testid(user, "eval-run").click()
    await wait_until(lambda: "0 / 2 rows" in element(user, "eval-progress").text, "the first page's progress")

    await user.open("/evaluate")  # a reload: the page before is gone, the run goes on
    await wait_until(lambda: "loop/chat#answer=text: 0 / 2 rows" in element(user, "eval-progress").text,
                     "the reloaded page's progress")
    assert not element(user, "eval-run").enabled  # no second run of the same batch
    assert not all_by_testid(user, "eval-compare")
    loopback_model.gate.set()
    await wait_until(lambda: "finished" in element(user, "eval-progress").text, "the end of the run")
    assert element(user, "eval-run").enabled
    rows = element(user, "eval-compare").rows
    assert [r["variant"] for r in rows] == ["loop/chat#answer=text"] and rows[0]["quality"] == "0.500"
    exp_id = element(user, "eval-progress").text.split()[1]
    assert element(user, "eval-earlier").value == exp_id and (iom_home / "experiments" / f"{exp_id}.json").exists()

    await user.open("/evaluate")  # shown once: a later visit starts with an empty page
    await settle()
    assert element(user, "eval-progress").text == "" and not all_by_testid(user, "eval-compare")


async def test_finished_is_said_once_the_figures_are_on_the_page(user: User, iom_home, loopback_model, monkeypatch):
    """Tests and people read "finished" as "the comparison is there": the list of earlier
    experiments is read (here slowly, as on a loaded machine) before it is said."""
    import time

    import studio.ui.evaluate_page as page
    from tests.ui.fake_chat import CHAT_PATH, plain_answer

    loopback_model.reply(CHAT_PATH, plain_answer("yes"))
    real_list = page.list_experiments
    monkeypatch.setattr(page, "list_experiments", lambda home: (time.sleep(0.5), real_list(home))[1])
    await open_questions_experiment(user, iom_home, "Is water wet?,yes\nIs fire cold?,no\n")
    by_testid(user, "eval-run").click()
    await wait_until(lambda: "finished" in element(user, "eval-progress").text, "the end of the run")
    assert [r["variant"] for r in element(user, "eval-compare").rows] == ["loop/chat#answer=text"]


async def test_stop_lets_the_rows_in_flight_finish_and_a_new_run_goes_on(user: User, iom_home, loopback_model):
    held_answers(loopback_model)
    await open_questions_experiment(user, iom_home,
                                    "".join(f"Question {i}?,{'yes' if i % 2 else 'no'}\n" for i in range(10)))
    assert not element(user, "eval-stop").visible
    by_testid(user, "eval-run").click()
    await wait_until(lambda: len(loopback_model.requests) == 8, "the page's 8 rows in flight")
    assert element(user, "eval-stop").visible
    by_testid(user, "eval-stop").click()
    await wait_until(lambda: "stopping" in element(user, "eval-progress").text, "the stop being shown")
    assert "waiting for the rows in flight" in element(user, "eval-progress").text
    loopback_model.gate.set()
    await wait_until(lambda: element(user, "eval-progress").text == "Stopped; the rows done are kept.", "the stop")
    await user.should_see("Stopped at loop/chat#answer=text (8 of 10 rows done)")
    assert element(user, "eval-run").enabled and not element(user, "eval-stop").visible
    assert len(loopback_model.requests) == 8 and not list((iom_home / "experiments").glob("*.json"))

    by_testid(user, "eval-run").click()  # the same experiment: its batch goes on with the 2 rows left
    await wait_until(lambda: "finished" in element(user, "eval-progress").text, "the run that goes on")
    assert len(loopback_model.requests) == 10
    assert element(user, "eval-compare").rows[0]["quality"] == "0.500"


async def test_one_scorer_of_several_is_saved_from_the_page(user: User, iom_home):
    from studio.registry.quality import load_quality

    exp_id = experiment(4, "sentiment:classification", "language:classification")
    doc = json.loads((iom_home / "experiments" / f"{exp_id}.json").read_text())
    vader = next(s["mean"] for s in doc["variants"][1]["scores"] if s["scorer"] == "sentiment:classification")
    await user.open("/evaluate")
    set_value(user, "eval-earlier", exp_id)
    await settle()
    assert element(user, "eval-quality-scorer").value == ""  # the mean over both, unless one is chosen
    set_value(user, "eval-quality-scorer", "sentiment:classification")
    by_testid(user, "eval-save-quality").click()
    await settle()
    await user.should_see(f"Saved the measured quality for 'sentiment': local/sentiment-vader {vader:.3f}.")
    saved = load_quality(iom_home)["sentiment"]["local/sentiment-vader"]
    assert saved["score"] == vader != doc["variants"][1]["quality"] and saved["scorers"] == ["sentiment:classification"]


async def test_a_batch_run_in_a_terminal_counts_up_on_the_page_and_its_rows_download(user: User, iom_home, loopback_model):
    """`iom batch run` is another process: the page follows its rows file, not a job of its own."""
    import os

    from tests.ui.fake_chat import KEY

    held_answers(loopback_model)
    data = iom_home / "questions.csv"
    data.write_text("prompt\nIs water wet?\nIs fire cold?\n", encoding="utf-8")
    await user.open("/evaluate")
    assert element(user, "eval-batches").rows == []
    cli = subprocess.Popen([sys.executable, "-m", "studio", "batch", "run", "loop/chat", "--data", str(data),
                            "--concurrency", "1"], cwd=ROOT, env={**os.environ, "LOOP_KEY": KEY},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        await wait_until(lambda: [(r["done"], r["state"]) for r in element(user, "eval-batches").rows]
                         == [("0 / 2", "running")], "the terminal's batch, running, on the page", rounds=1500)
        loopback_model.gate.set()
        await wait_until(lambda: [(r["done"], r["state"]) for r in element(user, "eval-batches").rows]
                         == [("2 / 2", "finished")], "its rows counted and its end", rounds=1500)
        _, stderr = cli.communicate(timeout=60)
        assert cli.returncode == 0, stderr
    finally:
        cli.kill()
    (row,) = element(user, "eval-batches").rows
    assert row["target"] == "loop/chat" and row["data"] == "questions.csv" and row["failed"] == "0"

    by_testid(user, "eval-batches").trigger("rowClick", [{}, {"id": row["id"]}, 0])
    await wait_until(lambda: all_by_testid(user, "eval-batch-rows"), "the batch's rows")
    assert element(user, "eval-batch-summary").text.startswith("2 of 2 rows done, 0 failed")
    shown = element(user, "eval-batch-rows").rows
    assert [(r["row"], r["status"]) for r in shown] == [(0, "succeeded"), (1, "succeeded")]
    assert shown[0]["input"] == '{"prompt": "Is water wet?"}' and '"yes"' in shown[0]["output"]  # JSON, as the CLI shows it
    by_testid(user, "eval-batch-csv").click()
    body = (await user.download.next(timeout=5)).text
    header, *lines = body.strip().splitlines()
    assert header.startswith('"index","run_id","status"') and len(lines) == 2 and all("succeeded" in line for line in lines)


async def test_a_batch_is_deleted_from_the_page_unless_it_is_being_run(user: User, iom_home):
    from studio.eval.batch import BatchLock, batch_dir

    for limit in ("2", "3"):
        r = subprocess.run([sys.executable, "-m", "studio", "batch", "run", "review-triage", "--data", str(SAMPLE),
                            "--limit", limit, "--json"], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    await user.open("/evaluate")
    await wait_until(lambda: len(element(user, "eval-batches").rows) == 2, "the two batches")
    two, three = sorted(element(user, "eval-batches").rows, key=lambda r: r["done"])
    running = BatchLock(batch_dir(iom_home, three["id"]), three["id"])
    running.acquire("")  # as a terminal's run holds it
    try:
        by_testid(user, "eval-batches").trigger("rowClick", [{}, {"id": three["id"]}, 0])
        await wait_until(lambda: all_by_testid(user, "eval-batch-delete"), "the batch's dialog")
        by_testid(user, "eval-batch-delete").click()
        by_testid(user, "confirm-ok").click()
        await wait_until(lambda: any(f"batch {three['id']} is being run" in m for m in user.notify.messages),
                         "the refusal (a run's lock is waited out for a moment first)")
        assert (batch_dir(iom_home, three["id"]) / "rows.jsonl").exists()
    finally:
        running.release()

    await user.open("/evaluate")
    await wait_until(lambda: len(element(user, "eval-batches").rows) == 2, "the two batches again")
    by_testid(user, "eval-batches").trigger("rowClick", [{}, {"id": two["id"]}, 0])
    await wait_until(lambda: all_by_testid(user, "eval-batch-delete"), "the batch's dialog")
    by_testid(user, "eval-batch-delete").click()
    by_testid(user, "confirm-ok").click()
    await wait_until(lambda: f"Deleted batch {two['id']}: 2 rows; its runs stay in the analytics." in user.notify.messages,
                     "the deletion's sentence")
    assert not batch_dir(iom_home, two["id"]).exists() and batch_dir(iom_home, three["id"]).is_dir()
    await wait_until(lambda: [r["id"] for r in element(user, "eval-batches").rows] == [three["id"]], "the table without it")


async def open_batch(user: User, batch_id: str) -> None:
    by_testid(user, "eval-batches").trigger("rowClick", [{}, {"id": batch_id}, 0])
    await wait_until(lambda: all_by_testid(user, "eval-batch-rows"), "the batch's dialog")


async def test_a_stopped_batch_goes_on_from_the_page_and_ends_as_a_whole_run(user: User, iom_home):
    from studio.eval.batch import BatchLock, batch_dir, load_rows

    batch_id = stopped_batch(iom_home, "review-triage", "--data", str(SAMPLE), "--limit", "6", keep=2)
    kept = load_rows(iom_home, batch_id)
    await user.open("/evaluate")
    await wait_until(lambda: [(r["done"], r["state"]) for r in element(user, "eval-batches").rows]
                     == [("2 / 6", "stopped (its rows can go on)")], "the stopped batch")

    terminal = BatchLock(batch_dir(iom_home, batch_id), batch_id)
    await open_batch(user, batch_id)
    await user.should_see(f"iom batch run --resume {batch_id}")
    terminal.acquire("")  # a terminal takes it while the dialog is open: refused, nothing run twice
    try:
        by_testid(user, "eval-batch-resume").click()
        await wait_until(lambda: any(f"batch {batch_id} is being run" in m for m in user.notify.messages), "the refusal")
    finally:
        terminal.release()
    assert load_rows(iom_home, batch_id) == kept

    by_testid(user, "eval-batch-resume").click()
    await wait_until(lambda: f"Batch {batch_id} goes on from here; it counts up in the table." in user.notify.messages,
                     "the resume")
    await wait_until(lambda: [(r["done"], r["state"]) for r in element(user, "eval-batches").rows]
                     == [("6 / 6", "finished")], "its rows counted to the end", rounds=1500)
    await wait_until(lambda: f"Batch {batch_id} finished: 6 succeeded, 0 failed." in user.notify.messages,
                     "how it ended, told to the page that resumed it")
    rows = load_rows(iom_home, batch_id)
    assert sorted(rows) == list(range(6)) and all(rows[i] == kept[i] for i in kept)  # the done rows not run again
    assert all(r["status"] == "succeeded" for r in rows.values())

    await open_batch(user, batch_id)  # finished: nothing to resume
    assert not all_by_testid(user, "eval-batch-resume")


async def stopped_loopback_batch(user: User, iom_home, loopback_model, rows: int) -> tuple[str, int]:
    """A batch of `rows` questions to the loopback model stopped after its first row, its next
    answers held until the test opens `fake.gate`, shown in its dialog on the Evaluate page; its
    id, and how many questions the model was asked before."""
    from tests.ui.fake_chat import CHAT_PATH, KEY, plain_answer

    data = iom_home / "questions.csv"
    data.write_text("prompt\n" + "".join(f"Question {i}?\n" for i in range(rows)), encoding="utf-8")
    loopback_model.reply(CHAT_PATH, plain_answer("yes"))
    batch_id = stopped_batch(iom_home, "loop/chat", "--data", str(data), "--concurrency", "1", keep=1,
                             env={"LOOP_KEY": KEY})
    held_answers(loopback_model)
    asked = len(loopback_model.requests)
    await user.open("/evaluate")
    await wait_until(lambda: element(user, "eval-batches").rows, "the stopped batch")
    await open_batch(user, batch_id)
    return batch_id, asked


async def test_a_batch_resumed_from_the_page_stops_with_its_rows_in_flight_kept(user: User, iom_home, loopback_model):
    from studio.eval.batch import load_rows

    batch_id, asked = await stopped_loopback_batch(user, iom_home, loopback_model, 4)
    assert not all_by_testid(user, "eval-batch-stop")  # nothing runs it here yet
    by_testid(user, "eval-batch-resume").click()
    await wait_until(lambda: len(loopback_model.requests) == asked + 1, "its next row in flight")
    await wait_until(lambda: element(user, "eval-batches").rows[0]["state"] == "running", "the table's running state")

    await open_batch(user, batch_id)
    assert not all_by_testid(user, "eval-batch-resume")  # it runs: only Stop
    by_testid(user, "eval-batch-stop").click()
    await wait_until(lambda: any("starts no further row" in m for m in user.notify.messages), "the stop")
    loopback_model.gate.set()
    await wait_until(lambda: f"Batch {batch_id} stopped: 2 of 4 rows done and kept." in user.notify.messages,
                     "how it ended")
    assert len(loopback_model.requests) == asked + 1 and sorted(load_rows(iom_home, batch_id)) == [0, 1]
    await wait_until(lambda: [(r["done"], r["state"]) for r in element(user, "eval-batches").rows]
                     == [("2 / 4", "stopped (its rows can go on)")], "the table after the stop")


async def test_the_rows_that_differ_are_counted_and_the_first_of_them_shown(user: User, iom_home, monkeypatch):
    """The page's table holds the first rows that differ, its label how many differ in all and
    the command that lists every one (two big batches' rows are not sent to the page)."""
    import studio.ui.evaluate_page as evaluate_page

    monkeypatch.setattr(evaluate_page, "DIFF_ROWS_SHOWN", 2)
    exp_id = experiment(5, "sentiment:classification", "language:normalized")
    await user.open("/evaluate")
    set_value(user, "eval-earlier", exp_id)
    await settle()
    # the bare model gives language codes where the pipeline gives names: every row differs
    assert element(user, "eval-diff-count").text == \
        f"5 row(s) differ (the first 2 shown; 'iom eval compare {exp_id} 1 2' lists all)"
    assert [r["row"] for r in element(user, "eval-diff").rows] == [0, 1]


async def test_the_rows_download_of_a_batch_that_is_not_there_is_one_sentence(user: User, iom_home):
    await user.open("/evaluate")
    for batch_id, said in (("b0b0b0b0b0b0b0b0", "no batch 'b0b0b0b0b0b0b0b0'; 'iom batch list' shows the batches."),
                           ("a b", "'a b' is not a batch id; 'iom batch list' shows the batches.")):
        r = await user.http_client.get(f"/evaluate/batches/{batch_id}/rows.csv")
        assert (r.status_code, r.text) == (404, said)


async def test_how_a_resumed_batch_ended_is_told_once_to_the_next_page_when_its_page_was_closed(
        user: User, iom_home, loopback_model):
    """The page that resumed a batch was the only one told how it ended: closed before the end
    (a tab shut, another page opened), the end was told to no one."""
    from studio.eval.batch_jobs import batch_jobs
    from studio.ui.app import get_studio

    batch_id, asked = await stopped_loopback_batch(user, iom_home, loopback_model, 3)
    by_testid(user, "eval-batch-resume").click()
    await wait_until(lambda: len(loopback_model.requests) == asked + 1, "its next row in flight")
    resumed_on = user.client
    await user.open("/settings")
    resumed_on.delete()  # the page that resumed it is gone, as NiceGUI deletes a tab's page that was shut
    loopback_model.gate.set()
    ended = f"Batch {batch_id} finished: 3 succeeded, 0 failed."
    job = batch_jobs(get_studio()).jobs[batch_id]
    await wait_until(lambda: not job.running, "the batch's end")
    assert ended not in user.notify.messages
    await user.open("/evaluate")
    await wait_until(lambda: ended in user.notify.messages, "how it ended, told to the next page")
    await user.open("/evaluate")
    await wait_until(lambda: element(user, "eval-batches").rows, "the table")
    await settle()
    assert user.notify.messages.count(ended) == 1  # once


async def test_the_judges_cost_is_shown_beside_each_variants_own(user: User, iom_home, loopback_model):
    """An LLM judge's cost was counted in the experiment but the comparison did not show it."""
    from studio.eval.experiments import Variant, run_experiment
    from studio.eval.scorers import ScorerSpec
    from studio.ui.app import get_studio
    from tests.ui.fake_chat import CHAT_PATH, plain_answer

    loopback_model.reply(CHAT_PATH, plain_answer("9"))  # each grade: 3 tokens in, 1 out
    await user.open("/evaluate")
    doc = await run_experiment(get_studio(), str(SAMPLE), [Variant.parse("local/sentiment-vader#sentiment=label"),
                                                           Variant.parse("local/text-stats")],
                               [ScorerSpec.parse("sentiment:llm_judge:loop/chat")], limit=2)
    judged, _ = doc["variants"]
    assert judged["judgeCostUsd"] > 0 and judged["costUsd"] == 0.0  # counted apart from the variant's own
    await user.open("/evaluate")
    set_value(user, "eval-earlier", doc["id"])
    await settle()
    rows = element(user, "eval-compare").rows
    assert [(r["cost"], r["judgeCost"]) for r in rows] == [("$0", "$0.00001"), ("$0", "$0.00001")]
    labels = [c["label"] for c in element(user, "eval-compare").columns]
    assert labels.index("Judge cost") == labels.index("Total cost") + 1
