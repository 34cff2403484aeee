"""Resilience through the real hub against loopback servers: retries honouring retry-after,
fallback on 503 but never on 400, context-length fallback to a larger window, streams that
fail before or after their first token, the circuit breaker, and rate limits that queue."""

from __future__ import annotations

import asyncio
import json
import time


from studio.engine import RunOptions
from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
from tests.fakes.provider_server import GATE, Reply, sse

ERR_503 = Reply(status=503, json={"error": {"message": "overloaded", "type": "server_error"}})
ERR_400 = Reply(status=400, json={"error": {"message": "bad field", "type": "invalid_request_error"}})


def one_model(model: str, fallback=(), retries: int = 0, **policy):
    return pipeline([TEXT_IN, {"id": "x", "kind": "model", "model": model, "prompt": "{{ text }}",
                               "policy": {"retries": retries, "fallback": list(fallback), **policy}}, OUT],
                    [("e1", "in", "x"), ("e2", "x", "out", "text", "text")])


async def test_fallback_on_503_and_the_reason_is_recorded(engine, registry, fake, recorder):
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", ERR_503)
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("from backup")))
    events = []
    record = await engine.run(one_model("t/main", ["t/backup"]), {"text": "q"}, RunOptions(on_event=events.append))
    x = record.nodes["x"]
    assert record.status == "succeeded" and record.outputs == {"text": "from backup"}
    assert x.model_id == "t/backup" and x.attempts == 2
    assert x.reason.startswith("fell back from t/main after overloaded (HTTP 503)")
    calls = [c for c, _, _ in recorder.calls]
    assert [(c.model_id, c.status, c.fell_back_from) for c in calls] == [("t/main", "error", None), ("t/backup", "ok", "t/main")]
    assert any(e.get("fellBackFrom") == "t/main" and e.get("status") == "succeeded" for e in events)


async def test_no_fallback_on_a_bad_request(engine, registry, fake):
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", ERR_400)
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("never")))
    record = await engine.run(one_model("t/main", ["t/backup"], retries=3), {"text": "q"})
    assert record.status == "failed" and record.nodes["x"].error_class == "bad_request"
    assert [r.path for r in fake.requests] == ["/main/v1/chat/completions"]  # neither retried nor fallen back
    assert "its fallbacks were not tried: they would get the same request" in record.nodes["x"].error


async def test_an_account_out_of_credit_is_not_retried_but_falls_back(engine, registry, fake):
    """OpenAI answers an exhausted quota with a 429 that no retry mends: it was retried (and
    waited for) as a rate limit; another provider's model may still have credit."""
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", Reply(status=429, json={"error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "code": "insufficient_quota"}}))
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("from backup")))
    record = await engine.run(one_model("t/main", ["t/backup"], retries=3), {"text": "q"})
    assert record.status == "succeeded" and record.nodes["x"].model_id == "t/backup"
    assert record.nodes["x"].reason.startswith("fell back from t/main after quota_exhausted")
    assert [r.path for r in fake.requests] == ["/main/v1/chat/completions", "/backup/v1/chat/completions"]


async def test_a_slow_model_leaves_time_for_its_fallback(engine, registry, fake):
    """Three attempts of a model that never answers took the node's whole deadline (3 × the
    timeout), and its fallback was never tried."""
    openai_model(registry, fake, "t/slow", "/slow/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    late = Reply(chunks=[json.dumps(chat_reply("late"))], delay_s=3.0, content_type="application/json")
    fake.reply("/slow/v1/chat/completions", late)
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("from backup")))
    record = await engine.run(one_model("t/slow", ["t/backup"], retries=2, timeout_s=0.4), {"text": "q"})
    x = record.nodes["x"]
    assert record.status == "succeeded" and x.model_id == "t/backup", x
    assert x.reason.startswith("fell back from t/slow after timeout")
    assert [r.path for r in fake.requests].count("/backup/v1/chat/completions") == 1


