"""The Evaluate page in real Chromium: run two variants over the sample dataset, see the
comparison table, the cost-versus-quality chart and the per-row diff."""

from __future__ import annotations


from selenium.webdriver.common.by import By

from tests.browser.helpers import by_testid, click, replace_text, wait_until



def test_two_variants_compared(studio_screen):
    studio_screen.open("/evaluate")
    studio_screen.should_contain("Run experiment")
    replace_text(studio_screen, "eval-limit", "6")
    # the default scores sentiment alone; language too here, which the two variants write differently
    replace_text(studio_screen, "eval-scorers", "sentiment:classification\nlanguage:normalized")
    by_testid(studio_screen, "eval-run").click()
    wait_until(lambda: "finished" in by_testid(studio_screen, "eval-progress").text, 60)
    cells = [td.get_attribute("textContent") for td in
             by_testid(studio_screen, "eval-compare").find_elements(By.CSS_SELECTOR, "td")]
    assert "review-triage" in cells and "local/sentiment-vader#sentiment=label" in cells
    assert "Pareto" in cells
    by_scorer = [c for c in cells if c.startswith("sentiment:classification ")]
    assert len(by_scorer) == 2 and all("language:normalized" in c for c in by_scorer)  # each scorer's own mean
    wait_until(lambda: studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".eval-chart .main-svg"))
    points = studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".eval-chart .scatterlayer .point")
    assert len(points) >= 2  # one marker per variant
    # the bare model gives language codes where the pipeline gives names: every row differs
    wait_until(lambda: "6 row(s) differ" in by_testid(studio_screen, "eval-diff-count").text)
    # the same experiment reusing the cache the fresh run filled: the pipeline's rows are all
    # answered from it, and the table says so (a model variant is a single call, never cached)
    assert "6 / 6" not in cells
    first_id = by_testid(studio_screen, "eval-progress").text.split()[1]
    by_testid(studio_screen, "eval-reuse-cache").click()
    by_testid(studio_screen, "eval-run").click()
    wait_until(lambda: "6 / 6" in _cells(studio_screen), 60)
    # the experiment before is kept and opens again from the list, with its own figures
    assert by_testid(studio_screen, "eval-progress").text.split()[1] != first_id
    by_testid(studio_screen, "eval-earlier").click()
    wait_until(lambda: [i for i in studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".q-menu .q-item")
                        if first_id in i.text])
    next(i for i in studio_screen.selenium.find_elements(By.CSS_SELECTOR, ".q-menu .q-item") if first_id in i.text).click()
    wait_until(lambda: first_id in by_testid(studio_screen, "eval-progress").text and "6 / 6" not in _cells(studio_screen))
    assert "review-triage" in _cells(studio_screen)
    assert not studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-warnings]")
    # the bare model scored on a field it names differently: the page says why every row is 0
    replace_text(studio_screen, "eval-variants", "local/sentiment-vader")
    replace_text(studio_screen, "eval-scorers", "sentiment:classification")
    by_testid(studio_screen, "eval-run").click()
    wait_until(lambda: studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-warnings]"), 60)
    warning = by_testid(studio_screen, "eval-warnings").text
    assert "Variant 1, sentiment:classification: none of the 6 answered rows has an output field 'sentiment'" in warning
    assert "local/sentiment-vader#sentiment=FIELD" in warning


def _cells(screen):
    return [td.get_attribute("textContent") for td in by_testid(screen, "eval-compare").find_elements(By.CSS_SELECTOR, "td")]


def test_a_dataset_uploaded_from_this_computer_is_imported_and_previewed(studio_screen, tmp_path):
    """The browser's own upload (NiceGUI's upload route, not a simulated event): the file is
    imported as given, chosen, and its first rows shown; then deleted from the page."""
    import json

    from studio.paths import data_home

    data = tmp_path / "Questions.jsonl"
    data.write_text('{"prompt": "Is water wet?", "answer": "yes"}\n{"prompt": "Is fire cold?", "answer": "no"}\n')
    studio_screen.open("/evaluate")
    by_testid(studio_screen, "eval-dataset-import").click()
    picker = studio_screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=eval-dataset-upload] input[type=file]")
    picker.send_keys(str(data))
    studio_screen.should_contain("Imported questions: 2 rows, columns prompt, answer.")
    by_testid(studio_screen, "eval-dataset-preview").click()
    wait_until(lambda: by_testid(studio_screen, "eval-dataset-schema").text.startswith("2 rows, jsonl; columns prompt"))
    cells = [td.text for td in by_testid(studio_screen, "eval-dataset-rows").find_elements(By.CSS_SELECTOR, "td")]
    assert cells == ["Is water wet?", "yes", "Is fire cold?", "no"]
    meta = json.loads((data_home() / "datasets" / "questions" / "meta.json").read_text())
    assert (meta["rows"], meta["format"], meta["file"]) == (2, "jsonl", "Questions.jsonl")
    # and deleted again, through its confirmation (made outside the preview it clears)
    click(studio_screen, "eval-dataset-delete")
    studio_screen.should_contain("Delete dataset questions?")
    click(studio_screen, "confirm-ok")
    studio_screen.should_contain("Deleted dataset questions (2 rows).")
    wait_until(lambda: by_testid(studio_screen, "eval-dataset-schema").text.startswith("197 rows"))  # the sample, chosen
    assert not (data_home() / "datasets" / "questions").exists()


