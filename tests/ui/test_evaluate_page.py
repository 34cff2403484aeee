"""The Evaluate page, simulated: an earlier experiment is opened and deleted from the page
(tests/browser/test_evaluate_page.py runs and compares in real Chromium)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nicegui.testing import User

from studio.eval.datasets import SAMPLE
from tests.ui.util import all_by_testid, by_testid, element, set_value, settle

ROOT = Path(__file__).resolve().parents[2]


def experiment(limit: int) -> str:
    r = subprocess.run([sys.executable, "-m", "studio", "eval", "run", "--data", str(SAMPLE), "-v", "review-triage",
                        "-v", "local/sentiment-vader#sentiment=label", "-s", "sentiment:classification",
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
