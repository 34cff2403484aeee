"""`--executor ray`: a batch's rows as Ray tasks, on a local Ray started for the job or on an
existing cluster (`--ray-address` / `RAY_ADDRESS`).

What crosses into Ray, and why:
- The plan, the pipeline and the model specs go once into the object store (`ray.put`);
  they hold no secret (a spec names its key, never holds it). Workers build a small engine
  from them, so a remote cluster needs none of the driver's files.
- Records flow back: a worker keeps the call and run records (and the audit content) it
  produces and hands them to the job's `JobState` after each call that leaves the machine and
  at the end of each task; the driver takes them from there as each task ends and hands them
  to `studio.recorder`, the one analytics writer. A worker that dies mid-task (Ray then runs
  the task again) has handed over the calls it paid for; returned with the task, they died
  with it. Workers never open analytics.duckdb.
- Keys: only the keys the target's models name are read on the driver and put into the
  memory of the job's actor (`JobState`, studio/eval/ray_job_state.py), one per job, killed
  when the job ends. Task arguments carry its handle, never a key, so Ray's task specs, logs
  and spilled objects hold no secret; a worker asks it for a key when a call needs it.
  Environment variables (runtime_env) were rejected: Ray shows them in its dashboard and job
  info.
- What a capability node chooses by — the scores saved from experiments, the recent latency
  and error figures from analytics, the models' health — lives in the driver's studio, which
  a worker cannot read. The driver reads them as the local executor does and sends them with
  each chunk (`routing_facts`; no secret in them), so the rows choose as local rows would.
- Rate limits: a model's requests and tokens per minute bind the whole job, not each worker
  (two workers each keeping to 60 a minute made 120). One `RateGate` actor per job holds the
  model's limiter; a worker books each call's slot there and waits the seconds it is given.
  The gate runs on the driver's machine and books in the data dir's files, so the job also
  shares the limit with the web app and other commands there (not through Ray Client).
- Circuit breakers: a model that is down opens its breaker after `threshold` failures in a
  row across the job, as it does across the local executor's rows, not after `threshold` on
  every worker. The job's `JobState` holds the breakers; a worker asks it before a call and
  tells it the outcome, except while its last answer ("closed, nothing failed") is under
  `_SharedBreaker.FRESH_S` old and nothing failed on the worker since.
- The output cache is per worker process (a temporary dir), so cache hits can differ from
  the local executor's; outputs, statuses and costs do not. The dir is named after the job
  (`iom-ray-JOB-…`): a worker removes it when a later job replaces it or the process ends, and
  the driver removes its job's dirs on this machine when the job ends, since Ray may end
  workers without running their exit handlers.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import itertools
import logging
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

from studio.engine import Engine
from studio.engine.resilience import RateLimiters
from studio.errors import UserError
from studio.eval.ray_job_state import JobState
from studio.registry.quality import load_quality

_WORKER: dict[str, Any] = {}  # per worker process: job -> its _WorkerStudio
HOME_PREFIX = "iom-ray-"
WAIT_S = 0.5  # one wait for a finished task, at most


def _ray():
    try:
        import ray
    except ImportError:
        raise UserError("the Ray executor needs the 'scale' extra: pip install 'iom-studio[scale]' "
                        "(or pip install ray), then run this again.") from None
    return ray


async def needed_keys(studio, models) -> dict[str, str]:
    """Only the keys the batch's models name (`batch_models`: model nodes, fallbacks, swaps and
    the candidates of its capability nodes), read off the event loop."""
    from studio.secrets.store import read_keys

    names = sorted({spec.key_ref for spec in models if spec is not None and spec.key_ref})
    return {name: value for name, value in (await read_keys(studio.keys, names)).items() if value}


class _SpecList:
    """The registry a worker needs: the driver's specs, read-only, no files."""

    def __init__(self, specs):
        self._by_id = {s.id: s for s in specs}
        self.health: dict = {}

    def all(self):
        return list(self._by_id.values())

    def find(self, model_id):
        return self._by_id.get(model_id)

    def get(self, model_id):
        spec = self._by_id.get(model_id)
        if spec is None:
            raise UserError(f"no model {model_id!r} in the registry; 'iom models list' shows the ids.")
        return spec

    def health_all(self):
        return self.health  # the driver's, sent with each chunk


