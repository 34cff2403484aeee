"""The executor: concurrency on the critical path, routers, merges, errors, cancellation,
streaming and partial runs — through the real hub against a loopback OpenAI-format server."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from studio.engine import Engine, RunOptions
from studio.errors import UserError
from studio.providers.hub import ProviderHub
from studio.spec import ModelSpec
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.in_flight import InFlight
from tests.fakes.provider_server import Reply, sse
from tests.providers.conftest import DictKeys


def slow(text: str, seconds: float):
    def answer(_rec):
        time.sleep(seconds)
        return Reply(json=chat_reply(text))
    return answer


def model_node(node_id: str, model: str, prompt: str = "{{ text }}", **extra) -> dict:
    return {"id": node_id, "kind": "model", "model": model, "prompt": prompt, **extra}


async def test_fan_out_runs_as_fast_as_its_critical_path(engine, registry, fake):
    # in -> a(0.4 s) -> c(0.2 s) -> merge ; in -> b(0.3 s) -> merge ; critical path 0.6 s, sum 0.9 s
    for name, delay in (("a", 0.4), ("b", 0.3), ("c", 0.2)):
        openai_model(registry, fake, f"t/{name}", f"/{name}/v1/chat/completions")
        fake.reply(f"/{name}/v1/chat/completions", slow(name.upper(), delay))
    p = pipeline([TEXT_IN, model_node("a", "t/a"), model_node("b", "t/b"), model_node("c", "t/c"),
                  {"id": "m", "kind": "merge"}, OUT],
                 [("e1", "in", "a"), ("e2", "in", "b"), ("e3", "a", "c", "text", "text"),
                  ("e4", "c", "m", "text", "fromC"), ("e5", "b", "m", "text", "fromB"), ("e6", "m", "out")])
    await engine.run(p, {"text": "warm-up"})  # first connections and imports: once per process, not per run
    started = time.perf_counter()
    record = await engine.run(p, {"text": "go"}, RunOptions(use_cache=False))
    wall = time.perf_counter() - started
    assert record.status == "succeeded", record.error
    assert record.outputs == {"fromC": "C", "fromB": "B"}
    ratio = wall / 0.6
    assert ratio <= 1.2, f"wall {wall:.3f}s is {ratio:.2f}x the 0.6s critical path"
    assert {r.path for r in fake.requests[3:]} == {"/a/v1/chat/completions", "/b/v1/chat/completions", "/c/v1/chat/completions"}


@pytest.mark.parametrize("provider, at_once", [("openai", 24), ("ollama", 8)])
async def test_a_wide_fan_out_to_one_provider_is_not_held_back(engine, registry, fake, provider, at_once):
    """24 parallel calls to a provider's API are all in flight at once: the engine's own bound
    per provider is the hub's pool (64), so a fan-out takes one call's time, not three rounds
    of 8. Ollama computes on this machine, a few at a time: it is still given 8 (the rest would
    wait in its queue, on their timeouts)."""
    openai_model(registry, fake, "t/w", "/w/v1/chat/completions", provider=provider)
    answer = InFlight(seconds=0.5)  # calls beyond `at_once` that the engine lets through arrive meanwhile
    answer.expect(at_once)
    fake.reply("/w/v1/chat/completions", *[answer] * 24)
    wide = [model_node(f"n{i}", "t/w") for i in range(24)]
    p = pipeline([TEXT_IN, *wide, {"id": "m", "kind": "merge"}, OUT],
                 [*((f"a{i}", "in", f"n{i}") for i in range(24)),
                  *((f"b{i}", f"n{i}", "m", "text", f"r{i}") for i in range(24)), ("c", "m", "out")])
    record = await engine.run(p, {"text": "go"}, RunOptions(use_cache=False))
    assert record.status == "succeeded", record.error
    assert len(record.outputs) == 24 and answer.most == at_once


async def test_prompt_templates_edges_and_the_run_record(engine, registry, fake, recorder):
    openai_model(registry, fake, "t/a", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("Bonjour", 12, 3)))
    p = pipeline([TEXT_IN, model_node("tr", "t/a", prompt="Translate into {{ lang or 'French' }}: {{ text }}"),
                  {"id": "shout", "kind": "transform", "template": "{{ text | upper }}!"}, OUT],
                 [("e1", "in", "tr"), ("e2", "tr", "shout", "text", "text"), ("e3", "shout", "out", "text", "result")])
    record = await engine.run(p, {"text": "Hello"})
    assert fake.last.json["messages"] == [{"role": "user", "content": "Translate into French: Hello"}]
    assert record.outputs == {"result": "BONJOUR!"}
    tr = record.nodes["tr"]
    assert (tr.status, tr.model_id, tr.attempts, tr.usage.input_tokens, tr.usage.output_tokens) == ("succeeded", "t/a", 1, 12, 3)
    assert tr.cost_usd == pytest.approx(12e-6 + 3 * 2e-6)
    assert record.cost_usd == pytest.approx(tr.cost_usd) and record.input_tokens == 12
    calls = [c for c, _, _ in recorder.calls]
    assert [(c.run_id, c.node_id, c.pipeline_id) for c in calls] == [(record.id, "tr", "t")]
    assert recorder.runs[record.id].status == "succeeded"


async def test_a_router_skips_the_branch_it_does_not_take(engine, registry, fake):
    openai_model(registry, fake, "t/a", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("long answer")))
    p = pipeline([TEXT_IN, {"id": "r", "kind": "router", "routes": [{"port": "short", "when": "text | length < 10"},
                                                                     {"port": "long"}]},
                  model_node("llm", "t/a"), {"id": "echo", "kind": "transform", "template": "short: {{ text }}"},
                  {"id": "m", "kind": "merge", "merge": "text"}, OUT],
                 [("e1", "in", "r"), ("e2", "r", "echo", "short"), ("e3", "r", "llm", "long"),
                  ("e4", "echo", "m", "text", "a"), ("e5", "llm", "m", "text", "b"), ("e6", "m", "out")])
    short = await engine.run(p, {"text": "hi"})
    assert short.nodes["llm"].status == "skipped" and short.nodes["echo"].status == "succeeded"
    assert short.outputs == {"text": "short: hi"} and fake.requests == []
    long = await engine.run(p, {"text": "a much longer question"})
    assert long.nodes["echo"].status == "skipped" and long.nodes["llm"].status == "succeeded"
    assert long.outputs == {"text": "long answer"}


async def test_on_error_fail_default_and_skip(engine, registry, fake):
    openai_model(registry, fake, "t/bad", "/bad/v1/chat/completions")
    fake.reply("/bad/v1/chat/completions", Reply(status=400, json={"error": {"message": "bad", "type": "invalid_request_error"}}))
    nodes = lambda on_error, default=None: [TEXT_IN, model_node("x", "t/bad", policy={"onError": on_error, "default": default, "retries": 0}),
                                            {"id": "after", "kind": "transform", "template": "got {{ text }}"}, OUT]
    edges = [("e1", "in", "x"), ("e2", "x", "after", "text", "text"), ("e3", "after", "out", "text", "text")]
    failed = await engine.run(pipeline(nodes("fail"), edges), {"text": "q"})
    assert failed.status == "failed" and "bad_request" in failed.nodes["x"].error_class
    assert failed.nodes["after"].status == "skipped"
    assert "rejected the request" in failed.error
    default = await engine.run(pipeline(nodes("default", "fallback text"), edges), {"text": "q"})
    assert default.status == "succeeded" and default.outputs == {"text": "got fallback text"}
    assert "used the node's default" in default.nodes["x"].reason
    skipped = await engine.run(pipeline(nodes("skip"), edges), {"text": "q"})
    assert skipped.nodes["x"].status == "failed" and skipped.nodes["after"].status == "skipped"
    assert skipped.nodes["out"].status == "skipped"


async def test_a_node_stopped_when_another_failed_the_run_is_not_left_running(engine, registry, fake, recorder):
    """A node in flight when a sibling failed the run was stopped, and its record still said
    "running" (and the canvas showed it running) after the run had ended."""
    openai_model(registry, fake, "t/slow", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", slow("late", 3.0))
    nodes = [TEXT_IN, model_node("x", "t/slow"), {"id": "bad", "kind": "transform", "template": "{{ (text | length) / 0 }}"}, OUT]
    edges = [("e1", "in", "x"), ("e2", "in", "bad"), ("e3", "x", "out", "text", "text"), ("e4", "bad", "out", "text", "bad")]
    record = await engine.run(pipeline(nodes, edges), {"text": "q"})
    assert record.status == "failed" and record.nodes["bad"].status == "failed"
    assert record.nodes["x"].status == "skipped" and record.nodes["x"].reason == "stopped: another node failed the run"
    assert {n.status for n in record.nodes.values()} <= {"succeeded", "failed", "skipped"}


async def test_cancelling_a_run_stops_the_calls_in_flight(engine, registry, fake, recorder):
    openai_model(registry, fake, "t/slow", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", slow("late", 5.0))
    p = pipeline([TEXT_IN, model_node("x", "t/slow"), OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])
    seen = []
    task = asyncio.ensure_future(engine.run(p, {"text": "q"}, RunOptions(on_event=seen.append)))
    while not any(e.get("nodeId") == "x" and e.get("status") == "running" for e in seen):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run = next(iter(recorder.runs.values()))
    assert run.status == "cancelled" and run.nodes["x"].status == "failed" and run.nodes["x"].error == "cancelled"
    assert [c.error_class for c, _, _ in recorder.calls] == ["cancelled"]


async def test_the_output_nodes_text_streams_while_the_graph_goes_on(engine, registry, fake):
    openai_model(registry, fake, "t/s", "/v1/chat/completions")
    chunk = lambda t: {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": t}}]}
    fake.reply("/v1/chat/completions", Reply(chunks=sse(chunk("Hel"), chunk("lo"), {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}), delay_s=0.05))
    p = pipeline([TEXT_IN, model_node("x", "t/s"), OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])
    texts, events = [], []
    record = await engine.run(p, {"text": "q"}, RunOptions(on_text=lambda n, t: texts.append((n, t)), on_event=events.append))
    assert fake.last.json["stream"] is True
    assert texts == [("x", "Hel"), ("x", "lo")]
    assert fake.last.json["stream"] is True
    assert [e["text"] for e in events if e["type"] == "text"] == ["Hel", "lo"]
    assert record.outputs == {"text": "Hello"}
    statuses = [(e["nodeId"], e["status"]) for e in events if e["type"] == "node"]
    assert statuses.index(("x", "running")) < statuses.index(("x", "succeeded")) < statuses.index(("out", "succeeded"))


async def test_run_up_to_a_node_and_from_a_node_reusing_upstream(engine, registry, fake):
    openai_model(registry, fake, "t/a", "/a/v1/chat/completions", defaultParams={"temperature": 0.7})
    openai_model(registry, fake, "t/b", "/b/v1/chat/completions", defaultParams={"temperature": 0.7})
    fake.reply("/a/v1/chat/completions", Reply(json=chat_reply("A1")), Reply(json=chat_reply("A2")))
    fake.reply("/b/v1/chat/completions", Reply(json=chat_reply("B")))
    p = pipeline([TEXT_IN, model_node("a", "t/a"), model_node("b", "t/b"), OUT],
                 [("e1", "in", "a"), ("e2", "a", "b", "text", "text"), ("e3", "b", "out", "text", "text")])
    upto = await engine.run(p, {"text": "q"}, RunOptions(to_node="a"))
    assert set(upto.nodes) == {"in", "a"} and upto.nodes["a"].output == {"text": "A1", "finishReason": "stop"}
    from_b = await engine.run(p, {"text": "q"}, RunOptions(from_node="b"))
    assert from_b.nodes["a"].status == "cached" and "last run" in from_b.nodes["a"].reason
    assert fake.requests[-1].json["messages"][0]["content"] == "A1"  # b got a's output of the last run
    assert [r.path for r in fake.requests] == ["/a/v1/chat/completions", "/b/v1/chat/completions"]
    with pytest.raises(UserError, match="has no node 'nope'"):
        await engine.run(p, {"text": "q"}, RunOptions(from_node="nope"))


async def test_from_a_node_in_one_process_reuses_only_what_nothing_changed_since(engine, registry, fake):
    """The stamps of what a node was made from are worked out once per validated graph: an
    edit within the same process (another input, the model's spec saved again, an edge edited
    in place as the canvas does) must still make the upstream node run again."""
    openai_model(registry, fake, "t/a", "/a/v1/chat/completions")
    openai_model(registry, fake, "t/b", "/b/v1/chat/completions")
    fake.reply("/a/v1/chat/completions", *[Reply(json=chat_reply(f"A{i}")) for i in range(1, 6)])
    fake.reply("/b/v1/chat/completions", *[Reply(json=chat_reply("B")) for _ in range(6)])
    p = pipeline([TEXT_IN, model_node("a", "t/a"), model_node("b", "t/b"), OUT],
                 [("e1", "in", "a"), ("e2", "a", "b", "text", "text"), ("e3", "b", "out", "text", "text")])
    await engine.run(p, {"text": "q"})

    def a_ran(record) -> bool:
        return record.nodes["a"].status == "succeeded"

    assert not a_ran(await engine.run(p, {"text": "q"}, RunOptions(from_node="b")))
    assert a_ran(await engine.run(p, {"text": "other"}, RunOptions(from_node="b")))  # another input
    assert not a_ran(await engine.run(p, {"text": "other"}, RunOptions(from_node="b")))
    openai_model(registry, fake, "t/a", "/a/v1/chat/completions", model="m2")  # its model changed
    assert a_ran(await engine.run(p, {"text": "other"}, RunOptions(from_node="b")))
    assert not a_ran(await engine.run(p, {"text": "other"}, RunOptions(from_node="b")))
    p.edges[0] = p.edges[0].model_copy(update={"template": "{{ text }}!"})  # the edge into a, in place
    assert a_ran(await engine.run(p, {"text": "other"}, RunOptions(from_node="b")))


async def test_a_capability_node_picks_by_policy_and_says_why(engine, registry, fake):
    openai_model(registry, fake, "t/cheap", "/cheap/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 1e-7, "outputPerToken": 1e-7}, latencyMs=900)
    openai_model(registry, fake, "t/fast", "/fast/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 5e-6, "outputPerToken": 5e-6}, latencyMs=100)
    fake.reply("/cheap/v1/chat/completions", Reply(json=chat_reply("cheap")))
    fake.reply("/fast/v1/chat/completions", Reply(json=chat_reply("fast")))
    for strategy, winner in (("cheapest", "t/cheap"), ("fastest", "t/fast")):
        p = pipeline([TEXT_IN, {"id": "c", "kind": "capability", "choose": {"capability": "summarize", "strategy": strategy},
                                "prompt": "{{ text }}"}, OUT],
                     [("e1", "in", "c"), ("e2", "c", "out", "text", "text")])
        record = await engine.run(p, {"text": "q"})
        assert record.nodes["c"].model_id == winner
        assert strategy.rstrip("est") in record.nodes["c"].reason and "of 2 model(s)" in record.nodes["c"].reason


async def test_cheapest_picks_the_lower_cost_of_the_call_and_the_record_says_the_figures(engine, registry, fake):
    """$0.1 in / $5 out per Mtok against $4 / $4: the first was ranked dearer by its larger price."""
    openai_model(registry, fake, "t/pa", "/pa/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 1e-7, "outputPerToken": 5e-6}, latencyMs=100)
    openai_model(registry, fake, "t/pb", "/pb/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 4e-6, "outputPerToken": 4e-6}, latencyMs=2000)
    fake.reply("/pa/v1/chat/completions", Reply(json=chat_reply("a")))
    fake.reply("/pb/v1/chat/completions", Reply(json=chat_reply("b")))
    p = pipeline([TEXT_IN, {"id": "c", "kind": "capability", "choose": {"capability": "summarize", "strategy": "cheapest"},
                            "prompt": "{{ text }}"}, OUT],
                 [("e1", "in", "c"), ("e2", "c", "out", "text", "text")])
    record = await engine.run(p, {"text": "word " * 400})  # ~500 tokens in, 500 out (no max_tokens)
    node = record.nodes["c"]
    assert node.model_id == "t/pa", node.reason
    assert "~502 in / 500 out tokens, as estimated for this call" in node.reason, node.reason
    assert "t/pa quality not measured, ~$0.00255 a call ($0.1 / $5 per Mtok)" in node.reason
    assert "next: t/pb quality not measured, ~$0.00401 a call ($4 / $4 per Mtok)" in node.reason


async def test_a_missing_key_fails_before_any_call(engine, registry, fake):
    openai_model(registry, fake, "t/nokey", "/v1/chat/completions", keyRef="OTHER_KEY")
    openai_model(registry, fake, "t/nokey2", "/v1/chat/completions", keyRef="THIRD_KEY")
    p = pipeline([TEXT_IN, model_node("x", "t/nokey"), model_node("y", "t/nokey2"), model_node("z", "t/nokey"),
                  {"id": "m", "kind": "merge"}, OUT],
                 [("e1", "in", "x"), ("e2", "in", "y"), ("e3", "in", "z"), ("e4", "x", "m", "text", "a"),
                  ("e5", "y", "m", "text", "b"), ("e6", "z", "m", "text", "c"), ("e7", "m", "out")])
    with pytest.raises(UserError, match="needs 2 keys that are not set: OTHER_KEY .nodes 'x', 'z'.; "
                                        "THIRD_KEY .node 'y'.; set them in Settings, with 'iom keys set OTHER_KEY' and so on, "
                                        "or as environment variables of those names. Nothing was called.") as err:
        await engine.run(p, {"text": "q"})
    assert err.value.nodes == {"x": "OTHER_KEY", "z": "OTHER_KEY", "y": "THIRD_KEY"}  # what the canvas marks
    p = pipeline([TEXT_IN, model_node("x", "t/nokey"), OUT], [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])
    with pytest.raises(UserError, match="needs 1 key that is not set: OTHER_KEY .node 'x'.; set it in Settings, with "
                                        "'iom keys set OTHER_KEY', or as the environment variable OTHER_KEY. Nothing"):
        await engine.run(p, {"text": "q"})
    with pytest.raises(UserError, match="does not fit node 'in'.*'text' is a required property"):
        await engine.run(p, {})
    assert fake.requests == []


class KeyringLikeKeys:
    """A key store shaped like the studio's: `recent()` answers from memory (never, here), and
    `get()` stands for the OS keyring, which answers over D-Bus and must not run on the loop."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.threads: list[str] = []

    def recent(self, name: str) -> str | None:
        return None

    def get(self, name: str) -> str | None:
        self.threads.append(threading.current_thread().name)
        return self.values.get(name)


