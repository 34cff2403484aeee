"""The pipelines list in real Chromium: export and import give an identical pipeline; new,
duplicate, rename and delete; the sample gallery; the run panel while there is no engine."""

from __future__ import annotations

import json

from nicegui.testing import Screen, screen_plugin
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio.core import Studio
from studio.registry.pipelines import export_pipeline
from tests.browser.canvas_helpers import wait_nodes
from tests.browser.helpers import click


def registry():
    return Studio(seed_samples=False).pipelines


def test_export_then_import_gives_an_identical_pipeline(screen: Screen):
    screen.open("/pipelines/content-enhancement")
    wait_nodes(screen, 5)
    original = export_pipeline(registry().get("content-enhancement"))
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=export]").click()
    exported = screen_plugin.DOWNLOAD_DIR / "content-enhancement.json"
    screen.wait_for(lambda: exported.is_file() and exported.stat().st_size > 0)
    assert json.loads(exported.read_text()) == original

    registry().delete("content-enhancement")
    screen.open("/pipelines")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=import] input[type=file]").send_keys(str(exported))
    result = screen.find_by_css("[data-testid=import-result]")
    screen.wait_for(lambda: result.text == "Imported 'Content enhancement' as content-enhancement.")
    assert "0.0B" not in screen.find_by_css("[data-testid=import]").text  # a drop zone, not a raw uploader
    assert "drop pipeline JSON here" in screen.find_by_css("[data-testid=import]").text
    assert export_pipeline(registry().get("content-enhancement")) == original


def test_the_canvas_download_refuses_a_pipeline_holding_a_secret(screen: Screen):
    """A hand-edited file with a key in a secret-named param opens, but its download is
    refused in one sentence naming the node and field; no file, masked or not, is written."""
    screen.open("/pipelines")  # the samples are seeded as the studio starts
    doc = export_pipeline(registry().get("content-enhancement"))
    doc["id"] = "leaky"
    node = next(n for n in doc["nodes"] if n["kind"] == "model")
    node["params"] = {**node.get("params", {}), "api_key": "abcd1234efgh5678ijkl"}
    registry()._folder.path_for("leaky").write_text(json.dumps(doc))  # written by hand, not through the studio
    screen.open("/pipelines/leaky")
    wait_nodes(screen, 5)
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=export]").click()
    screen.should_contain(f"Not exported: pipeline leaky holds what looks like an API key in node '{node['id']}', "
                          "field 'params.api_key'")
    assert not (screen_plugin.DOWNLOAD_DIR / "leaky.json").exists()


def test_new_duplicate_rename_delete(screen: Screen):
    screen.open("/pipelines")
    screen.click("New pipeline")
    name = screen.selenium.find_element(By.CSS_SELECTOR, ".q-dialog input")
    selected = "return arguments[0].value.slice(arguments[0].selectionStart, arguments[0].selectionEnd)"
    screen.wait_for(lambda: screen.selenium.execute_script(selected, name) == "New pipeline")
    name.send_keys("My flow")  # the default name is selected, so typing replaces it
    assert name.get_attribute("value") == "My flow"
    name.send_keys(Keys.ENTER)  # as Create
    wait_nodes(screen, 2)  # the new pipeline opens on the canvas with its input and output
    assert registry().get("my-flow").name == "My flow"

    screen.open("/pipelines")
    row = lambda pid: screen.selenium.find_element(By.CSS_SELECTOR, f'[data-pipeline="{pid}"]')  # noqa: E731
    row("my-flow").find_element(By.XPATH, ".//i[text()='content_copy']").click()
    screen.should_contain("Duplicated as my-flow-copy.")
    assert registry().get("my-flow-copy").name == "My flow (copy)"

    row("my-flow-copy").find_element(By.XPATH, ".//i[text()='edit']").click()
    field = screen.selenium.find_element(By.CSS_SELECTOR, ".q-dialog input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("Second flow")
    # the dialog's button: the edit icon just clicked shows a "Rename" tooltip, which comes and
    # goes under the pointer (a text search could find it, then lose it: a stale element)
    click(screen, lambda: screen.selenium.find_element(
        By.XPATH, "//div[contains(@class,'q-dialog')]//button[.//span[text()='Rename']]"))
    screen.wait_for(lambda: registry().get("my-flow-copy").name == "Second flow")
    screen.wait_for(lambda: "Second flow" in row("my-flow-copy").text)  # the list was redrawn

    screen.wait(0.6)  # the rename dialog finishes closing
    click(screen, lambda: row("my-flow-copy").find_element(By.XPATH, ".//i[text()='delete']"))
    screen.wait(0.6)  # the confirm dialog finishes opening (a click during the animation lands on its card)
    click(screen, lambda: screen.selenium.find_element(
        By.XPATH, "//div[contains(@class,'q-dialog')]//button[.//span[text()='Delete']]"))
    screen.wait_for(lambda: not registry().exists("my-flow-copy"))
    assert registry().exists("my-flow")


def test_gallery_copy_opens_on_the_canvas_ready_to_run(screen: Screen):
    screen.open("/pipelines")
    screen.should_contain("Sample gallery")
    card = screen.selenium.find_element(By.XPATH, "//div[contains(@class,'q-card')][.//div[text()='Data processing chain']]")
    card.find_element(By.XPATH, ".//button").click()
    screen.wait_for(lambda: "/pipelines/data-processing-chain-2" in screen.selenium.current_url)
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__node")) > 0)
    screen.selenium.find_element(By.XPATH, "//div[contains(@class,'q-tab ')][.//div[text()='Run']]").click()
    screen.wait_for(lambda: screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=run]").is_displayed())
    screen.should_contain("data *")  # the input form, from the input node's schema


def test_importing_a_file_that_is_not_a_pipeline_says_so(screen: Screen, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"format": "iom.pipeline", "version": 99, "id": "notes", "name": "Notes"}')
    screen.open("/pipelines")
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=import] input[type=file]").send_keys(str(bad))
    result = screen.find_by_css("[data-testid=import-result]")
    screen.wait_for(lambda: "notes.json is not a pipeline this studio can read" in result.text)
    screen.should_contain("newer than this studio reads")
    assert not registry().exists("notes")


