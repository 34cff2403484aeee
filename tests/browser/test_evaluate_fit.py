"""The Evaluate page's comparison at a laptop's width (1280 px): the tables fit the page (no
sideways scroll), the chart's point labels fit in the figure, and an LLM judge's cost is
shown per variant beside the variant's own cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from selenium.webdriver.common.by import By

from studio.eval.datasets import SAMPLE
from tests.browser.helpers import by_testid, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _experiment() -> str:
    r = subprocess.run([sys.executable, "-m", "studio", "eval", "run", "--data", str(SAMPLE), "-v", "review-triage",
                        "-v", "local/sentiment-vader#sentiment=label", "-s", "sentiment:classification",
                        "-s", "language:normalized", "--limit", "4", "--json"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["id"]


def _open(screen, exp_id: str) -> None:
    screen.open("/evaluate")
    by_testid(screen, "eval-earlier").click()
    wait_until(lambda: [i for i in screen.selenium.find_elements(By.CSS_SELECTOR, ".q-menu .q-item") if exp_id in i.text])
    next(i for i in screen.selenium.find_elements(By.CSS_SELECTOR, ".q-menu .q-item") if exp_id in i.text).click()
    wait_until(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-diff] td"), 20)
    wait_until(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, ".eval-chart .textpoint text"), 20)


def test_the_comparison_fits_a_1280_px_window(screen, iom_home):
    exp_id = _experiment()
    screen.selenium.set_window_size(1280, 900)
    _open(screen, exp_id)
    for testid in ("eval-compare", "eval-diff"):
        scroll, client = screen.selenium.execute_script(
            "const m = document.querySelector(`[data-testid=${arguments[0]}] .q-table__middle`);"
            "return [m.scrollWidth, m.clientWidth];", testid)
        assert scroll <= client, f"{testid} scrolls sideways: {scroll} px in {client} px"
    # each point's label lies inside the figure, and is not cut by the plot area's clip
    svg = screen.selenium.find_element(By.CSS_SELECTOR, ".eval-chart .main-svg").rect
    labels = screen.selenium.find_elements(By.CSS_SELECTOR, ".eval-chart .textpoint text")
    assert len(labels) == 2
    for label in labels:
        r = label.rect
        assert svg["x"] <= r["x"] and r["x"] + r["width"] <= svg["x"] + svg["width"], label.text
        assert svg["y"] <= r["y"] and r["y"] + r["height"] <= svg["y"] + svg["height"], label.text
    clipped = screen.selenium.execute_script(
        "return [...document.querySelectorAll('.eval-chart .scatterlayer .trace')]"
        ".filter(t => t.querySelector('.textpoint') && t.getAttribute('clip-path')).length")
    assert clipped == 0  # the labels are not clipped to the axes' box
    # a long output ends in an ellipsis on the page; its tooltip holds it whole
    cell = screen.selenium.find_elements(By.CSS_SELECTOR, "[data-testid=eval-diff] tbody td")[3]
    assert cell.get_attribute("title").startswith("{'sentiment': ") and cell.get_attribute("title").endswith("}")
    assert screen.selenium.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", cell)


# Text a field or a table cuts off with an ellipsis: wider than its box.
# The data-testid may sit on the <textarea>: look from the whole field.
CUT = """const f = arguments[0].closest('.q-field');
         return [...f.querySelectorAll('.q-field__label, .q-field__native span, .q-field__messages div')]
           .filter(e => e.textContent.trim() && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
FIELD_TEXT = "return arguments[0].closest('.q-field').textContent"


def test_the_forms_labels_and_choices_are_read_whole_at_1280x800(screen, iom_home):
    """At 1280x800 the Variants label (the page's one statement of the syntax) read
    "…[#CO…", the dataset "…labelled revi…", and the earlier experiment was cut."""
    exp_id = _experiment()
    screen.selenium.set_window_size(1280, 800)
    _open(screen, exp_id)
    for testid in ("eval-dataset", "eval-variants", "eval-scorers", "eval-earlier"):
        assert not screen.selenium.execute_script(CUT, by_testid(screen, testid)), testid
    assert "labelled reviews" in screen.selenium.execute_script(FIELD_TEXT, by_testid(screen, "eval-dataset"))
    assert exp_id in screen.selenium.execute_script(FIELD_TEXT, by_testid(screen, "eval-earlier"))
    variants = screen.selenium.execute_script(FIELD_TEXT, by_testid(screen, "eval-variants"))
    assert "TARGET[@NODE=MODEL or NODE=POLICY][#COLUMN=FIELD]" in variants


def test_a_fresh_batches_table_says_what_would_be_there(screen, iom_home):
    screen.open("/evaluate")
    batches = by_testid(screen, "eval-batches")
    wait_until(lambda: "No batches yet: running an experiment above starts one." in batches.get_attribute("textContent"))
    assert "No data available" not in batches.get_attribute("textContent")  # Quasar's, with a warning icon