async def test_a_fallback_names_the_error_of_the_model_it_left_and_a_failure_counts_attempts(engine, registry, fake):
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", ERR_503)
    fake.reply("/backup/v1/chat/completions", Reply(status=429, json={"error": {"message": "slow down"}}),
               Reply(json=chat_reply("from backup")))
    record = await engine.run(one_model("t/main", ["t/backup"], retries=1), {"text": "q"})
    assert record.nodes["x"].reason.startswith("fell back from t/main after overloaded (HTTP 503)"), record.nodes["x"]
    openai_model(registry, fake, "t/first", "/first/v1/chat/completions")  # breakers of their own
    openai_model(registry, fake, "t/second", "/second/v1/chat/completions")
    fake.reply("/first/v1/chat/completions", ERR_503)
    fake.reply("/second/v1/chat/completions", ERR_503)
    record = await engine.run(one_model("t/first", ["t/second"], retries=1), {"text": "r"})
    assert record.status == "failed" and record.nodes["x"].attempts == 4  # was 0


async def test_a_retry_waits_for_the_retry_after(engine, registry, fake):
    openai_model(registry, fake, "t/main", "/v1/chat/completions")
    stamps = []

    def limited(rec):
        stamps.append(time.monotonic())
        return Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}}, headers={"retry-after": "1"})

    fake.reply("/v1/chat/completions", limited, lambda rec: (stamps.append(time.monotonic()), Reply(json=chat_reply("ok")))[1])
    record = await engine.run(one_model("t/main", retries=2), {"text": "q"})
    assert record.status == "succeeded" and record.nodes["x"].attempts == 2
    waited = stamps[1] - stamps[0]
    assert waited >= 0.95, f"the retry came {waited:.2f}s after a 429 that asked for 1s"


async def test_context_length_falls_back_to_a_larger_window_only(engine, registry, fake):
    openai_model(registry, fake, "t/small", "/small/v1/chat/completions", contextWindow=4000)
    openai_model(registry, fake, "t/tiny", "/tiny/v1/chat/completions", contextWindow=2000)
    openai_model(registry, fake, "t/big", "/big/v1/chat/completions", contextWindow=128000)
    fake.reply("/small/v1/chat/completions", Reply(status=400, json={"error": {
        "message": "This model's maximum context length is 4000 tokens.", "code": "context_length_exceeded"}}))
    fake.reply("/big/v1/chat/completions", Reply(json=chat_reply("fits")))
    record = await engine.run(one_model("t/small", ["t/tiny", "t/big"]), {"text": "long"})
    assert record.nodes["x"].model_id == "t/big"
    assert "/tiny/v1/chat/completions" not in [r.path for r in fake.requests]


def _chunk(text):
    return {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


async def test_a_stream_failing_before_its_first_token_falls_back(engine, registry, fake):
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", Reply(chunks=[": keep-alive\n\n"], cut=True))
    fake.reply("/backup/v1/chat/completions", Reply(chunks=sse(_chunk("saved"))))
    texts = []
    record = await engine.run(one_model("t/main", ["t/backup"]), {"text": "q"},
                              RunOptions(on_text=lambda n, t: texts.append(t)))
    assert record.status == "succeeded" and record.nodes["x"].model_id == "t/backup" and texts == ["saved"]


async def test_a_stream_failing_after_its_first_token_reports_with_the_partial_text(engine, registry, fake):
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", Reply(chunks=sse(_chunk("Half an "), done=False)[:1], cut=True))
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("never")))
    texts = []
    record = await engine.run(one_model("t/main", ["t/backup"], retries=2), {"text": "q"},
                              RunOptions(on_text=lambda n, t: texts.append(t)))
    assert record.status == "failed" and texts == ["Half an "]
    assert record.nodes["x"].output == {"text": "Half an "}
    assert [r.path for r in fake.requests] == ["/main/v1/chat/completions"]


