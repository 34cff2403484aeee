"""The Ray executor on a REAL local Ray (num_cpus=2): same results as the local executor,
records handed back to the driver's recorder, keys reaching workers through the vault."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from studio.core import Studio
from studio.eval.batch import load_rows, plan_batch, run_batch
from studio.recording import MemoryRecorder
from tests.fakes.provider_server import FakeProvider, Reply
from tests.ui.fake_chat import CHAT_PATH, KEY, save_loopback_model

import ray  # the 'scale' extra is part of the test install; no skip

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield
    ray.shutdown()


def _comparable(rows: dict[int, dict]) -> dict[int, tuple]:
    return {i: (r["status"], r["output"], r["costUsd"], r["expected"], r["runId"]) for i, r in rows.items()}


async def _batch(home: Path, executor: str, target="review-triage", data=str(SAMPLE), limit=10, setup=None,
                 concurrency=4):
    s = Studio(home)
    memory = MemoryRecorder()
    s.engine.recorder = s.providers.recorder = s.recorder = memory
    try:
        if setup:
            setup(s)
        plan = plan_batch(s, target, data, limit=limit, concurrency=concurrency, executor=executor)
        agg = await run_batch(s, plan)
        await s.aclose()
        return plan, agg, load_rows(home, plan.id), memory
    finally:
        s.close()


def _worker_homes() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("iom-ray-*"))


async def test_ray_gives_the_local_results_and_returns_records(local_ray, tmp_path):
    lp, la, local_rows, _ = await _batch(tmp_path / "a", "local")
    before = _worker_homes()
    rp, ra, ray_rows, memory = await _batch(tmp_path / "b", "ray")
    assert _worker_homes() <= before  # the workers' temporary dirs are gone with the job
    assert lp.id == rp.id and ra["done"] == la["done"] == 10 and ra["failed"] == 0
    assert _comparable(ray_rows) == _comparable(local_rows)
    # every row's run came back to the driver's recorder (the one analytics writer)
    assert sorted(memory.runs) == sorted(f"{rp.id}-{i}" for i in range(10))
    assert len(memory.calls) == 40  # four model nodes per row
    assert not list((tmp_path / "b").glob("**/analytics.duckdb"))


async def test_keys_reach_ray_workers_only_through_the_vault(local_ray, tmp_path, memory_keyring):
    def answer(req):
        return Reply(json={"id": "c", "object": "chat.completion", "model": "loop-1",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": "c"}\n', encoding="utf-8")
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        plan, agg, rows, memory = await _batch(tmp_path / "h", "ray", target="loop/chat", data=str(data),
                                               limit=None, setup=lambda s: save_loopback_model(s, fake))
        auth = {r.headers.get("authorization") for r in fake.requests if r.path == CHAT_PATH}
    assert agg["succeeded"] == 3 and auth == {f"Bearer {KEY}"}
    assert agg["costUsd"] == pytest.approx(3 * (10e-6 + 2e-6))
    assert len(memory.calls) == 3
    batch_files = "".join(p.read_text("utf-8") for p in (tmp_path / "h" / "batches").glob("*/*"))
    assert KEY not in batch_files


async def test_a_stopped_ray_batch_submits_no_further_chunk_and_resumes(local_ray, tmp_path):
    s = Studio(tmp_path)
    memory = MemoryRecorder()
    s.engine.recorder = s.providers.recorder = s.recorder = memory
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=10, concurrency=4, executor="ray")
        done: list[int] = []
        agg = await run_batch(s, plan, progress=lambda d, t: done.append(d), stop=lambda: done[-1] >= 2)
        assert 2 <= agg["done"] <= 4 and not agg["complete"]  # the chunks in flight finished, no other started
        first = set(load_rows(tmp_path, plan.id))
        memory.runs.clear()
        agg = await run_batch(s, plan)
        await s.aclose()
        assert agg["done"] == 10 and sorted(memory.runs) == sorted(f"{plan.id}-{i}" for i in range(10) if i not in first)
    finally:
        s.close()


async def test_capability_nodes_on_ray_choose_by_the_drivers_scores_figures_and_health(local_ray, tmp_path):
    """What a capability node chooses by lives in the driver's studio (quality.json, the
    analytics' recent calls, health.json); the rows run on Ray choose as the local ones do."""
    from studio.engine.cache import answer_version
    from studio.spec import load_pipeline
    from studio.spec.model import HealthStatus

    def node(nid, choose):
        return {"id": nid, "kind": "capability", "choose": {"capability": "classify", **choose}}
    pipeline = load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "pick", "name": "Pick",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                  node("scored", {"strategy": "cheapest", "minQuality": 0.5}),  # only a measured score passes
                  node("quick", {"strategy": "fastest"}),  # both declare 5 ms: the recent calls decide
                  node("healthy", {"strategy": "balanced", "requireHealthy": True}),  # only a probe says "ok"
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": f"e{n}", "source": "in", "sourcePort": "text", "target": n, "targetPort": "text"}
                  for n in ("scored", "quick", "healthy")]
                 + [{"id": f"o{n}", "source": n, "sourcePort": "out", "target": "out", "targetPort": n}
                    for n in ("scored", "quick", "healthy")]})
    vader, detect = "local/sentiment-vader", "local/language-detect"
    stats = {detect: {"p50Ms": 1.0, "calls": 40, "answered": 40, "errorRate": 0.0},
             vader: {"p50Ms": 90.0, "calls": 40, "answered": 40, "errorRate": 0.0}}

    def setup(s):
        s.pipelines.save(pipeline)
        score = {"score": 0.8, "dataset": "reviews.csv", "scorers": ["sentiment:classification"],
                 "experiment": "x1", "date": "2026-12-01", "rows": 12,
                 "modelVersion": answer_version(s.models.get(vader))}
        (s.home / "quality.json").write_text(json.dumps({"classify": {vader: score}}), "utf-8")
        (s.home / "health.json").write_text(json.dumps({vader: HealthStatus(state="ok").model_dump(mode="json", by_alias=True)}), "utf-8")
        s.engine.recent_call_stats = lambda days=7: stats  # as the analytics of the last days' calls would say

    def choices(memory):
        return {(rid, nid): (n.status, n.model_id, n.reason) for rid, r in memory.runs.items() for nid, n in r.nodes.items()
                if nid in ("scored", "quick", "healthy")}
    _, la, _, local = await _batch(tmp_path / "a", "local", target="pick", limit=4, setup=setup)
    _, ra, _, remote = await _batch(tmp_path / "b", "ray", target="pick", limit=4, setup=setup)
    picked = {nid: model for (_, nid), (_, model, _) in choices(local).items()}
    assert la["succeeded"] == 4 and picked == {"scored": vader, "quick": detect, "healthy": vader}
    assert ra["succeeded"] == 4 and choices(remote) == choices(local)


