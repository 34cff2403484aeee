"""A page never silently undoes what the command line (or another tab) wrote since the page
read it: the canvas asks before saving over a changed or deleted pipeline, the pipelines list
renames what is saved now, and the model form refuses to save over a model edited meanwhile."""

from __future__ import annotations

import json

from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio.core import Studio
from tests.browser.canvas_helpers import wait_nodes
from tests.browser.helpers import by_testid, click


def studio() -> Studio:
    return Studio(seed_samples=False)


def rename_on_canvas(screen: Screen, name: str) -> None:
    box = by_testid(screen, "pipeline-name")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(name)
    screen.selenium.find_element(By.CSS_SELECTOR, ".iom-canvas").click()  # leaving the field applies it


def test_the_canvas_asks_before_saving_over_a_pipeline_changed_elsewhere(screen: Screen):
    screen.open("/pipelines/text-insights")
    wait_nodes(screen, 6)
    theirs = studio().pipelines.get("text-insights").model_copy(update={"description": "from the command line"})
    studio().pipelines.import_doc(theirs.to_json_dict(), replace=True)  # `iom pipelines import --replace`
    rename_on_canvas(screen, "Mine")
    screen.wait_for(lambda: by_testid(screen, "save-conflict").is_displayed())  # autosave found it, and asked
    assert "was changed elsewhere" in by_testid(screen, "save-conflict").text
    assert studio().pipelines.get("text-insights").description == "from the command line"
    screen.wait(4)  # autosave does not ask again, nor save
    assert len(screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=save-conflict]")) == 1
    by_testid(screen, "conflict-mine").click()
    screen.wait_for(lambda: studio().pipelines.get("text-insights").name == "Mine")
    kept = json.loads(studio().pipelines.backups_of("text-insights")[0].read_text())
    assert kept["description"] == "from the command line"  # theirs is kept, restorable


def test_the_canvas_does_not_bring_back_a_pipeline_deleted_elsewhere(screen: Screen):
    screen.open("/pipelines/text-insights")
    wait_nodes(screen, 6)
    studio().pipelines.delete("text-insights")  # `iom pipelines delete`
    rename_on_canvas(screen, "Mine")
    screen.wait_for(lambda: by_testid(screen, "save-conflict").is_displayed())
    assert "was deleted elsewhere" in by_testid(screen, "save-conflict").text
    assert not studio().pipelines.exists("text-insights")
    assert not screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=conflict-reload]")
    by_testid(screen, "conflict-mine").click()  # "Save mine again"
    screen.wait_for(lambda: studio().pipelines.exists("text-insights"))


def test_the_list_renames_what_is_saved_now(screen: Screen):
    screen.open("/pipelines")
    theirs = studio().pipelines.get("text-insights").model_copy(update={"description": "from the command line"})
    studio().pipelines.import_doc(theirs.to_json_dict(), replace=True)
    studio().pipelines.delete("review-triage")
    row = lambda pid: screen.selenium.find_element(By.CSS_SELECTOR, f'[data-pipeline="{pid}"]')  # noqa: E731
    for pipeline_id in ("review-triage", "text-insights"):  # (the list is redrawn after each)
        row(pipeline_id).find_element(By.XPATH, ".//i[text()='edit']").click()
        field = screen.selenium.find_element(By.CSS_SELECTOR, ".q-dialog input")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys("Renamed")
        click(screen, lambda: screen.selenium.find_element(
            By.XPATH, "//div[contains(@class,'q-dialog')]//button[.//span[text()='Rename']]"))
        screen.wait(0.8)
    screen.should_contain("there is no pipeline 'review-triage' to rename")
    saved = studio().pipelines.get("text-insights")
    assert saved.name == "Renamed" and saved.description == "from the command line"
    assert not studio().pipelines.exists("review-triage")


def test_the_model_form_does_not_save_over_a_model_changed_elsewhere(screen: Screen):
    screen.open("/registry")
    spec = studio().models.get("local/text-stats")
    screen.click(spec.name)
    screen.should_contain("Input schema")
    click(screen, "edit")
    studio().models.save(spec.model_copy(update={"description": "from the command line"}))
    name = screen.selenium.find_element(By.XPATH, "//label[.//div[text()='Name']]//input")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys("Mine")
    by_testid(screen, "form-save").click()
    screen.wait_for(lambda: "was changed elsewhere" in by_testid(screen, "form-problem").text)
    assert studio().models.get("local/text-stats").description == "from the command line"
    assert by_testid(screen, "form-save").text.lower().endswith("save mine over it")
    by_testid(screen, "form-save").click()
    screen.wait_for(lambda: studio().models.get("local/text-stats").name == "Mine")
    assert json.loads(studio().models.backups.list("local/text-stats")[0].read_text())["description"] == \
        "from the command line"
