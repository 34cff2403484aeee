"""Anthropic Messages against a loopback server speaking it."""

from __future__ import annotations

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import GATE, Reply, sse_events
from tests.providers.conftest import SECRET, make_spec, req

PATH = "/v1/messages"


def message(text="Bonjour", usage=None):
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": "m-1",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": usage or {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 5,
                               "cache_creation_input_tokens": 0}}


def stream(*texts, stop=True, error=None):
    events = [("message_start", {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 11, "output_tokens": 1}}}),
              ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
              ("ping", {"type": "ping"})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})
               for t in texts]
    if error:
        events.append(("error", {"type": "error", "error": error}))
    if stop:
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 3}}),
                   ("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 6}}),
                   ("message_stop", {"type": "message_stop"})]
    return sse_events(*events)


def spec(fake, **extra):
    return make_spec("anthropic-messages", fake.url(PATH), **extra)


async def test_plain_call_request_and_reply(fake, hub):
    fake.reply(PATH, Reply(json=message()))
    result = await hub.call(spec(fake), req({"messages": [{"role": "system", "content": "Be French."},
                                                           {"role": "user", "content": "Hello"}]},
                                            temperature=0.5, stop="END", seed=1))
    sent = fake.last
    assert sent.path == PATH and sent.headers["x-api-key"] == SECRET
    assert sent.headers["anthropic-version"] == "2023-06-01" and "authorization" not in sent.headers
    assert sent.json["system"] == "Be French."
    assert sent.json["messages"] == [{"role": "user", "content": "Hello"}]
    assert sent.json["max_tokens"] == 4096  # always sent: the most every Claude model accepts
    assert sent.json["stop_sequences"] == ["END"] and sent.json["temperature"] == 0.5 and "seed" not in sent.json
    assert result.output == {"text": "Bonjour", "finishReason": "end_turn"}
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cached_tokens) == (15, 2, 5)
    assert result.request_id == "msg_01"


async def test_max_tokens_param_is_passed(fake, hub):
    fake.reply(PATH, Reply(json=message()))
    await hub.call(spec(fake), req({"prompt": "Hi"}, max_tokens=20))
    assert fake.last.json["max_tokens"] == 20


async def test_stream_named_events_and_cumulative_usage(fake, hub):
    fake.reply(PATH, Reply(chunks=stream("Bon", "jour")))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert fake.last.json["stream"] is True
    assert "".join(seen) == "Bonjour"
    assert result.output == {"text": "Bonjour", "finishReason": "max_tokens"}
    assert (result.usage.input_tokens, result.usage.output_tokens) == (11, 6)  # last cumulative figure, not a sum
    assert result.request_id == "msg_s"


async def test_error_event_after_200(fake, hub):
    fake.reply(PATH, Reply(chunks=stream("Bon", stop=False, error={"type": "overloaded_error", "message": "Overloaded"})))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.OVERLOADED and err.value.partial_text == "Bon"


async def test_stream_cut_off(fake, hub):
    fake.reply(PATH, Reply(chunks=stream("Bon", stop=False), cut=True))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.CONNECTION and err.value.partial_text == "Bon"


async def test_stream_ending_early_is_malformed(fake, hub):
    fake.reply(PATH, Reply(chunks=stream("Bon", stop=False)))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.MALFORMED


@pytest.mark.parametrize("status,etype,headers,kind,retry", [
    (400, "invalid_request_error", {}, ErrorKind.BAD_REQUEST, None),
    (400, "invalid_request_error", {}, ErrorKind.CONTEXT_LENGTH, None),
    (400, "invalid_request_error", {}, ErrorKind.QUOTA_EXHAUSTED, None),
    (401, "authentication_error", {}, ErrorKind.AUTH, None),
    (402, "billing_error", {}, ErrorKind.QUOTA_EXHAUSTED, None),
    (429, "rate_limit_error", {"retry-after": "12"}, ErrorKind.RATE_LIMITED, 12.0),
    (500, "api_error", {}, ErrorKind.SERVER, None),
    (503, "api_error", {}, ErrorKind.OVERLOADED, None),
    (529, "overloaded_error", {}, ErrorKind.OVERLOADED, None),
])
async def test_errors(fake, hub, status, etype, headers, kind, retry):
    msg = {ErrorKind.CONTEXT_LENGTH: "prompt is too long: 210000 tokens > 200000 maximum",
           ErrorKind.QUOTA_EXHAUSTED: "Your credit balance is too low to access the Anthropic API."}.get(kind, "nope")
    fake.reply(PATH, Reply(status=status, json={"type": "error", "error": {"type": etype, "message": msg}}, headers=headers))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == kind and err.value.retry_after_s == retry