def test_a_stopped_batch_goes_on_from_its_dialog(studio_screen):
    """Resume in a real page: the dialog it is clicked in closes as it starts (its notification
    sent from a deleted dialog was an error in NiceGUI's log, which the simulated page misses)."""
    from studio.eval.datasets import SAMPLE
    from studio.paths import data_home
    from tests.helpers.batches import stopped_batch

    batch_id = stopped_batch(data_home(), "review-triage", "--data", str(SAMPLE), "--limit", "8", keep=3)
    rows = data_home() / "batches" / batch_id / "rows.jsonl"
    studio_screen.open("/evaluate")
    wait_until(lambda: "3 / 8" in by_testid(studio_screen, "eval-batches").text, 20)
    assert "stopped" in by_testid(studio_screen, "eval-batches").text
    by_testid(studio_screen, "eval-batches").find_element(By.CSS_SELECTOR, "tbody tr").click()
    studio_screen.should_contain(f"in a terminal: iom batch run --resume {batch_id}")
    click(studio_screen, "eval-batch-resume")  # once the dialog stands still (Quasar's opening transition)
    studio_screen.should_contain(f"Batch {batch_id} goes on from here")
    wait_until(lambda: "8 / 8" in by_testid(studio_screen, "eval-batches").text, 60)
    studio_screen.should_contain(f"Batch {batch_id} finished: 8 succeeded, 0 failed.")
    assert "finished" in by_testid(studio_screen, "eval-batches").text
    assert len(rows.read_text("utf-8").splitlines()) == 8


def test_a_batch_resumed_in_the_page_stops_from_its_dialog(studio_screen):
    """Stop in a real page: the dialog it is clicked in closes as the batch stops, the row in
    flight finishes and is kept, and how it ended is told (a notification from a deleted dialog
    would be an error in NiceGUI's log, which fails this test and which the simulated page misses)."""
    from studio.core import Studio
    from studio.paths import data_home
    from studio.spec.calls import CANONICAL_SCHEMAS
    from studio.spec.model import ModelSpec
    from tests.fakes.provider_server import FakeProvider
    from tests.helpers.batches import stopped_batch
    from tests.ui.fake_chat import CHAT_PATH, held_plain_answer, plain_answer

    home = data_home()
    data = home / "questions.csv"
    data.write_text("prompt\n" + "".join(f"Question {i}?\n" for i in range(6)), encoding="utf-8")
    with FakeProvider() as fake:
        s = Studio()
        llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
        s.models.save(ModelSpec(id="loop/plain", name="Plain", provider="ollama", api="openai-chat",
                                endpoint=fake.url(CHAT_PATH), model="m", input_schema=llm_in, output_schema=llm_out))
        s.close()
        fake.reply(CHAT_PATH, plain_answer("yes"))
        batch_id = stopped_batch(home, "loop/plain", "--data", str(data), "--concurrency", "1", keep=1)
        fake.reply(CHAT_PATH, held_plain_answer("yes"))  # from here each answer waits for the gate
        asked = len(fake.requests)

        studio_screen.open("/evaluate")
        batches = lambda: by_testid(studio_screen, "eval-batches").text  # noqa: E731
        wait_until(lambda: "1 / 6" in batches(), 20)
        row = lambda: studio_screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=eval-batches] tbody tr")  # noqa: E731
        click(studio_screen, row)
        click(studio_screen, "eval-batch-resume")
        studio_screen.should_contain(f"Batch {batch_id} goes on from here")
        wait_until(lambda: len(fake.requests) == asked + 1 and "running" in batches(), 20)  # its next row in flight

        click(studio_screen, row)
        assert not studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-batch-resume]")
        click(studio_screen, "eval-batch-stop")
        studio_screen.should_contain(f"Batch {batch_id} starts no further row")
        wait_until(lambda: not studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-batch-rows]"))
        fake.gate.set()
        studio_screen.should_contain(f"Batch {batch_id} stopped: 2 of 6 rows done and kept.")
        wait_until(lambda: "2 / 6" in batches() and "stopped" in batches(), 20)
        assert len(fake.requests) == asked + 1
    rows = (home / "batches" / batch_id / "rows.jsonl").read_text("utf-8").splitlines()
    assert len(rows) == 2


def test_a_batch_downloads_as_csv_streamed_by_the_server(studio_screen):
    """The download is the server's stream of the rows file behind the studio's door (Host,
    Origin, the session), fetched by the browser itself; it was the whole CSV sent over the
    page's websocket."""
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    from nicegui.testing import screen_plugin

    from studio.eval.datasets import SAMPLE
    ROOT = Path(__file__).resolve().parents[2]

    r = subprocess.run([sys.executable, "-m", "studio", "batch", "run", "review-triage", "--data", str(SAMPLE),
                        "--limit", "3", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    batch_id = json.loads(r.stdout)["id"]
    studio_screen.open("/evaluate")
    wait_until(lambda: studio_screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-batches] tbody tr td"))
    click(studio_screen, lambda: studio_screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=eval-batches] tbody tr td"))
    click(studio_screen, "eval-batch-csv")
    target = screen_plugin.DOWNLOAD_DIR / f"batch-{batch_id}.csv"
    deadline = time.monotonic() + 15
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    header, *lines = target.read_text().splitlines()
    assert header.startswith('"index","run_id","status"') and [line.split(",")[0] for line in lines] == ["0", "1", "2"]
