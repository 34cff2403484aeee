"""Batches resumed from the web app, run by the server (not by the page that asked).

A batch stopped part way (its terminal closed, its experiment stopped, a crash) used to go on only
from a terminal: the Evaluate page listed it as "stopped" and could do nothing with it. Resumed
here, it runs on the web app's loop as `iom batch run --resume` would, with the local executor
(the same results as Ray's), and any page follows it through its rows file, as it follows every
batch. How it ended is told to the pages that watched it run, or, when none did (the page that
resumed it was closed), once to the next Evaluate page opened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import UserError
from studio.eval.batch import BatchPlan, batch_dir, load_plan, row_count, run_batch
from studio.eval.batch_watch import FINISHED, RUNNING, batch_state
from studio.eval.jobs import per_studio

log = logging.getLogger(__name__)


@dataclass(eq=False)  # each job is itself (a set of the jobs a page watched)
class BatchJob:
    """One batch the server runs: its result or error once it ends."""

    batch_id: str
    rows: int
    result: dict[str, Any] | None = None
    error: str | None = None
    stopping: bool = False
    told: bool = False  # a page has shown how it ended
    task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.result is None and self.error is None

    def stop(self) -> None:
        """Start no further row; the rows in flight finish and are kept."""
        self.stopping = True

    def outcome(self) -> str:
        """How it ended, in one sentence."""
        if self.error is not None:
            return self.error
        r = self.result or {}
        if self.stopping and not r.get("complete"):
            return f"Batch {self.batch_id} stopped: {r.get('done', 0):,} of {self.rows:,} rows done and kept."
        return f"Batch {self.batch_id} finished: {r.get('succeeded', 0):,} succeeded, {r.get('failed', 0):,} failed."


class BatchJobs:
    """The batches one Studio's web app has resumed, by id."""

    def __init__(self) -> None:
        self.jobs: dict[str, BatchJob] = {}

    def ended_for(self, watched: set[BatchJob]) -> list[BatchJob]:
        """The jobs that ended and are a page's to tell: those it watched run (taken out of
        `watched`), and those no page has told yet. Each is then marked told."""
        ended = [j for j in self.jobs.values() if not j.running and (j in watched or not j.told)]
        for job in ended:
            watched.discard(job)
            job.told = True
        watched.update(j for j in self.jobs.values() if j.running)
        return ended

    def running_here(self, batch_id: str) -> BatchJob | None:
        job = self.jobs.get(batch_id)
        return job if job is not None and job.running else None

    def start(self, studio, plan: BatchPlan) -> BatchJob:
        """Run the plan's remaining rows on the running loop (`resumable_plan` read it). What the
        run itself refuses (its data file changed, its pipeline gone, a terminal that took it
        first) ends the job with that sentence."""
        if self.running_here(plan.id):
            raise UserError(f"batch {plan.id} is already running here.")
        job = BatchJob(batch_id=plan.id, rows=plan.rows)
        job.task = asyncio.get_running_loop().create_task(self._run(job, studio, plan))
        self.jobs[plan.id] = job
        return job

    @staticmethod
    async def _run(job: BatchJob, studio, plan) -> None:
        try:
            job.result = await run_batch(studio, plan, stop=lambda: job.stopping)
        except UserError as e:
            job.error = f"Batch {job.batch_id} could not go on: {e}"
        except asyncio.CancelledError:  # the server is stopping: the rows done are kept
            job.error = f"Batch {job.batch_id} stopped with the server; its rows done are kept."
            raise
        except Exception as e:  # noqa: BLE001 - a page shows a sentence, the log keeps the rest
            log.exception("resuming batch %s failed", job.batch_id)
            job.error = (f"Batch {job.batch_id} failed ({type(e).__name__}: {e}); the rows done are kept and the "
                         "server log has the details.")


def resumable_plan(home: Path, batch_id: str) -> BatchPlan:
    """The plan of a batch that can go on here, or UserError saying why not (file work: a thread)."""
    plan = load_plan(home, batch_id)
    state = batch_state(batch_dir(home, batch_id), plan, row_count(home, batch_id))
    if state == RUNNING:
        raise UserError(f"batch {batch_id} is being run (by a terminal, an experiment or this page); it counts up here.")
    if state == FINISHED:
        raise UserError(f"batch {batch_id} has finished: every row is done.")
    plan.executor = "local"  # as `iom batch run --resume` without --executor
    return plan


batch_jobs = per_studio(BatchJobs)  # the web app's resumed batches of a Studio
