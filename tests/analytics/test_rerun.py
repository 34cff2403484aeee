"""'Run again with the same inputs': when it is offered, and that it hands the stored inputs
to the engine (a recording stand-in for the engine, which another part of the studio builds)."""

from __future__ import annotations

from studio.analytics import queries as q
from studio.core import Studio
from studio.spec.records import RunRecord
from studio.ui.analytics_page import _run_again, rerun_blocker


class RecordingEngine:
    def __init__(self):
        self.calls = []

    async def run(self, pipeline, inputs, *, options=None):
        self.calls.append((pipeline.id, inputs, options))
        return RunRecord(id="again", pipeline_id=pipeline.id, status="succeeded", inputs=inputs)


def _stored_run(studio, **fields):
    studio.analytics.record_run(RunRecord(id="r1", pipeline_id="content-enhancement", **fields))
    studio.analytics.flush()
    return studio.analytics.read(q.get_run, "r1")


def test_rerun_is_blocked_with_a_reason(iom_home):
    studio = Studio(iom_home)
    run = _stored_run(studio, inputs={"text": "hi"})
    assert "needs the pipeline engine" in rerun_blocker(studio, run)
    studio.engine = RecordingEngine()
    assert rerun_blocker(studio, run) is None
    assert "inputs were not kept" in rerun_blocker(studio, {**run, "inputs": None})
    assert "no longer in the registry" in rerun_blocker(studio, {**run, "pipeline_id": "gone"})
    studio.close()


async def test_rerun_passes_the_stored_inputs_to_the_engine(iom_home, monkeypatch):
    from nicegui import ui

    monkeypatch.setattr(ui, "notify", lambda *a, **k: None)  # no page client in a unit test
    studio = Studio(iom_home)
    studio.engine = RecordingEngine()
    run = _stored_run(studio, inputs={"text": "hi"})
    await _run_again(studio, run)
    assert studio.engine.calls == [("content-enhancement", {"text": "hi"}, None)]
    studio.close()