async def test_keys_are_never_read_from_the_keyring_on_the_event_loop(registry, recorder, iom_home, fake):
    keys = KeyringLikeKeys({"TEST_KEY": "sk-test-engine-0000000000"})
    hub = ProviderHub(keys=keys, recorder=recorder)
    engine = Engine(models=registry, caller=hub, recorder=recorder, keys=keys, home=iom_home)
    openai_model(registry, fake, "t/a", "/a/v1/chat/completions", capabilities=["summarize"])
    openai_model(registry, fake, "t/nokey", "/b/v1/chat/completions", keyRef="OTHER_KEY", capabilities=["summarize"])
    fake.reply("/a/v1/chat/completions", Reply(json=chat_reply("A")))
    p = pipeline([TEXT_IN, model_node("a", "t/a"), {"id": "c", "kind": "capability", "prompt": "{{ text }}",
                                                     "choose": {"capability": "summarize", "strategy": "cheapest"}}, OUT],
                 [("e1", "in", "a"), ("e2", "a", "c", "text", "text"), ("e3", "c", "out", "text", "text")])
    try:
        record = await engine.run(p, {"text": "q"})
        plan = await engine.run(p, {"text": "q"}, RunOptions(dry_run=True))
    finally:
        await hub.aclose()
    assert record.status == "succeeded", record.error
    assert record.nodes["c"].model_id == "t/a"  # the model without its key is not chosen
    assert plan["requests"][1]["modelId"] == "t/a"
    assert keys.threads and threading.main_thread().name not in keys.threads, keys.threads