async def _three_a_window(tmp_path: Path, rows: int, window: float, answer) -> dict:
    """A Ray batch of `rows` prompts to `loop/chat`, limited to 3 calls a "minute" of `window`
    seconds, run two chunks of four at once, the fake answering with `answer`: its aggregate."""
    from studio.spec.model import RateLimit

    def setup(s):
        save_loopback_model(s, fake)
        s.models.save(s.models.get("loop/chat").model_copy(update={"rate_limit": RateLimit(requests_per_minute=3)}))
        s.engine.rate_limiters.window_s = window

    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(f'{{"prompt": "p{i}"}}\n' for i in range(rows)), encoding="utf-8")
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        _, agg, _, _ = await _batch(tmp_path / "h", "ray", target="loop/chat", data=str(data), limit=None, setup=setup,
                                    concurrency=8)
    return agg


async def test_a_models_rate_limit_binds_the_whole_ray_job_not_each_worker(local_ray, tmp_path, memory_keyring):
    """Two workers each keeping to the limit made twice the calls the provider allows."""
    import time

    from tests.ui.fake_chat import plain_answer

    stamps: list[float] = []
    agg = await _three_a_window(tmp_path, 9, 1.0, lambda req: (stamps.append(time.monotonic()), plain_answer("ok"))[1])
    assert agg["succeeded"] == 9 and len(stamps) == 9
    stamps.sort()
    # at most three calls in any second: the 4th call after the 1st waited for the window (stamps
    # are taken where the fake receives, so half a window is the bar, as in the engine's own test)
    assert min(stamps[i + 3] - stamps[i] for i in range(6)) >= 0.5, [round(t - stamps[0], 2) for t in stamps]


async def test_a_ray_job_books_in_the_data_dirs_queue_beside_the_other_processes(local_ray, tmp_path, memory_keyring):
    """A model's limit is its account's: a Ray batch that booked only in its own gate left the
    web app free to send the minute's calls again right after it."""
    from studio.engine.shared_rate import SharedRateLimiter

    from tests.ui.fake_chat import plain_answer

    window = 10.0
    agg = await _three_a_window(tmp_path, 3, window, plain_answer("ok"))
    assert agg["succeeded"] == 3
    # the web app on this data dir, after the job used up the window's three calls: its call waits
    web_app = SharedRateLimiter(tmp_path / "h" / "rate-bookings", "loop/chat", 3, None, window_s=window)
    assert web_app.reserve() >= window / 2


def _ask(middle: dict):
    """The pipeline "ask": its input's text into the node `middle`, that node's text out."""
    from studio.spec import load_pipeline

    nid = middle["id"]
    return load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "ask", "name": "Ask",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                  middle, {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": nid, "targetPort": "text"},
                  {"id": "e2", "source": nid, "sourcePort": "text", "target": "out", "targetPort": "text"}]})