async def test_the_circuit_breaker_opens_then_closes_after_the_cool_down(engine, registry, fake):
    # engine fixture: opens after 2 failures in a row, cool-down 0.3 s
    openai_model(registry, fake, "t/flaky", "/flaky/v1/chat/completions")
    openai_model(registry, fake, "t/backup", "/backup/v1/chat/completions")
    fake.reply("/flaky/v1/chat/completions", ERR_503, ERR_503, Reply(json=chat_reply("back again")))
    fake.reply("/backup/v1/chat/completions", Reply(json=chat_reply("backup")))
    p = one_model("t/flaky", ["t/backup"])
    for _ in range(2):
        assert (await engine.run(p, {"text": "q"}, RunOptions(use_cache=False))).nodes["x"].model_id == "t/backup"
    assert engine.breaker("t/flaky").state == "open"
    flaky_calls = sum(r.path.startswith("/flaky") for r in fake.requests)
    record = await engine.run(p, {"text": "q"}, RunOptions(use_cache=False))
    assert record.nodes["x"].model_id == "t/backup" and "circuit open" in record.nodes["x"].reason
    assert sum(r.path.startswith("/flaky") for r in fake.requests) == flaky_calls  # not even tried
    await asyncio.sleep(0.35)
    assert engine.breaker("t/flaky").state == "half-open"
    record = await engine.run(p, {"text": "q"}, RunOptions(use_cache=False))
    assert record.nodes["x"].model_id == "t/flaky" and engine.breaker("t/flaky").state == "closed"


async def _opened(engine, registry, fake, *replies) -> None:
    """t/flaky failed twice with a 503 (the fixture's breaker opens at 2), the cool-down past:
    the breaker half-open, the fake answering `replies` next."""
    openai_model(registry, fake, "t/flaky", "/flaky/v1/chat/completions")
    fake.reply("/flaky/v1/chat/completions", ERR_503, ERR_503, *replies)
    for _ in range(2):
        assert (await engine.run(one_model("t/flaky"), {"text": "q"}, RunOptions(use_cache=False))).status == "failed"
    await asyncio.sleep(0.35)
    assert engine.breaker("t/flaky").state == "half-open"


async def test_a_probe_refused_for_its_request_lets_the_next_call_probe(engine, registry, fake):
    """A 400 says nothing of whether the model is up; the breaker waited for the probe's outcome
    and refused every later call until the process ended."""
    await _opened(engine, registry, fake, ERR_400, Reply(json=chat_reply("back again")))
    refused = await engine.run(one_model("t/flaky"), {"text": "q"}, RunOptions(use_cache=False))
    assert refused.nodes["x"].error_class == "bad_request"
    record = await engine.run(one_model("t/flaky"), {"text": "q"}, RunOptions(use_cache=False))
    assert record.status == "succeeded", record.nodes["x"].error
    assert engine.breaker("t/flaky").state == "closed"


async def test_a_cancelled_probe_lets_the_next_call_probe(engine, registry, fake):
    held = json.dumps(chat_reply("never read"))  # half sent, then held until the test ends
    await _opened(engine, registry, fake, Reply(chunks=[held[:20], GATE, held[20:]], content_type="application/json"),
                  Reply(json=chat_reply("back again")))
    probe = asyncio.create_task(engine.run(one_model("t/flaky"), {"text": "q"}, RunOptions(use_cache=False)))
    while len(fake.requests) < 3:
        await asyncio.sleep(0.01)
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    record = await engine.run(one_model("t/flaky"), {"text": "q"}, RunOptions(use_cache=False))
    assert record.status == "succeeded", record.nodes["x"].error