class RateGate:
    """The job's rate limits, in one place for all its workers (a Ray actor): books a call's
    slot and says how long to wait for it. Given the data dir's bookings folder (`rate_gate`
    runs it on the driver's machine then), it books there, in the queue the web app, the
    gateway and other commands on that data dir book in."""

    def __init__(self, window_s: float, bookings: str | None = None):
        self._limiters = RateLimiters(window_s, bookings=Path(bookings) if bookings else None)

    def reserve(self, model_id: str, rpm: int | None, tpm: int | None, tokens: int) -> float:
        limiter = self._limiters.get(model_id, rpm, tpm)
        return limiter.reserve(tokens) if limiter else 0.0


def rate_gate(ray, limiters: RateLimiters):
    """The job's RateGate, pinned to the driver's Ray node so that it can book in the data dir's
    files (`limiters.bookings`): a model's limit is its account's, and a batch beside the web app
    booked apart from it sent both their full rate. Through Ray Client (`ray://`) the driver is
    not a node of the cluster: the gate then keeps the job's bookings in its memory."""
    from ray.util.client import ray as client
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options: dict[str, Any] = {"num_cpus": 0}
    bookings = None
    if limiters.bookings is not None and not client.is_connected():
        node = ray.get_runtime_context().get_node_id()
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
        bookings = str(limiters.bookings)
    return ray.remote(RateGate).options(**options).remote(limiters.window_s, bookings)


class _SharedBreaker:
    """A worker's side of one model's breaker in the job's `JobState`, with the engine's
    breaker interface. While the breaker's last answer, "closed, nothing failed", is under
    FRESH_S old and no call failed here since, a call goes without asking and its success is
    not sent (there is nothing for it to reset) until the next message: a healthy model costs
    no message per call (at FRESH_S = 0.1 the asks still cost the offline Ray batch ~7 % of its
    rows/s). A call that fails here ends that at once; a model that fails only on other workers
    is seen here within FRESH_S. Otherwise `allow` asks (an awaitable the engine awaits) and
    outcomes are sent as they come, without waiting."""

    FRESH_S = 1.0

    def __init__(self, state, model_id: str):
        self._state, self._model_id = state, model_id
        self._clear_until = 0.0  # time.monotonic() until which "closed, nothing failed" holds
        self._unsent_success = False

    def allow(self):
        if time.monotonic() < self._clear_until:
            return True
        return self._ask()

    async def _ask(self) -> bool:
        self._send_success()  # first: Ray runs one caller's messages to an actor in order
        asked = time.monotonic()
        try:
            allowed, clear = await self._state.allow.remote(self._model_id)
        except asyncio.CancelledError:  # it may have given this call the half-open probe
            self.release()
            raise
        if clear:
            self._clear_until = asked + self.FRESH_S
        return allowed

    def success(self) -> None:
        self._unsent_success = True
        if time.monotonic() >= self._clear_until:
            self._send_success()

    def _send_success(self) -> None:
        if self._unsent_success:
            self._unsent_success = False
            self._state.success.remote(self._model_id)

    def failure(self) -> None:
        self._clear_until = 0.0
        self._send_success()
        self._state.failure.remote(self._model_id)

    def release(self) -> None:
        self._state.release.remote(self._model_id)


class _GatedLimiter:
    """What the engine awaits before a call, answered by the job's RateGate."""

    def __init__(self, gate, spec):
        self._gate, self._spec = gate, spec

    async def acquire(self, tokens: int = 0) -> float:
        rl = self._spec.rate_limit
        wait = await self._gate.reserve.remote(self._spec.id, rl.requests_per_minute, rl.tokens_per_minute, tokens)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


