"""Experiments started from the web app, kept by the server, not by the page that started them.

An experiment over a few hundred rows runs for minutes. Run inside a page's click handler, it
went on after a reload, but the reloaded page knew nothing of it: no progress, a Run button that
started it again (and met the batch lock), and the result only in the list of earlier ones. Here
the run belongs to the process; any page, a reloaded one or a second tab, reads its progress and
shows its result. One runs at a time: experiments share the user's models, keys and concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from studio.errors import UserError
from studio.eval.experiments import ExperimentStopped, Variant, run_experiment
from studio.eval.scorers import ScorerSpec

log = logging.getLogger(__name__)


@dataclass
class ExperimentJob:
    """One experiment run by the server: its progress while it runs, then its result or error."""

    data: str
    variants: list[str]
    variant: str = ""  # the variant whose rows are running now
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    seen: bool = False  # a page has shown how it ended
    stopping: bool = False  # the user asked it to stop: no new row starts
    stopped: bool = False  # it ended by that request (`error` says where)
    task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.result is None and self.error is None

    def progress(self, variant: str, done: int, total: int) -> None:
        self.variant, self.done, self.total = variant, done, total

    def describe(self) -> str:
        if not self.variant:
            where = "planning the batches…"
        else:
            which = (f" (variant {self.variants.index(self.variant) + 1} of {len(self.variants)})"
                     if len(self.variants) > 1 and self.variant in self.variants else "")
            where = f"{self.variant}{which}: {self.done} / {self.total} rows"
        return f"stopping ({where}; waiting for the rows in flight)" if self.stopping and self.running else where

    def stop(self) -> None:
        """Start no further row; the rows in flight finish and are kept."""
        self.stopping = True


class ExperimentJobs:
    """The experiments of one Studio's web app: the one running, or the last one that ran."""

    def __init__(self) -> None:
        self.last: ExperimentJob | None = None

    def start(self, studio, data: str, variants: list[Variant], scorers: list[ScorerSpec], *,
              limit: int | None, use_cache: bool) -> ExperimentJob:
        """Start the experiment on the running loop; UserError while another one runs."""
        if self.last is not None and self.last.running:
            raise UserError(f"an experiment is already running ({self.last.describe()}); wait for it to finish, "
                            "then run this one.")
        job = ExperimentJob(data=data, variants=[v.name for v in variants])
        job.task = asyncio.get_running_loop().create_task(self._run(job, studio, data, variants, scorers,
                                                                    limit=limit, use_cache=use_cache))
        self.last = job
        return job

    @staticmethod
    async def _run(job: ExperimentJob, studio, data, variants, scorers, *, limit, use_cache) -> None:
        try:
            job.result = await run_experiment(studio, data, variants, scorers, limit=limit, use_cache=use_cache,
                                              progress=job.progress, stop=lambda: job.stopping)
        except ExperimentStopped as e:
            job.stopped, job.error = True, str(e)
        except UserError as e:
            job.error = str(e)
        except asyncio.CancelledError:  # the server is stopping
            job.error = "the experiment stopped with the server; run it again to finish it (done rows are kept)."
            raise
        except Exception as e:  # noqa: BLE001 - a page shows a sentence, the log keeps the rest
            log.exception("the experiment failed")
            job.error = f"the experiment failed ({type(e).__name__}: {e}); the server log has the details."


T = TypeVar("T")


def per_studio(make: Callable[[], T]) -> Callable[[Any], T]:
    """A getter of one `make()` per Studio, made at first use: the web app's jobs belong to its
    Studio (a new Studio, as each test builds, starts with none)."""
    made: "weakref.WeakKeyDictionary[Any, T]" = weakref.WeakKeyDictionary()

    def get(studio) -> T:
        found = made.get(studio)
        if found is None:
            found = made[studio] = make()
        return found
    return get


experiment_jobs = per_studio(ExperimentJobs)  # the web app's experiments of a Studio