async def test_a_rate_limit_queues_calls_instead_of_failing_them(engine, registry, fake):
    # engine fixture: the rate window is 0.5 s instead of a minute
    openai_model(registry, fake, "t/limited", "/v1/chat/completions", rateLimit={"requestsPerMinute": 2})
    stamps = []
    fake.reply("/v1/chat/completions", lambda rec: (stamps.append(time.monotonic()), Reply(json=chat_reply("ok")))[1])
    nodes = [TEXT_IN] + [{"id": f"n{i}", "kind": "model", "model": "t/limited", "prompt": f"{i} {{{{ text }}}}"} for i in range(4)]
    edges = [(f"a{i}", "in", f"n{i}") for i in range(4)] + [(f"b{i}", f"n{i}", "out", "text", f"r{i}") for i in range(4)]
    record = await engine.run(pipeline(nodes + [OUT], edges), {"text": "q"})
    assert record.status == "succeeded" and len(stamps) == 4
    stamps.sort()
    # The 3rd and 4th waited for the 0.5 s window (unqueued, all four arrive within a few ms). Stamps are
    # taken where the fake receives, so a slow first connection can eat into the gap: half a window is the bar.
    assert stamps[2] - stamps[0] >= 0.25 and stamps[3] - stamps[1] >= 0.25


async def test_engines_on_one_data_dir_share_a_models_rate_limit(engine, registry, fake, recorder, iom_home):
    """The web app, `iom batch run` and the gateway each have an engine, and a provider's limit
    is the account's: they book their calls in one file. Two engines here share no memory."""
    from studio.engine import Engine
    from studio.providers.hub import ProviderHub
    from tests.providers.conftest import DictKeys

    openai_model(registry, fake, "t/limited", "/v1/chat/completions", rateLimit={"requestsPerMinute": 2})
    stamps = []
    fake.reply("/v1/chat/completions", lambda rec: (stamps.append(time.monotonic()), Reply(json=chat_reply("ok")))[1])
    from studio.engine.shared_rate import SharedRateLimiter

    kept = SharedRateLimiter(iom_home / "rate-bookings", "t/limited", 2, None, window_s=0.5).path
    kept.parent.mkdir()
    kept.write_bytes(b"\x00" * 13)  # cut short by a crash: started again
    hub = ProviderHub(keys=DictKeys({"TEST_KEY": "sk-test-engine-0000000000"}), recorder=recorder)
    other = Engine(models=registry, caller=hub, recorder=recorder, keys=hub.keys, home=iom_home, rate_window_s=0.5)
    try:
        runs = await asyncio.gather(*(e.run(one_model("t/limited"), {"text": f"q{i}"}, RunOptions(use_cache=False))
                                      for i, e in enumerate([engine, other, engine, other])))
    finally:
        await hub.aclose()
    assert [r.status for r in runs] == ["succeeded"] * 4 and len(stamps) == 4
    stamps.sort()  # two a window of 0.5 s between them, not two each (half a window is the bar, as above)
    assert stamps[2] - stamps[0] >= 0.25 and stamps[3] - stamps[1] >= 0.25, [round(t - stamps[0], 3) for t in stamps]
    assert kept.stat().st_size == 8 * (2 + 4)  # the last booking, their count, the four bookings


def test_a_bookings_file_that_does_not_read_is_started_again(tmp_path):
    """Cut short by a crash, or edited: never a wait for ever (an infinite last booking would be)."""
    import math
    import struct

    from studio.engine.shared_rate import SharedRateLimiter

    limiter = SharedRateLimiter(tmp_path, "t/limited", 1, None, window_s=60.0)
    tmp_path.mkdir(exist_ok=True)
    for blob in (b"\x01" * 13, struct.pack("2d", math.inf, 0), struct.pack("3d", 0, 1, math.nan),
                 struct.pack("2d", 0, 5)):  # five bookings said, none there
        limiter.path.write_bytes(blob)
        assert limiter.reserve() == 0.0, blob
    assert 59 < limiter.reserve() <= 60  # the booking just made is read back: the next waits the window