async def test_a_long_chain_of_instant_nodes_lets_the_event_loop_in(engine):
    """One task runs a chain node after node; nodes that never wait must still give the loop
    (the pages, other runs) a turn now and then, not hold it for the whole chain."""
    n = 64
    nodes = [TEXT_IN] + [{"id": f"t{i}", "kind": "transform", "template": "{{ text }}."} for i in range(n)] + [OUT]
    edges = [("e0", "in", "t0")] + [(f"e{i}", f"t{i - 1}", f"t{i}", "text", "text") for i in range(1, n)]
    edges.append(("last", f"t{n - 1}", "out", "text", "text"))
    turns = 0

    async def beside():
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    seen: dict[str, int] = {}  # node -> the other task's turns when the node started

    def on_event(event):
        if event.get("type") == "node" and event.get("status") == "running":
            seen[event["nodeId"]] = turns

    other = asyncio.create_task(beside())
    record = await engine.run(pipeline(nodes, edges), {"text": "go"}, RunOptions(keep_outputs=False, on_event=on_event))
    other.cancel()
    assert record.status == "succeeded" and record.outputs == {"text": "go" + "." * n}
    during = seen[f"t{n - 1}"] - seen["t0"]
    assert during >= n // 16 - 1, during


async def test_a_bug_in_a_node_fails_the_run_on_record_and_leaves_no_unread_task_error(registry, recorder, iom_home, fake):
    """An error that is not a model's failure (a bug in a caller) in every branch of a fan-out:
    the run stayed 'running' in the audit trail, and each other branch's error was logged by
    asyncio as 'Task exception was never retrieved', traceback and all."""
    import gc

    class Broken:
        async def call(self, spec, request, *, on_text=None, context=None):
            raise RuntimeError("the caller broke")

    openai_model(registry, fake, "t/a", "/a/v1/chat/completions")
    eng = Engine(models=registry, caller=Broken(), recorder=recorder, keys=DictKeys({"TEST_KEY": "k"}), home=iom_home)
    branches = [model_node(f"b{i}", "t/a") for i in range(5)]
    p = pipeline([TEXT_IN, *branches, {"id": "m", "kind": "merge"}, OUT],
                 [*((f"i{i}", "in", f"b{i}") for i in range(5)),
                  *((f"o{i}", f"b{i}", "m", "text", f"r{i}") for i in range(5)), ("e", "m", "out")])
    unread: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    try:
        with pytest.raises(RuntimeError, match="the caller broke"):
            await eng.run(p, {"text": "hi"})
        gc.collect()  # an unread task error is reported when its task is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert unread == []
    (run,) = recorder.runs.values()
    assert run.status == "failed" and "RuntimeError: the caller broke" in run.error
    assert {n.status for n in run.nodes.values()} <= {"succeeded", "failed", "skipped"}