class _WorkerEngine(Engine):
    """An engine whose capability nodes choose by the driver's figures (`routing_facts`) — a
    worker has no quality.json, no analytics and no health.json of its own — and whose rate
    limits and circuit breakers are the job's (`RateGate`, `JobState`)."""

    facts: dict[str, Any] = {}
    gate = None  # the job's RateGate, when one of its models has limits
    state = None  # the job's JobState (its breakers)

    def breaker(self, model_id: str):
        if self.state is None:
            return super().breaker(model_id)
        if model_id not in self.breakers:
            self.breakers[model_id] = _SharedBreaker(self.state, model_id)
        return self.breakers[model_id]

    def limiter(self, spec):
        if self.gate is None or spec.rate_limit is None:
            return super().limiter(spec)
        return _GatedLimiter(self.gate, spec)

    def measured_quality(self, capability: str) -> dict[str, dict]:
        return self.facts.get("quality", {}).get(capability, {})

    async def call_stats(self) -> dict[str, dict]:
        return self.facts.get("callStats", {})


async def routing_facts(studio) -> dict[str, Any]:
    """The figures the local executor's capability nodes would choose by now: read for each
    chunk (the call figures change as the batch's own calls are recorded)."""
    def read_files():
        return {"quality": load_quality(studio.home),
                "health": {k: v.model_dump(mode="json", by_alias=True) for k, v in studio.models.health_all().items()}}
    facts = await asyncio.to_thread(read_files)
    facts["callStats"] = await studio.engine.call_stats()
    return facts


class _JobKeys:
    """KeyStore stand-in on a worker: asks the job's `JobState`, keeps answers in memory."""

    def __init__(self, state):
        self._state = state
        self._got: dict[str, str | None] = {}

    def get(self, name: str) -> str | None:
        if name not in self._got:
            import ray

            self._got[name] = ray.get(self._state.get.remote(name))
        return self._got[name]


class _HandingRecorder:
    """A worker's recorder: keeps records as the driver will take them (JSON documents; a run's
    latest state only) until `hand_over` sends them to the job's JobState."""

    def __init__(self, state):
        self._state = state
        self._calls: list[tuple[dict, Any, Any]] = []
        self._runs: dict[str, dict] = {}

    def record_call(self, record, input: Any = None, output: Any = None) -> None:
        self._calls.append((record.model_dump(mode="json", by_alias=True), input, output))

    def record_run(self, run) -> None:
        self._runs[run.id] = run.model_dump(mode="json", by_alias=True)  # a snapshot: the engine goes on changing it

    def hand_over(self):
        """Send what is kept; the ref to wait on, None when nothing was kept."""
        if not self._calls and not self._runs:
            return None
        ref = self._state.add_records.remote(self._calls, list(self._runs.values()))
        self._calls, self._runs = [], {}
        return ref


class _RecordsHandedOn:
    """The worker engine's model caller: once a call that left the machine (a paid one, unlike a
    built-in model's) has ended, the records so far go to the JobState, so a worker that dies
    later has handed them over. Sent, not waited for (Ray delivers one caller's actor calls in
    order, and the task's end waits for the last): waiting before a call put time between the
    rate limit's booking of its slot and its sending, and four calls reached a provider within
    a window that allows three."""

    def __init__(self, hub, recorder: _HandingRecorder):
        self._hub, self._recorder = hub, recorder

    async def call(self, spec, request, **kwargs):
        try:
            return await self._hub.call(spec, request, **kwargs)
        finally:
            if spec.api != "local":
                self._recorder.hand_over()

    def __getattr__(self, name: str):
        return getattr(self._hub, name)