def test_a_rate_limiter_books_slots_in_order_for_requests_and_tokens(monkeypatch):
    """`reserve` is what the Ray executor's gate serves to other processes: the seconds until
    the call's slot, first come, first served."""
    from studio.engine import resilience

    now = [100.0]
    monkeypatch.setattr(resilience.time, "monotonic", lambda: now[0])
    per_minute = resilience.RateLimiter(rpm=2, window_s=1.0)
    assert [per_minute.reserve() for _ in range(5)] == [0.0, 0.0, 1.0, 1.0, 2.0]
    now[0] = 101.5  # the 5th is booked at 102: the 6th waits behind it, the 7th for the window
    assert [per_minute.reserve() for _ in range(2)] == [0.5, 1.5]
    tokens = resilience.RateLimiter(tpm=100, window_s=1.0)
    # 60 fit now; 60 more wait for the first to leave the window; 10 would fit then too, but queue behind
    assert [tokens.reserve(60), tokens.reserve(60), tokens.reserve(10)] == [0.0, 1.0, 1.0]
    assert tokens.reserve(50) == 2.0  # 60 + 10 + 50 > 100 until the second 60 leaves


async def test_a_call_that_outlives_its_timeout_is_stopped_by_the_engine(engine, registry, fake, recorder):
    """A stream that trickles a token every 0.2 s never trips the adapter's read timeout; the
    engine's safety net stops it a second (and a tick) after the node's timeout."""
    openai_model(registry, fake, "t/slow", "/v1/chat/completions")
    deltas = [{"choices": [{"index": 0, "delta": {"content": "x"}}]}] * 40
    fake.reply("/v1/chat/completions", Reply(chunks=sse(*deltas), delay_s=0.2))
    started = time.monotonic()
    record = await engine.run(one_model("t/slow", timeout_s=0.5, retries=2), {"text": "q"}, RunOptions(stream=True))
    took = time.monotonic() - started
    x = record.nodes["x"]
    assert record.status == "failed" and x.error_class == "timeout", x
    assert 1.5 <= took < 2.6, took
    # text had gone out: not tried again (it would be sent twice), said as it was, and kept
    assert len(fake.requests) == 1 and x.attempts == 1
    assert "stopped after 0.5s" in x.error and "characters into its answer" in x.error
    assert x.output["text"] and set(x.output["text"]) == {"x"}
    calls = [c for c, _, _ in recorder.calls]
    assert [c.error_class for c in calls] == ["timeout"]  # was "cancelled"


async def test_cancelling_a_run_is_not_reported_as_a_timeout(engine, registry, fake):
    openai_model(registry, fake, "t/slow", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(chunks=sse(*[{"choices": [{"index": 0, "delta": {"content": "x"}}]}] * 40),
                                             delay_s=0.2))
    run = asyncio.ensure_future(engine.run(one_model("t/slow", timeout_s=0.5), {"text": "q"}, RunOptions(stream=True)))
    await asyncio.sleep(0.3)
    run.cancel()
    try:
        await run
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the run went on after it was cancelled")
    assert not engine.deadlines._due  # nothing left watched