def test_every_sample_opens_with_all_its_nodes_and_edges_drawn(screen: Screen):
    from studio.registry.samples import sample_pipelines
    for sample in sample_pipelines():
        screen.open(f"/pipelines/{sample.id}")
        wait_nodes(screen, len(sample.nodes))
        screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, ".vue-flow__edge")) == len(sample.edges))


def test_every_sample_says_whether_it_runs_offline_or_needs_a_key(screen: Screen, memory_keyring):
    from studio.registry.samples import sample_pipelines

    screen.open("/pipelines")
    badge = lambda pid: screen.find_by_css(f'[data-sample="{pid}"] .q-badge')  # noqa: E731
    assert badge("text-insights").text == "offline"  # built-in models only
    assert badge("content-enhancement").text == "needs 3 keys"  # calls OpenAI, Anthropic and Gemini models
    assert len(screen.selenium.find_elements(By.CSS_SELECTOR, "[data-sample] .q-badge")) == len(sample_pipelines())


def test_importing_over_a_saved_pipeline_asks_and_keeps_a_backup(screen: Screen, tmp_path):
    screen.open("/pipelines")
    screen.should_contain("Review triage")
    edited = export_pipeline(registry().get("review-triage"))
    edited["name"] = "Review triage (edited)"
    f = tmp_path / "review-triage.json"
    f.write_text(json.dumps(edited))
    upload = lambda: screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=import] input[type=file]")  # noqa: E731
    upload().send_keys(str(f))
    screen.should_contain("exists already")
    assert registry().get("review-triage").name == "Review triage"  # nothing replaced before the answer
    click(screen, "import-replace")  # the question may still be opening
    # the result line, not the question: the question says "the old version is kept as a backup" too
    screen.should_contain("Replaced 'Review triage (edited)' (review-triage)")
    assert registry().get("review-triage").name == "Review triage (edited)"
    click(screen, "backups-review-triage")
    screen.should_contain("Backups of pipeline review-triage")
    click(screen, lambda: screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=backups] button[data-testid^=restore-]"))
    screen.should_contain("Restored review-triage")
    assert registry().get("review-triage").name == "Review triage"


def test_an_import_over_several_saved_pipelines_names_every_one(screen: Screen, tmp_path):
    """The question named them "Pipeline a, b exists already" and "Replace it", though Replace
    replaces them all."""
    screen.open("/pipelines")
    screen.should_contain("Review triage")
    ids = [p.id for p in registry().all()][:2]
    f = tmp_path / "two.json"
    f.write_text(json.dumps([export_pipeline(registry().get(i)) for i in ids]))
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=import] input[type=file]").send_keys(str(f))
    screen.should_contain(f"Pipelines {ids[0]} and {ids[1]} exist already.")
    screen.should_contain("Replace all 2 (the old versions are kept as backups you can restore), import as new ids,")
    click(screen, "import-cancel")


def test_importing_as_new_gives_a_name_the_list_tells_apart(screen: Screen, tmp_path):
    """"Import as new" kept the name: two pipelines both called "Review triage" in the list."""
    screen.open("/pipelines")
    screen.should_contain("Review triage")
    f = tmp_path / "review-triage.json"
    f.write_text(json.dumps(export_pipeline(registry().get("review-triage"))))
    screen.selenium.find_element(By.CSS_SELECTOR, "[data-testid=import] input[type=file]").send_keys(str(f))
    screen.should_contain("exists already")
    click(screen, "import-as-new")
    screen.should_contain("Imported 'Review triage (review-triage-2)' as review-triage-2.")
    assert registry().get("review-triage-2").name == "Review triage (review-triage-2)"
    assert registry().get("review-triage").name == "Review triage"
