"""Experiments the web app starts run in the server (studio/eval/jobs.py): one at a time, with
their progress, result or one-sentence error kept for whichever page looks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from studio.core import Studio
from studio.errors import UserError
from studio.eval.experiments import Variant
from studio.eval.jobs import experiment_jobs
from studio.eval.scorers import ScorerSpec

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "datasets" / "reviews.csv"


def test_one_experiment_at_a_time_then_its_result(iom_home):
    studio = Studio(iom_home)

    async def go():
        jobs = experiment_jobs(studio)
        variant, scorer = [Variant.parse("local/sentiment-vader#sentiment=label")], [ScorerSpec.parse("sentiment:classification")]
        job = jobs.start(studio, str(SAMPLE), variant, scorer, limit=4, use_cache=False)
        assert job.running and job.describe() == "planning the batches…"
        with pytest.raises(UserError, match="already running .*wait for it to finish"):
            jobs.start(studio, str(SAMPLE), variant, scorer, limit=4, use_cache=False)
        await job.task
        assert not job.running and job.error is None and job.result["variants"][0]["rows"] == 4
        assert job.describe() == "local/sentiment-vader#sentiment=label: 4 / 4 rows"
        job.variants.append("review-triage")  # with several variants, which one is running
        assert job.describe() == "local/sentiment-vader#sentiment=label (variant 1 of 2): 4 / 4 rows"
        assert experiment_jobs(studio) is jobs and experiment_jobs(Studio(iom_home)) is not jobs
        again = jobs.start(studio, str(SAMPLE), variant, scorer, limit=4, use_cache=False)  # the last one ended
        await again.task
        await studio.aclose()
        return again

    assert asyncio.run(go()).result is not None
    studio.close()


def test_a_failed_experiment_keeps_its_sentence(iom_home):
    studio = Studio(iom_home)

    async def go():
        job = experiment_jobs(studio).start(studio, "no-such-data", [Variant.parse("local/sentiment-vader")],
                                            [ScorerSpec.parse("sentiment:exact")], limit=None, use_cache=False)
        await job.task
        await studio.aclose()
        return job

    job = asyncio.run(go())
    studio.close()
    assert not job.running and job.result is None
    assert "no-such-data" in job.error and "Traceback" not in job.error