async def test_the_node_after_a_timed_out_one_runs_untouched_by_that_timeout(engine, registry, fake):
    """A chain runs in one task: the safety net's cancel of the first node's call is taken back,
    so the next node in the same task is neither cancelled nor reported as timed out."""
    openai_model(registry, fake, "t/slow", "/slow/v1/chat/completions")
    openai_model(registry, fake, "t/quick", "/quick/v1/chat/completions")
    fake.reply("/slow/v1/chat/completions", Reply(chunks=sse(*[{"choices": [{"index": 0, "delta": {"content": "x"}}]}] * 40),
                                                  delay_s=0.2))
    fake.reply("/quick/v1/chat/completions", Reply(json=chat_reply("after")))
    slow = {"id": "a", "kind": "model", "model": "t/slow", "prompt": "{{ text }}",
            "policy": {"retries": 0, "timeout_s": 0.5, "on_error": "default", "default": "fallback text"}}
    quick = {"id": "b", "kind": "model", "model": "t/quick", "prompt": "then {{ text }}", "policy": {"retries": 0}}
    p = pipeline([TEXT_IN, slow, quick, OUT], [("e1", "in", "a"), ("e2", "a", "b", "text", "text"),
                                               ("e3", "b", "out", "text", "text")])
    cancelling = {}  # node -> cancel requests pending on the task running it, as it starts

    def on_event(event):
        if event.get("type") == "node" and event.get("status") == "running":
            cancelling[event["nodeId"]] = (asyncio.current_task(), asyncio.current_task().cancelling())

    record = await engine.run(p, {"text": "q"}, RunOptions(use_cache=False, on_event=on_event))
    assert record.nodes["a"].error_class == "timeout" and record.nodes["a"].output == {"text": "fallback text"}
    assert record.status == "succeeded" and record.nodes["b"].status == "succeeded", record.nodes["b"].error
    assert record.outputs == {"text": "after"}
    assert cancelling["b"][0] is cancelling["a"][0] and cancelling["b"][1] == 0  # same task, cancel taken back


async def test_a_failed_node_names_its_model_and_costs_what_is_known(engine, registry, fake):
    """A call that reached the provider and failed has no known cost: the run counts it as an
    unpriced call (as the call's own record does), never as $0; a node refused before anything
    was sent (here the circuit, open after two failures) cost nothing."""
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    sent = await engine.run(one_model("t/main"), {"text": "q"})
    assert sent.status == "failed" and (sent.nodes["x"].model_id, sent.nodes["x"].cost_usd) == ("t/main", None)
    assert (sent.unpriced_calls, sent.cost_usd) == (1, None)
    kept = await engine.run(one_model("t/main", on_error="default", default="n/a"), {"text": "q"})
    assert kept.status == "succeeded" and kept.outputs == {"text": "n/a"}
    assert (kept.unpriced_calls, kept.cost_usd) == (1, None)  # the answer is the default; the failed call's cost unknown
    refused = await engine.run(one_model("t/main"), {"text": "q"})
    assert len(fake.requests) == 2 and "circuit breaker open" in refused.nodes["x"].error
    assert (refused.nodes["x"].model_id, refused.nodes["x"].cost_usd) == ("t/main", 0.0)
    assert (refused.unpriced_calls, refused.cost_usd) == (0, 0.0)


