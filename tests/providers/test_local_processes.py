"""The built-in models in worker processes (studio/providers/local/processes.py): the same
answers and errors as in threads, a worker that dies costs only its calls, and the workers
live exactly as long as the batches that use them."""

from __future__ import annotations

import json
import asyncio
import os
import signal

import pytest

from studio.core import Studio
from studio.eval.batch import load_rows, plan_batch, run_batch
from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.local import LOCAL_MODELS, processes
from tests.eval.test_batch import SAMPLE
from tests.providers import local_texts as T

ALL = sorted(LOCAL_MODELS)
TEXTS = [T.BY_LANGUAGE["en"], T.BY_LANGUAGE["ja"], T.BY_LANGUAGE["ar"], "Short.", "emoji 😀 and a lone \udcff surrogate"]


@pytest.fixture
def one_worker(monkeypatch):
    monkeypatch.setenv("IOM_LOCAL_WORKERS", "1")


def _in_thread(name, input, params):
    try:
        return "ok", LOCAL_MODELS[name].run(input, params)
    except ProviderError as e:
        return "error", (e.kind, e.detail)


async def _in_worker(pool, name, input, params):
    try:
        return "ok", await asyncio.wrap_future(pool.submit(name, input, params))
    except ProviderError as e:
        return "error", (e.kind, e.detail)


async def test_workers_answer_what_the_threads_answer(one_worker):
    cases = [(name, {"text": text}, {}) for name in ALL for text in TEXTS]
    cases += [("yake-keywords", {"text": T.BY_LANGUAGE["en"]}, {"top_n": 3}),
              ("vader-sentiment", {"text": 5}, {}),  # not text: the model's own sentence
              ("yake-keywords", {"text": "words"}, {"top_n": 0})]  # a param out of range
    async with processes.in_use(ALL) as pool:
        assert pool is processes.current() is not None
        answers = await asyncio.gather(*(_in_worker(pool, *case) for case in cases))
    for case, answer in zip(cases, answers):
        assert answer == _in_thread(*case), case
    assert ("error", (ErrorKind.INVALID_INPUT, "the input needs a 'text' field holding a string")) in answers


async def test_the_local_adapter_uses_the_workers_only_during_a_batch(iom_home, one_worker):
    s = Studio(iom_home)
    try:
        text = {"text": "The room was lovely but breakfast was cold."}
        in_thread = await s.providers.call(s.models.get("local/sentiment-vader"), _request(text))
        assert processes.current() is None
        async with processes.in_use(["vader-sentiment"]) as pool:
            pid = pool.pids()[0]
            in_worker = await s.providers.call(s.models.get("local/sentiment-vader"), _request(text))
            assert pool.pids() == [pid]
        assert in_worker.output == in_thread.output
        assert processes.current() is None and not _alive(pid), "the worker outlived the batch"
        await s.aclose()
    finally:
        s.close()


async def test_a_worker_that_dies_fails_its_calls_retryably_and_the_next_call_starts_another(one_worker):
    async with processes.in_use(["vader-sentiment"]) as pool:
        pid = pool.pids()[0]
        held = pool.submit("vader-sentiment", {"text": "lovely " * 200_000}, {})  # long enough to be in flight
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ProviderError) as caught:
            await asyncio.wrap_future(held)
        assert caught.value.kind == ErrorKind.SERVER and caught.value.retryable
        assert "worker process ended" in caught.value.detail
        answer = await asyncio.wrap_future(pool.submit("vader-sentiment", {"text": "lovely"}, {}))
        assert answer == LOCAL_MODELS["vader-sentiment"].run({"text": "lovely"}, {})
        assert pool.pids() and pool.pids()[0] != pid


async def test_batches_share_one_pool_which_ends_with_the_last(one_worker):
    async with processes.in_use(["langdetect"]) as first:
        async with processes.in_use(["vader-sentiment"]) as second:
            assert first is second
            pids = first.pids()
        assert processes.current() is first and all(_alive(p) for p in pids)
    assert processes.current() is None and not any(_alive(p) for p in pids)


async def test_no_workers_when_set_to_zero_or_for_no_built_in_model(monkeypatch):
    async with processes.in_use([]) as pool:
        assert pool is None and processes.current() is None
    monkeypatch.setenv("IOM_LOCAL_WORKERS", "0")
    async with processes.in_use(["langdetect"]) as pool:
        assert pool is None and processes.current() is None


async def test_a_batch_runs_its_built_in_models_in_workers_with_the_same_rows(iom_home, tmp_path, one_worker,
                                                                              monkeypatch):
    """The same 12 rows of the sample pipeline (four built-in models) with the models in a
    worker process and, in another home, in threads: the same outputs; the worker is there
    while the rows run and gone after."""
    async def rows(home):
        s = Studio(home)
        try:
            during = []
            plan = plan_batch(s, "review-triage", str(SAMPLE), limit=12, concurrency=4)
            await run_batch(s, plan, progress=lambda d, t: during.append(processes.current()))
            await s.aclose()
            return {i: r["output"] for i, r in load_rows(home, plan.id).items()}, during
        finally:
            s.close()

    in_workers, during = await rows(iom_home)
    assert during[0] is None and all(p is not None for p in during[1:]) and processes.current() is None
    monkeypatch.setenv("IOM_LOCAL_WORKERS", "0")
    (tmp_path / "threads").mkdir()
    in_threads, during = await rows(tmp_path / "threads")
    assert not any(during)
    assert len(in_workers) == 12 and in_threads == in_workers