async def test_cheapest_estimates_the_call_from_its_prompt_inputs_and_max_tokens(engine, registry, fake):
    """A long text in and ten tokens out: the model with cheap input costs a tenth of the other,
    though at the default 500 / 500 estimate it would be the dearer one."""
    openai_model(registry, fake, "t/even", "/even/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 1e-6, "outputPerToken": 1e-6})
    openai_model(registry, fake, "t/cheap-in", "/cheapin/v1/chat/completions", capabilities=["summarize"],
                 prices={"inputPerToken": 1e-7, "outputPerToken": 3e-6})
    fake.reply("/even/v1/chat/completions", Reply(json=chat_reply("even")))
    fake.reply("/cheapin/v1/chat/completions", Reply(json=chat_reply("cheap in")))
    p = pipeline([TEXT_IN, {"id": "c", "kind": "capability", "choose": {"capability": "summarize", "strategy": "cheapest"},
                            "prompt": "{{ text }}", "params": {"max_tokens": 10}}, OUT],
                 [("e1", "in", "c"), ("e2", "c", "out", "text", "text")])
    record = await engine.run(p, {"text": "word " * 4000})
    node = record.nodes["c"]
    assert node.model_id == "t/cheap-in" and "as estimated for this call" in node.reason, node.reason
    short = await engine.run(p, {"text": "q"}, RunOptions(use_cache=False))
    assert short.nodes["c"].model_id == "t/even"  # a word in, ten out: the dearer output makes the other cheaper


async def test_a_model_registered_without_an_output_schema_passes_its_text_on(engine, registry, fake):
    """Its node's `text` port (what the canvas now offers) is an edge the engine runs; before,
    validation refused it as a port the node does not have."""
    registry.save(ModelSpec.model_validate({"id": "t/bare", "name": "bare", "provider": "openai", "api": "openai-chat",
                                            "endpoint": fake.url("/v1/chat/completions"), "model": "m", "keyRef": "TEST_KEY"}))
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("Bonjour")))
    p = pipeline([TEXT_IN, model_node("m", "t/bare"), OUT], [("e1", "in", "m"), ("e2", "m", "out", "text", "answer")])
    record = await engine.run(p, {"text": "Hello"})
    assert record.status == "succeeded", record.error
    assert record.outputs == {"answer": "Bonjour"}
