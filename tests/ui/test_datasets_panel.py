"""The Evaluate page's datasets: a file imported from the page, its preview, its mapping."""

from __future__ import annotations

import json

from nicegui import events
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from tests.ui.util import all_by_testid, by_testid, element, set_value, settle, wait_until


async def upload(user: User, name: str, data: bytes) -> None:
    picker = element(user, "eval-dataset-upload")
    with user.client:
        for handler in picker._upload_handlers:
            await handler(events.UploadEventArguments(
                sender=picker, client=user.client, file=SmallFileUpload(name=name, content_type="text/csv", _data=data)))
    await settle()


async def test_a_file_imported_from_the_page_is_chosen_and_previewed_and_a_second_gets_its_own_id(user: User, iom_home):
    await user.open("/evaluate")
    await wait_until(lambda: all_by_testid(user, "eval-dataset-schema"), "the sample's preview")
    assert element(user, "eval-dataset-schema").text.startswith("197 rows, csv; columns id (string), text (string), sentiment")
    assert len(element(user, "eval-dataset-rows").rows) == 5
    await user.should_see("Import the file to save another mapping.")  # the shipped file is not an imported dataset
    await upload(user, "Questions.csv", b"prompt,answer\nIs water wet?,yes\nIs fire cold?,no\n")
    await user.should_see("Imported questions: 2 rows, columns prompt, answer.")
    assert element(user, "eval-dataset").value == "questions" and "questions" in element(user, "eval-dataset").options
    await wait_until(lambda: element(user, "eval-dataset-schema").text.startswith("2 rows, csv; columns prompt"),
                     "the imported dataset's preview")
    assert element(user, "eval-dataset-rows").rows == [{"prompt": "Is water wet?", "answer": "yes"},
                                                       {"prompt": "Is fire cold?", "answer": "no"}]
    meta = json.loads((iom_home / "datasets" / "questions" / "meta.json").read_text())
    assert meta["source"] == "uploaded to the web app: Questions.csv"  # not the scratch folder it passed through
    assert meta["rows"] == 2 and (iom_home / "datasets" / "questions" / "Questions.csv").read_bytes().startswith(b"prompt,")

    await upload(user, "questions.csv", b"prompt,answer\nIs ice hot?,no\n")  # the same name again
    await user.should_see("Imported questions-2: 1 rows")
    assert element(user, "eval-dataset").value == "questions-2"
    assert json.loads((iom_home / "datasets" / "questions" / "meta.json").read_text())["rows"] == 2  # untouched


async def test_a_file_the_studio_cannot_read_is_one_sentence_naming_it_and_nothing_is_kept(user: User, iom_home):
    await user.open("/evaluate")
    before = element(user, "eval-dataset").value
    await upload(user, "notes.txt", b"just words")
    await user.should_see("notes.txt is not a CSV, JSONL or Parquet file (by its extension)")
    await upload(user, "empty.csv", b"prompt,answer\n")
    await user.should_see("empty.csv has no rows")
    assert not (iom_home / "datasets").exists() or not any((iom_home / "datasets").glob("*/meta.json"))
    assert element(user, "eval-dataset").value == before


async def test_the_mapping_is_saved_from_the_page_and_a_bad_pair_changes_nothing(user: User, iom_home):
    from studio.eval.datasets import import_dataset

    csv = iom_home / "q.csv"
    csv.write_text("question,label\nIs water wet?,yes\n", encoding="utf-8")
    import_dataset(iom_home, csv, "qs")
    await user.open("/evaluate")
    set_value(user, "eval-dataset", "qs")
    await wait_until(lambda: element(user, "eval-dataset-schema").text.startswith("1 rows"), "the preview of qs")
    set_value(user, "eval-map-inputs", "prompt=question")
    set_value(user, "eval-map-expected", "answer=label")
    by_testid(user, "eval-map-save").click()
    await user.should_see("Saved the mapping of qs.")
    meta = json.loads((iom_home / "datasets" / "qs" / "meta.json").read_text())
    assert meta["inputs"] == {"prompt": "question"} and meta["expected"] == {"answer": "label"}

    set_value(user, "eval-map-inputs", "prompt")
    by_testid(user, "eval-map-save").click()
    await user.should_see("Inputs: 'prompt' must look like NAME=COLUMN, e.g. text=review.")
    set_value(user, "eval-map-inputs", "prompt=nosuch")
    by_testid(user, "eval-map-save").click()
    await user.should_see("has no column 'nosuch'")
    assert json.loads((iom_home / "datasets" / "qs" / "meta.json").read_text())["inputs"] == {"prompt": "question"}