async def test_malformed_json(fake, hub):
    fake.reply(PATH, Reply(raw="<html>oops</html>"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED


async def test_health_lists_models(fake, hub):
    fake.reply("/v1/models", Reply(json={"data": []}))
    status = await hub.check(spec(fake))
    assert status.state == "ok" and fake.last.path == "/v1/models" and fake.last.headers["x-api-key"] == SECRET
    fake.reply("/v1/models", Reply(status=401, json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))
    assert (await hub.check(spec(fake))).state == "auth_failed"


async def test_prompt_cache_writes_are_priced_at_the_cache_write_price(fake, hub):
    """Anthropic bills a prompt-cache write at 1.25x input (5-minute cache); every non-cached
    input token was priced at the input price, writes included: this call was recorded 17% under."""
    import json
    from pathlib import Path

    sample = json.loads((Path(__file__).parents[2] / "samples/models/anthropic__claude-haiku-4-5.json").read_text())
    assert sample["prices"]["cacheWriteInputPerToken"] == pytest.approx(1.25 * sample["prices"]["inputPerToken"])
    fake.reply(PATH, Reply(json=message(usage={"input_tokens": 100, "cache_read_input_tokens": 1000,
                                               "cache_creation_input_tokens": 2000, "output_tokens": 50})))
    result = await hub.call(spec(fake, prices=sample["prices"]), req({"prompt": "hi"}))
    # by hand, Haiku 4.5: 100 x $1 + 1000 x $0.10 + 2000 x $1.25 (writes) + 50 x $5, per Mtok
    assert result.cost.usd == pytest.approx(0.0001 + 0.0001 + 0.0025 + 0.00025, rel=1e-12)
    (record, _, _), = hub.recorder.calls
    assert record.cost_usd == pytest.approx(0.00295, rel=1e-12)

    # a model without a cache-write price prices writes at its input price (the README says so)
    fake.reply(PATH, Reply(json=message(usage={"input_tokens": 100, "cache_read_input_tokens": 1000,
                                               "cache_creation_input_tokens": 2000, "output_tokens": 50})))
    plain = {k: v for k, v in sample["prices"].items() if k != "cacheWriteInputPerToken"}
    result = await hub.call(spec(fake, prices=plain), req({"prompt": "hi"}))
    assert result.cost.usd == pytest.approx(0.0001 + 0.0001 + 0.002 + 0.00025, rel=1e-12)


PRICED = {"prices": {"inputPerToken": 3e-6, "outputPerToken": 15e-6}}
STARTED = ("message_start", {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 11, "output_tokens": 1}}})
TEXT = [("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Bon"}})]


async def _failed_record(fake, hub, reply, kind, timeout_s=None):
    """The one call's record, after it failed with `kind`."""
    fake.reply(PATH, reply)
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, **PRICED), req({"prompt": "Hi"}, stream=True).model_copy(update={"timeout_s": timeout_s}))
    assert err.value.kind == kind
    (record, _, _), = hub.recorder.calls
    return record


@pytest.mark.parametrize("events,cut,kind", [
    ([STARTED], True, ErrorKind.CONNECTION),  # cut right after message_start
    ([STARTED, *TEXT], True, ErrorKind.CONNECTION),  # cut mid-text
    ([STARTED, *TEXT, ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})],
     False, ErrorKind.OVERLOADED),  # Claude's `event: error` after the 200
])
async def test_a_stream_failing_after_message_start_records_the_usage_claude_said(fake, hub, events, cut, kind):
    """Claude bills the input tokens its message_start reported, however the stream ends after it."""
    record = await _failed_record(fake, hub, Reply(chunks=sse_events(*events), cut=cut), kind)
    assert (record.status, record.usage.input_tokens, record.usage.output_tokens) == ("error", 11, 1)
    assert record.cost_usd == pytest.approx(11 * 3e-6 + 1 * 15e-6, rel=1e-12)  # by hand: $0.000048


async def test_a_stream_timing_out_after_message_start_records_the_usage_claude_said(fake, hub):
    fake.gate.clear()
    try:
        reply = Reply(chunks=[*sse_events(STARTED, *TEXT), GATE])
        record = await _failed_record(fake, hub, reply, ErrorKind.TIMEOUT, timeout_s=0.5)
    finally:
        fake.gate.set()
    assert (record.error_class, record.usage.input_tokens, record.usage.output_tokens) == ("timeout", 11, 1)
    assert record.cost_usd == pytest.approx(48e-6, rel=1e-12)


async def test_a_stream_failing_before_claude_said_its_usage_stays_unpriced(fake, hub):
    record = await _failed_record(fake, hub, Reply(chunks=[": keep-alive\n\n"], cut=True), ErrorKind.CONNECTION)
    assert (record.usage.input_tokens, record.usage.source, record.cost_usd) == (0, "none", None)
