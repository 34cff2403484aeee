"""'Run again with the same inputs': when it is offered, and that the engine runs the
pipeline again with the stored inputs (the real engine, on an offline sample)."""

from __future__ import annotations

from studio.analytics import queries as q
from studio.core import Studio
from studio.spec.records import RunRecord
from studio.ui.analytics_page import _run_again, rerun_blocker


def _stored_run(studio, **fields):
    studio.analytics.record_run(RunRecord(id="r1", pipeline_id="review-triage", **fields))
    studio.analytics.flush()
    return studio.analytics.read(q.get_run, "r1")


def test_rerun_is_blocked_with_a_reason(iom_home):
    studio = Studio(iom_home)
    run = _stored_run(studio, inputs={"text": "hi"})
    assert rerun_blocker(studio, run) is None
    assert "inputs were not kept" in rerun_blocker(studio, {**run, "inputs": None})
    assert "no longer in the registry" in rerun_blocker(studio, {**run, "pipeline_id": "gone"})
    studio.close()


async def test_rerun_runs_the_pipeline_again_with_the_stored_inputs(iom_home, monkeypatch):
    from nicegui import ui

    notes = []
    monkeypatch.setattr(ui, "notify", lambda msg, **k: notes.append(msg))  # no page client in a unit test
    studio = Studio(iom_home)
    run = _stored_run(studio, inputs={"text": "The service was excellent and the food delicious."})
    await _run_again(studio, run)
    studio.analytics.flush()
    runs = studio.analytics.read(q.list_runs)
    again = [r for r in runs if r["id"] != "r1"]
    assert len(again) == 1 and again[0]["pipeline_id"] == "review-triage" and again[0]["status"] == "succeeded"
    stored = studio.analytics.read(q.get_run, again[0]["id"])
    assert stored["inputs"] == {"text": "The service was excellent and the food delicious."}
    assert notes and "succeeded" in notes[0]
    studio.close()