async def test_a_mapping_saved_elsewhere_since_the_page_showed_it_is_not_overwritten_silently(user: User, iom_home):
    """`iom datasets map` while the page showed the mapping: "Save mapping" wrote both fields as
    drawn, and the terminal's input mapping was gone without a word. Now the save is refused with
    a sentence naming the mapping saved now; saved again, the page's version goes over it."""
    from studio.eval.datasets import get_dataset, import_dataset, save_mapping

    csv = iom_home / "q.csv"
    csv.write_text("review,gold\ngood room,positive\n", encoding="utf-8")
    ds = import_dataset(iom_home, csv, "ds2")
    save_mapping(iom_home, ds, {}, {"sentiment": "gold"})
    await user.open("/evaluate")
    set_value(user, "eval-dataset", "ds2")
    await wait_until(lambda: element(user, "eval-map-expected").value == "sentiment=gold", "the mapping of ds2")
    save_mapping(iom_home, get_dataset(iom_home, "ds2"), {"text": "review"}, {"sentiment": "gold"})  # the terminal's
    set_value(user, "eval-map-expected", "sentiment=gold, label=gold")
    by_testid(user, "eval-map-save").click()
    await user.should_see("the mapping of dataset 'ds2' was changed elsewhere (the command line, another tab) since "
                          "this page showed it: it is now inputs text=review, expected sentiment=gold; nothing was saved")
    now = get_dataset(iom_home, "ds2")
    assert (now.inputs, now.expected) == ({"text": "review"}, {"sentiment": "gold"})  # the terminal's, untouched
    set_value(user, "eval-map-inputs", "text=review")
    by_testid(user, "eval-map-save").click()  # told, and saved again: the page's version
    await user.should_see("Saved the mapping of ds2.")
    now = get_dataset(iom_home, "ds2")
    assert (now.inputs, now.expected) == ({"text": "review"}, {"sentiment": "gold", "label": "gold"})

async def test_the_dataset_list_is_read_again_when_opened(user: User, iom_home):
    """`iom datasets import` and `delete` in a terminal while the page is open: the list shows
    them when it is next opened, and a chosen dataset that went is not left chosen."""
    import subprocess
    import sys
    from pathlib import Path

    def iom(*args: str) -> None:
        r = subprocess.run([sys.executable, "-m", "studio", "datasets", *args], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[2])
        assert r.returncode == 0, r.stderr

    await user.open("/evaluate")
    first = iom_home / "first.csv"
    first.write_text("prompt\nIs water wet?\n", encoding="utf-8")
    iom("import", str(first))
    assert "first" not in element(user, "eval-dataset").options  # read when the page opened
    by_testid(user, "eval-dataset").trigger("popupShow")  # (Quasar's popup-show, as NiceGUI names it)
    await wait_until(lambda: "first" in element(user, "eval-dataset").options, "the terminal's dataset")
    set_value(user, "eval-dataset", "first")
    iom("delete", "first")
    by_testid(user, "eval-dataset").trigger("popupShow")  # (Quasar's popup-show, as NiceGUI names it)
    await wait_until(lambda: "first" not in element(user, "eval-dataset").options, "the list without it")
    assert element(user, "eval-dataset").value == next(iter(element(user, "eval-dataset").options))


async def test_a_dataset_is_deleted_from_the_page_and_the_choice_moves_on(user: User, iom_home):
    await upload_and_choose(user, "Questions.csv", b"prompt,answer\nIs water wet?,yes\n")
    by_testid(user, "eval-dataset-delete").click()
    by_testid(user, "confirm-ok").click()
    await wait_until(lambda: "Deleted dataset questions (1 rows)." in user.notify.messages, "the deletion's sentence")
    assert not (iom_home / "datasets" / "questions").exists()
    await wait_until(lambda: "questions" not in element(user, "eval-dataset").options, "the list without it")
    assert element(user, "eval-dataset").value == next(iter(element(user, "eval-dataset").options))  # the sample
    await wait_until(lambda: element(user, "eval-dataset-schema").text.startswith("197 rows"), "the sample's preview")
    assert not all_by_testid(user, "eval-dataset-delete")  # the shipped file is not an imported dataset


async def upload_and_choose(user: User, name: str, data: bytes) -> None:
    await user.open("/evaluate")
    await wait_until(lambda: all_by_testid(user, "eval-dataset-schema"), "the sample's preview")
    await upload(user, name, data)
    await wait_until(lambda: all_by_testid(user, "eval-dataset-delete"), "the imported dataset's preview")