async def test_an_attempt_that_was_sent_and_failed_is_an_unpriced_call_of_its_run(engine, registry, fake, recorder):
    """As the run's call records say: a node that answered from its fallback after a 500 has
    one priced call and one whose cost is not known."""
    openai_model(registry, fake, "t/first", "/first/v1/chat/completions")
    openai_model(registry, fake, "t/second", "/second/v1/chat/completions")
    fake.reply("/first/v1/chat/completions", Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    fake.reply("/second/v1/chat/completions", Reply(json=chat_reply("from second")))
    record = await engine.run(one_model("t/first", ["t/second"]), {"text": "q"})
    assert record.status == "succeeded" and record.nodes["x"].model_id == "t/second"
    calls = [c for c, _, _ in recorder.calls if c.run_id == record.id]
    assert [(c.model_id, c.cost_usd is None) for c in calls] == [("t/first", True), ("t/second", False)]
    assert record.unpriced_calls == 1 and record.cost_usd == round(calls[1].cost_usd, 10) > 0


async def test_a_node_whose_breaker_opened_between_its_retries_keeps_the_providers_error(engine, registry, fake):
    """The breaker opened between a node's retries: its error is the provider's ("HTTP 500 —
    boom"), the breaker said after it; a node the breaker refused outright says so, and neither
    reads "the provider is overloaded" (it was the studio's breaker, not the provider's word)."""
    openai_model(registry, fake, "t/main", "/main/v1/chat/completions")
    fake.reply("/main/v1/chat/completions", Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    engine.breaker_cooldown_s = 60.0  # no probe let through while the retry waits (its backoff is up to 1 s)
    opened = await engine.run(one_model("t/main", retries=2), {"text": "q"})
    error = opened.nodes["x"].error
    assert len(fake.requests) == 2 and opened.status == "failed"  # the third attempt refused (threshold 2)
    assert "(HTTP 500) — boom; then the circuit breaker opened" in error and "overloaded" not in error, error
    refused = await engine.run(one_model("t/main"), {"text": "q"})
    error = refused.nodes["x"].error
    assert len(fake.requests) == 2 and "circuit breaker open" in error and "overloaded" not in error, error
    assert refused.nodes["x"].error_class == "circuit_open"


async def test_a_call_stopped_when_a_sibling_failed_the_run_is_an_unpriced_call_of_it(engine, registry, fake, recorder):
    """A node still waiting on its provider when another node failed the run is stopped: its call
    was sent, and its record says cancelled, of unknown cost; the run counted only the failed
    node's call (1 unpriced call where the records held 2), and the stopped node named no model."""
    openai_model(registry, fake, "t/fails", "/fails/v1/chat/completions")
    openai_model(registry, fake, "t/slow", "/slow/v1/chat/completions")
    fake.reply("/fails/v1/chat/completions", Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}},
                                                   delay_s=0.0))
    fake.reply("/slow/v1/chat/completions", Reply(chunks=[GATE, *sse({"choices": [{"index": 0, "delta": {"content": "x"}}]})]))
    nodes = [TEXT_IN, *({"id": n, "kind": "model", "model": m, "prompt": "{{ text }}", "policy": {"retries": 0}}
                        for n, m in (("a", "t/fails"), ("b", "t/slow"))), OUT]
    p = pipeline(nodes, [("e1", "in", "a"), ("e2", "in", "b"), ("e3", "a", "out", "text", "a"),
                         ("e4", "b", "out", "text", "b")])
    try:
        record = await engine.run(p, {"text": "q"}, RunOptions(use_cache=False, stream=True))
    finally:
        fake.gate.set()
    calls = [c for c, _, _ in recorder.calls if c.run_id == record.id]
    assert sorted((c.model_id, c.error_class, c.cost_usd) for c in calls) == [("t/fails", "server", None),
                                                                               ("t/slow", "cancelled", None)], calls
    assert record.status == "failed" and (record.unpriced_calls, record.cost_usd) == (2, None)
    assert record.nodes["b"].status == "skipped" and record.nodes["b"].model_id == "t/slow"


async def test_a_rate_limited_nodes_retry_after_is_a_field_the_gateway_reads_not_its_sentence(engine, registry, fake,
                                                                                            monkeypatch):
    """The gateway read a failed node's retry-after back from its error sentence: rewording the
    sentence's "; retry after 150s" lost the client's retry-after header. The node's record
    keeps the figure (NodeRun.retry_after_s) and the gateway reads that."""
    from studio.gateway.errors import _headers, run_failure
    from studio.providers import errors

    monkeypatch.setattr(errors, "_wait_text", lambda seconds: "a while")  # the sentence says no figure
    openai_model(registry, fake, "t/main", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}},
                                             headers={"retry-after": "150"}))
    record = await engine.run(one_model("t/main"), {"text": "q"})
    node = record.nodes["x"]
    assert record.status == "failed" and node.error_class == "rate_limited" and "150" not in node.error, node.error
    assert node.retry_after_s == 150.0
    answer = run_failure(record)
    assert answer.status == 429 and answer.retry_after_s == 150.0 and _headers(answer)["retry-after"] == "150"
    assert record.model_dump(mode="json", by_alias=True)["nodes"]["x"]["retryAfterS"] == 150.0