async def test_the_workers_load_the_batch_models_before_its_first_row(iom_home, one_worker, monkeypatch):
    import studio.eval.batch as batch_module

    events = []
    real_warm, real_run_row = processes.WorkerPool.warm, batch_module.run_row

    def warm(pool, names):
        events.append(("warm", tuple(names)))
        futures = real_warm(pool, names)
        for f in futures:
            f.add_done_callback(lambda f: events.append(("warmed",)))
        return futures

    async def run_row(studio, plan, index, row, pipeline=None):
        events.append(("row", index))
        return await real_run_row(studio, plan, index, row, pipeline=pipeline)
    monkeypatch.setattr(processes.WorkerPool, "warm", warm)
    monkeypatch.setattr(batch_module, "run_row", run_row)
    s = Studio(iom_home)
    try:
        await run_batch(s, plan_batch(s, "review-triage", str(SAMPLE), limit=3, concurrency=2))
        named = sorted({s.models.get(n.model).model for n in s.pipelines.get("review-triage").nodes if n.model})
        assert events[:2] == [("warm", tuple(named)), ("warmed",)] and events[2][0] == "row"
        await s.aclose()
    finally:
        s.close()


def _request(input):
    from studio.spec.calls import CallRequest

    return CallRequest(model_id="local/sentiment-vader", input=input)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # reaped or not: a zombie has ended
        return f.read().split(") ")[1][0] != "Z"


async def test_workers_that_cannot_start_leave_the_models_in_threads(iom_home, one_worker, monkeypatch):
    class NoStart:
        def __init__(self):
            raise OSError("no such interpreter")
    monkeypatch.setattr(processes, "_Process", NoStart)
    s = Studio(iom_home)
    try:
        during = []
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=4, concurrency=2)
        agg = await run_batch(s, plan, progress=lambda d, t: during.append(processes.current()))
        assert agg["succeeded"] == 4 and not any(during) and processes.current() is None
        await s.aclose()
    finally:
        s.close()


async def test_an_experiment_starts_its_workers_once_for_every_variant(iom_home, one_worker, monkeypatch):
    from studio.eval.experiments import Variant, run_experiment
    from studio.eval.scorers import ScorerSpec

    pools = []
    real_init = processes.WorkerPool.__init__

    def counted(pool, size):
        pools.append(pool)
        real_init(pool, size)
    monkeypatch.setattr(processes.WorkerPool, "__init__", counted)
    s = Studio(iom_home)
    try:
        variants = [Variant("review-triage"), Variant("local/sentiment-vader", fields={"sentiment": "label"})]
        doc = await run_experiment(s, str(SAMPLE), variants, [ScorerSpec("sentiment", "exact")], limit=6, concurrency=3)
        assert [v["rows"] for v in doc["variants"]] == [6, 6] and len(pools) == 1
        assert processes.current() is None
        # the same experiment again: every row is done, so no worker starts at all
        again = await run_experiment(s, str(SAMPLE), variants, [ScorerSpec("sentiment", "exact")], limit=6, concurrency=3)
        assert again["variants"][0]["quality"] == doc["variants"][0]["quality"] and len(pools) == 1
        await s.aclose()
    finally:
        s.close()


async def test_a_worker_is_given_no_key(one_worker, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-worker-0000000000000000")
    monkeypatch.setenv("MY_PROVIDER_TOKEN", "t-0000")
    monkeypatch.setenv("IOM_TEST_PLAIN", "kept")
    async with processes.in_use(["text-stats"]) as pool:
        with open(f"/proc/{pool.pids()[0]}/environ", "rb") as f:
            names = {item.split(b"=", 1)[0].decode() for item in f.read().split(b"\0") if item}
    assert "IOM_TEST_PLAIN" in names and "PATH" in names
    assert not names & {"OPENAI_API_KEY", "MY_PROVIDER_TOKEN"}


def test_a_worker_whose_studio_went_away_ends_without_a_traceback(tmp_path):
    """A batch killed with kill -9 left its workers writing to a closed pipe: each printed a
    Python traceback into the person's terminal."""
    import subprocess
    import sys

    request = json.dumps({"model": "text-stats", "input": {"text": "A short text."}, "params": {}}) + "\n"
    worker = subprocess.Popen([sys.executable, "-m", "studio.providers.local.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    worker.stdout.close()  # the studio is gone: nobody reads the answers
    _, err = worker.communicate(request.encode() * 50, timeout=60)
    assert worker.returncode == 0 and b"Traceback" not in err, err.decode()