async def test_a_capability_node_on_ray_can_choose_a_model_that_needs_a_key(local_ray, tmp_path, memory_keyring):
    """The vault holds the keys of every model the batch may call, a capability node's
    candidates included: with only its model nodes' keys, no keyed model could be chosen."""
    from tests.ui.fake_chat import plain_answer

    def setup(s):
        save_loopback_model(s, fake)
        s.models.save(s.models.get("loop/chat").model_copy(update={"capabilities": ["loop-answer"]}))
        s.pipelines.save(_ask({"id": "c", "kind": "capability", "choose": {"capability": "loop-answer"}}))

    data = tmp_path / "texts.jsonl"
    data.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, plain_answer("ok"))
        _, local, _, _ = await _batch(tmp_path / "a", "local", target="ask", data=str(data), limit=None, setup=setup)
        _, remote, rows, memory = await _batch(tmp_path / "b", "ray", target="ask", data=str(data), limit=None, setup=setup)
    assert local["succeeded"] == 2 and remote["succeeded"] == 2, [r.get("error") for r in rows.values()]
    assert {r.nodes["c"].model_id for r in memory.runs.values()} == {"loop/chat"}


async def test_a_model_that_is_down_opens_one_breaker_for_the_whole_ray_job(local_ray, tmp_path, memory_keyring):
    """The local executor's rows share a breaker per model: it opens after `threshold` failures
    in a row and the rows after it fail without a call. Each Ray worker kept a breaker of its
    own, so a model that was down took `threshold` calls on every worker."""
    import time

    from tests.ui.fake_chat import overloaded

    def setup(s):
        save_loopback_model(s, fake)
        s.pipelines.save(_ask({"id": "m", "kind": "model", "model": "loop/chat", "prompt": "{{ text }}",
                               "policy": {"retries": 0}}))

    def down(req):  # slow enough that both workers' chunks are in flight at once
        time.sleep(0.1)
        return overloaded()
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(f'{{"text": "t{i}"}}\n' for i in range(40)), encoding="utf-8")
    calls = {}
    for executor in ("local", "ray"):
        with FakeProvider() as fake:
            fake.reply(CHAT_PATH, down)
            _, agg, rows, _ = await _batch(tmp_path / executor, executor, target="ask", data=str(data), limit=None,
                                           setup=setup, concurrency=4)
            calls[executor] = len(fake.requests)
        assert agg["failed"] == 40
        assert sum("circuit breaker open" in (r["error"] or "") for r in rows.values()) >= 30, executor
    # the engine's default threshold (the job's JobState takes the driver's), and the four calls in
    # flight when it opens: 8 each here; the Ray workers' own breakers let through 10 to 12
    threshold, concurrency = 5, 4
    assert calls["local"] <= threshold + concurrency and calls["ray"] <= threshold + concurrency, calls


def _process_of(client: tuple[str, int]) -> int:
    """The pid whose TCP socket on this machine has the local port of `client`."""
    import os

    port = f"{client[1]:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].rsplit(":", 1)[1] == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if inodes & {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}:
                if int(pid) != os.getpid():
                    return int(pid)
        except OSError:  # gone, or not ours to read
            continue
    raise AssertionError(f"no process holds port {client[1]}")


async def test_the_calls_a_ray_worker_made_before_it_died_are_recorded(local_ray, tmp_path, memory_keyring):
    """A task's records came back only in its result: a worker killed mid-task took the calls it
    had made (and paid for) with it, and Ray's second run of the task made them again."""
    import os
    import signal

    from tests.ui.fake_chat import plain_answer

    def setup(s):
        save_loopback_model(s, fake)
        s.pipelines.save(load_pipeline({
            "format": "iom.pipeline", "version": 1, "id": "twice", "name": "Twice",
            "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                      {"id": "a", "kind": "model", "model": "loop/chat", "prompt": "first: {{ text }}"},
                      {"id": "b", "kind": "model", "model": "loop/chat", "prompt": "second: {{ text }}"},
                      {"id": "out", "kind": "output"}],
            "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "a", "targetPort": "text"},
                      {"id": "e2", "source": "a", "sourcePort": "text", "target": "b", "targetPort": "text"},
                      {"id": "e3", "source": "b", "sourcePort": "text", "target": "out", "targetPort": "text"}]}))

    killed: list[int] = []

    def answer(req):
        said = json.dumps(req.json)
        if "second: first t3" in said and not killed:  # row t3's second call: its worker dies
            killed.append(_process_of(req.client))
            os.kill(killed[0], signal.SIGKILL)
        return plain_answer("first t" + said.split("first: t")[1][0] if "first: t" in said else "done")

    from studio.spec import load_pipeline

    data = tmp_path / "texts.jsonl"
    data.write_text("".join(f'{{"text": "t{i}"}}\n' for i in range(6)), encoding="utf-8")
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        _, agg, rows, memory = await _batch(tmp_path / "h", "ray", target="twice", data=str(data), limit=None,
                                            setup=setup, concurrency=2)
        sent = [json.dumps(r.json) for r in fake.requests]
    assert killed and agg["succeeded"] == 6, [r.get("error") for r in rows.values()]
    firsts = [s for s in sent if "first: t3" in s]
    assert len(firsts) == 2  # the dead worker's call, and the one of Ray's second run of the task
    recorded = [c for c, i, _ in memory.calls if "first: t3" in json.dumps(i)]
    assert len(recorded) == 2 and len(memory.calls) == len(sent) - 1  # all but the call the worker died in