class _WorkerStudio:
    def __init__(self, job: str, plan_doc: dict, pipeline_doc: dict | None, spec_docs: list[dict], state, gate):
        from studio.eval.batch import BatchPlan
        from studio.providers.hub import ProviderHub
        from studio.spec import load_pipeline
        from studio.spec.model import ModelSpec

        self.plan = BatchPlan.from_json(plan_doc)
        self.home = Path(tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{job}-"))
        self.keys = _JobKeys(state)
        self.models = _SpecList([ModelSpec.model_validate(d) for d in spec_docs])
        self.pipeline = load_pipeline(pipeline_doc) if pipeline_doc else None
        self.recorder = _HandingRecorder(state)
        # one loop for the worker's life: the engine's semaphores and limiters belong to it
        self.loop = asyncio.new_event_loop()
        self.providers = ProviderHub(keys=self.keys, recorder=self.recorder)
        self.engine = _WorkerEngine(models=self.models, caller=_RecordsHandedOn(self.providers, self.recorder),
                                    recorder=self.recorder,
                                    keys=self.keys, home=self.home)
        self.engine.gate, self.engine.state = gate, state
        pipe = self.pipeline

        class _Pipelines:  # run_row asks for the target by id
            def get(self, _id):
                return pipe

            def exists(self, _id):
                return pipe is not None
        self.pipelines = _Pipelines()

    def close(self) -> None:
        """Its connections closed on its own loop, its output cache and temporary dir gone."""
        try:
            self.loop.run_until_complete(self.providers.aclose())
            self.loop.close()
            self.engine.cache.close()
        finally:  # whatever the connections did, the dir goes
            shutil.rmtree(self.home, ignore_errors=True)

    def take_facts(self, facts: dict[str, Any]) -> None:
        from studio.spec.model import HealthStatus

        self.engine.facts = facts
        self.models.health = {k: HealthStatus.model_validate(v) for k, v in facts.get("health", {}).items()}


def _run_chunk(shared: dict, state, gate, items: list[tuple[int, dict]], facts: dict[str, Any]) -> dict:
    """A Ray task: a few rows run concurrently on this worker; returns the rows once their
    records are with the job's JobState."""
    from studio.eval.batch import batch_models, calls_at_once, run_row, warm_builtin_models

    key = shared["job"]
    ws = _WORKER.get(key)
    if ws is None:
        _close_workers()  # an earlier job's
        ws = _WORKER[key] = _WorkerStudio(key, shared["plan"], shared["pipeline"], shared["specs"], state, gate)
        ws.plan.swaps = {}  # the shipped pipeline has its swaps applied already
        warm_builtin_models(batch_models(ws, ws.plan.kind, ws.plan.target, ws.pipeline))  # as the local executor does
    ws.take_facts(facts)

    async def go():
        with calls_at_once(ws, len(items)):  # this chunk's rows run at once
            return await asyncio.gather(*(run_row(ws, ws.plan, i, row) for i, row in items))
    rows = ws.loop.run_until_complete(go())
    handed = ws.recorder.hand_over()
    if handed is not None:
        import ray

        ray.get(handed)  # Ray runs one caller's actor calls in order: all of this task's are in
    return {"rows": rows}


def _close_workers() -> None:
    """Close this process's worker studios (a no-op in the driver, which has none)."""
    for done in _WORKER.values():
        done.close()
    _WORKER.clear()


atexit.register(_close_workers)


def _record(studio, calls: list, runs: list) -> None:
    """Records the workers handed to the job's JobState, to the one analytics writer."""
    from studio.spec.records import CallRecord, RunRecord

    for rec, i, o in calls:
        studio.recorder.record_call(CallRecord.model_validate(rec), i, o)
    for run in runs:
        studio.recorder.record_run(RunRecord.model_validate(run))


def remove_job_homes(job: str) -> None:
    """The job's worker dirs on this machine (a remote cluster's workers remove their own)."""
    for home in Path(tempfile.gettempdir()).glob(f"{HOME_PREFIX}{job}-*"):
        shutil.rmtree(home, ignore_errors=True)


def _start(ray) -> bool:
    """Connect to RAY_ADDRESS or start a local Ray; True when this job started it.

    Without an address the job starts a Ray of its own (`address="local"`): a bare `ray.init()`
    joins the cluster that `ray start` left on this machine, and refused the job's `num_cpus`.
    A cluster started with `ray start` asks for a token (Ray 2.5x), which Ray sends to an
    address given explicitly only with RAY_AUTH_MODE=token: the sentence says so."""
    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    root = str(Path(__file__).resolve().parents[2])
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": root}}, logging_level=logging.ERROR)
    except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError …
        raise UserError(_not_started(address, e)) from None
    return True


def _not_started(address: str | None, e: Exception) -> str:
    said = " ".join(str(x) for x in (e, e.__cause__) if x is not None)
    if address and "InvalidAuthToken" in said:
        return (f"the Ray cluster at {address} asks for a token: set RAY_AUTH_MODE=token (Ray reads the "
                "token from RAY_AUTH_TOKEN, else ~/.ray/auth_token), then run this again.")
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    return (f"could not start or reach {where} ({str(e).splitlines()[0]}); "
            "check --ray-address / RAY_ADDRESS or use --executor local.")


async def run_rows_on_ray(studio, plan, pending: Iterable[tuple[int, dict]],
                          stop: Callable[[], bool] = lambda: False) -> AsyncIterator[dict]:
    """Yield each finished row (in completion order) while handing its records to the recorder;
    once `stop()` says so, no further chunk is submitted (those in flight finish)."""
    ray = _ray()
    from studio.eval.batch import batch_models, swapped_pipeline
    from studio.registry import export_pipeline

    started = _start(ray)  # on the calling thread: Ray installs its signal handlers there
    job = secrets.token_hex(6)

    state = ray.remote(JobState).options(num_cpus=0).remote(studio.engine.breaker_threshold,
                                                            studio.engine.breaker_cooldown_s)
    gate = None
    chunk_task = ray.remote(_run_chunk)

    loop = asyncio.get_running_loop()
    # Ray's waits, one at a time in a thread of their own. A Ctrl-C cancels the await, not the
    # wait: shut down under a wait still in flight, Ray spun in it for good (a CPU at 75 %) and
    # the command never exited, its default executor waiting for that thread.
    waits = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ray-wait")

    async def take_records(timeout: float | None = None) -> None:
        _record(studio, *await asyncio.to_thread(ray.get, state.take_records.remote(), timeout=timeout))

    try:
        pipeline = swapped_pipeline(studio, plan.target, plan.swaps) if plan.kind == "pipeline" else None
        models = batch_models(studio, plan.kind, plan.target, pipeline)
        await asyncio.to_thread(ray.get, state.load.remote(await needed_keys(studio, models)))
        pipeline_doc = export_pipeline(pipeline) if pipeline else None
        chooses = pipeline is not None and any(n.kind == "capability" for n in pipeline.nodes)
        if any(s is not None and s.rate_limit for s in models):
            gate = rate_gate(ray, studio.engine.rate_limiters)
        shared = ray.put({"job": job, "plan": plan.to_json(), "pipeline": pipeline_doc,
                          "specs": [s.model_dump(mode="json", by_alias=True) for s in studio.models.all()]})

        chunk = max(1, min(16, plan.concurrency // 2))
        in_flight = max(1, plan.concurrency // chunk)
        it = iter(pending)
        refs: list = []

        async def submit() -> bool:
            if stop():
                return False
            items = list(itertools.islice(it, chunk))
            if items:
                facts = await routing_facts(studio) if chooses else {}
                refs.append(chunk_task.remote(shared, state, gate, items, facts))
            return bool(items)

        while len(refs) < in_flight and await submit():
            pass
        while refs:
            # in short waits: a Ctrl-C cancels us between two, where one wait for good outlived
            # the Ray it waited on (shut down in `finally`) and the command never exited; and in a
            # thread of their own, so `finally` lets the wait in flight end before Ray shuts down
            ready, rest = await loop.run_in_executor(waits, functools.partial(
                ray.wait, refs, num_returns=1, timeout=WAIT_S))
            if not ready:
                continue
            refs[:] = rest
            try:
                result = await asyncio.to_thread(ray.get, ready[0])
            finally:  # a task that failed for good has handed over the calls it made too
                await take_records()
            for row in result["rows"]:
                yield row
            await submit()  # after the rows are written: a stop asked meanwhile is seen
    finally:
        with contextlib.suppress(Exception):  # the calls handed over by tasks still going when we stopped
            await take_records(timeout=WAIT_S * 10)
        ray.kill(state)
        if gate is not None:
            ray.kill(gate)
        await asyncio.to_thread(waits.shutdown, wait=True)  # the wait in flight ends within WAIT_S
        if started:
            await asyncio.to_thread(ray.shutdown)
        remove_job_homes(job)
