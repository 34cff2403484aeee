"""The hub's own duties: validation, keys, params, cost, faults, recording, cancellation."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.hub import CallContext, ProviderHub
from studio.recording import MemoryRecorder
from studio.spec.calls import CANONICAL_SCHEMAS
from tests.fakes.provider_server import GATE, Reply, sse
from tests.providers.conftest import DictKeys, make_spec, req

PATH = "/v1/chat/completions"
OK = {"id": "c1", "choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


def llm(fake, **extra):
    schemas = CANONICAL_SCHEMAS["llm"]
    extra = {"input_schema": schemas[0], "output_schema": schemas[1], **extra}
    return make_spec("openai-chat", fake.url(PATH), **extra)


async def test_input_is_validated_before_any_network_call(fake, hub):
    with pytest.raises(ProviderError) as err:
        await hub.call(llm(fake), req({"messages": [{"content": "no role"}]}))
    assert err.value.kind == ErrorKind.INVALID_INPUT and "messages/0" in str(err.value) and "role" in str(err.value)
    assert fake.requests == []
    assert hub.recorder.calls[-1][0].error_class == "invalid_input"


async def test_output_is_validated(fake, hub):
    fake.reply(PATH, Reply(json=OK))
    s = llm(fake, output_schema={"type": "object", "properties": {"text": {"type": "integer"}}})
    with pytest.raises(ProviderError) as err:
        await hub.call(s, req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.INVALID_OUTPUT and "text" in str(err.value)


async def test_missing_key_fails_before_the_call(fake):
    h = ProviderHub(keys=DictKeys({}), recorder=MemoryRecorder())
    with pytest.raises(ProviderError) as err:
        await h.call(llm(fake), req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.KEY_MISSING and fake.requests == []
    assert (await h.check(llm(fake))).state == "key_missing"
    await h.aclose()


async def test_a_key_with_a_line_break_is_said_before_anything_is_sent(fake):
    """An environment variable holding a newline inside the key failed in the HTTP library, as
    "the provider's reply could not be understood" (malformed, retried, unpriced)."""
    h = ProviderHub(keys=DictKeys({"TEST_KEY": "sk-one\nsk-two-0000000000"}), recorder=MemoryRecorder())
    with pytest.raises(ProviderError) as err:
        await h.call(llm(fake), req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.KEY_MISSING and fake.requests == []
    assert "TEST_KEY holds a line break" in str(err.value) and "sk-two" not in str(err.value)
    fake.reply(PATH, Reply(json=OK))
    h.keys = DictKeys({"TEST_KEY": "sk-test-trailing-newline-000\n"})  # read from a file: the newline goes
    assert (await h.call(llm(fake), req({"prompt": "x"}))).output["text"] == "fine"
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-test-trailing-newline-000"
    await h.aclose()


async def test_incomplete_spec_is_refused(fake, hub):
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("openai-chat", fake.url(PATH), model=None), req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.INCOMPLETE and fake.requests == []


async def test_default_params_merge_under_request_params(fake, hub):
    fake.reply(PATH, Reply(json=OK))
    await hub.call(llm(fake, default_params={"temperature": 0.1, "max_tokens": 9}), req({"prompt": "x"}, temperature=0.9))
    assert fake.last.json["temperature"] == 0.9 and fake.last.json["max_completion_tokens"] == 9


async def test_cost_from_genai_prices_when_spec_has_none(fake, hub):
    fake.reply(PATH, Reply(json=OK))
    result = await hub.call(llm(fake, model="gpt-4o-mini"), req({"prompt": "x"}))
    assert result.cost.source == "genai-prices" and result.cost.usd > 0


async def test_unknown_price_is_unpriced_never_zero(fake, hub):
    fake.reply(PATH, Reply(json=OK))
    result = await hub.call(llm(fake, model="my-own-finetune-xyz"), req({"prompt": "x"}))
    assert result.cost.usd is None and result.cost.source == "none"
    assert hub.recorder.calls[-1][0].cost_usd is None


async def test_a_call_refused_before_it_was_sent_cost_nothing_one_that_failed_after_is_unpriced(fake, hub):
    """A refused call's record said 'unpriced' (the analytics: 'cost $0 + 3 unpriced' for three
    calls whose key was missing); nothing went out, so it cost $0. What a provider charges for a
    call that failed once sent is not known."""
    with pytest.raises(ProviderError):
        await hub.call(llm(fake), req({"messages": [{"content": "no role"}]}))
    assert hub.recorder.calls[-1][0].cost_usd == 0.0 and fake.requests == []
    h = ProviderHub(keys=DictKeys({}), recorder=MemoryRecorder())
    with pytest.raises(ProviderError):
        await h.call(llm(fake), req({"prompt": "x"}))
    assert h.recorder.calls[-1][0].cost_usd == 0.0 and h.recorder.calls[-1][0].error_class == "key_missing"
    await h.aclose()
    fake.reply(PATH, Reply(status=500, json={"error": {"message": "boom"}}))
    with pytest.raises(ProviderError):
        await hub.call(llm(fake, prices={"input_per_token": 1e-6, "output_per_token": 2e-6}), req({"prompt": "x"}))
    assert len(fake.requests) == 1 and hub.recorder.calls[-1][0].cost_usd is None


@pytest.mark.parametrize("counts", [{"prompt_tokens": -3, "completion_tokens": 1},
                                    {"prompt_tokens": 1, "completion_tokens": 2**63},
                                    {"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": -1}}])
@pytest.mark.parametrize("stream", [False, True])
async def test_token_counts_no_call_can_have_give_way_to_the_estimate(fake, hub, counts, stream):
    """Below zero or past what a 64-bit column holds: the provider's figures are not used (they
    would price the call absurdly and fit no analytics column), the estimate is, marked so."""
    if stream:
        fake.reply(PATH, Reply(chunks=sse({"choices": [{"index": 0, "delta": {"content": "fine"}}]},
                                          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                                          {"choices": [], "usage": counts})))
    else:
        fake.reply(PATH, Reply(json={**OK, "usage": counts}))
    spec = llm(fake, prices={"input_per_token": 1e-6, "output_per_token": 2e-6})
    result = await hub.call(spec, req({"prompt": "x"}, stream=stream))
    # about four characters a token: '{"prompt": "x"}' is 15, "fine" is 4
    assert result.usage.source == "estimate" and (result.usage.input_tokens, result.usage.output_tokens) == (3, 1)
    assert result.cost.usd == pytest.approx(3e-6 + 2e-6)
    assert hub.recorder.calls[-1][0].usage == result.usage


async def test_an_estimate_counts_a_short_output_as_a_token(fake, hub):
    """"ok" is two characters, which rounded down to no output token: its output cost was missing."""
    fake.reply(PATH, Reply(json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}))
    result = await hub.call(llm(fake, prices={"input_per_token": 1e-6, "output_per_token": 2e-6}), req({"prompt": "x"}))
    assert result.usage.source == "estimate" and result.usage.output_tokens == 1
    assert result.cost.usd == pytest.approx(3e-6 + 2e-6)


async def test_record_carries_context_and_content(fake, hub):
    fake.reply(PATH, Reply(json=OK, headers={"x-request-id": "r"}))
    ctx = CallContext(pipeline_id="p", run_id="run1", node_id="n1", fell_back_from="a/b", routing_reason="fallback")
    result = await hub.call(llm(fake), req({"prompt": "x"}), context=ctx)
    assert len(hub.recorder.calls) == 1
    rec, rin, rout = hub.recorder.calls[0]
    assert (rec.pipeline_id, rec.run_id, rec.node_id, rec.fell_back_from, rec.routing_reason) == ("p", "run1", "n1", "a/b", "fallback")
    assert rin == {"prompt": "x"} and rout == result.output  # the audit trail's addresses come from these
    assert rec.usage == result.usage and rec.request_id == "c1"
    assert 0 <= result.overhead_ms <= result.latency_ms


async def test_a_request_id_that_echoes_the_key_is_masked(fake, hub):
    """A provider (or a proxy before it) that put the key into its request id had it kept as
    given: in the records, the analytics exports and `iom invoke --json`."""
    from tests.providers.conftest import SECRET

    fake.reply(PATH, Reply(json={k: v for k, v in OK.items() if k != "id"}, headers={"x-request-id": f"rid-{SECRET}"}))
    result = await hub.call(llm(fake), req({"prompt": "x"}))
    rec = hub.recorder.calls[-1][0]
    assert result.request_id == rec.request_id == "rid-••••"


async def test_a_stream_without_a_finish_reason_says_the_same_at_the_top_and_in_the_output(fake, hub):
    """`iom invoke --json` showed finishReason null beside the output's "stop"."""
    fake.reply(PATH, Reply(chunks=sse({"choices": [{"index": 0, "delta": {"content": "hi"}}]})))
    result = await hub.call(llm(fake), req({"prompt": "x"}, stream=True), on_text=lambda t: None)
    assert result.finish_reason == result.output["finishReason"] == "stop"


async def test_a_429_costs_nothing_a_500_after_sending_is_unpriced(fake, hub):
    """Providers turn a 429 away before any work and do not bill it: a retried 429 made the run
    "+1 unpriced". A 500 after the request was sent stays of unknown cost."""
    fake.reply(PATH, Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit_error"}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(llm(fake), req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.RATE_LIMITED and not err.value.sent
    assert hub.recorder.calls[-1][0].cost_usd == 0.0
    fake.reply(PATH, Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(llm(fake), req({"prompt": "x"}))
    assert err.value.sent and hub.recorder.calls[-1][0].cost_usd is None


async def test_connection_refused(hub):
    """No connection made, nothing sent: the call cost nothing (its record says $0, not unpriced)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = make_spec("openai-chat", f"http://127.0.0.1:{port}{PATH}")
    with pytest.raises(ProviderError) as err:
        await hub.call(spec, req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.CONNECTION and not err.value.sent
    assert hub.recorder.calls[-1][0].cost_usd == 0.0
    assert (await hub.check(spec)).state == "unreachable"


@pytest.mark.parametrize("answer", [b"", b"this is not HTTP\r\n\r\n"], ids=["hangs-up", "not-http"])
async def test_a_server_that_hangs_up_or_speaks_garbage_is_a_broken_connection(hub, answer):
    """What the aiohttp wire under httpx raises becomes the httpx error classify.py knows."""
    async def serve(reader, writer):
        await reader.read(65536)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ProviderError) as err:
            await hub.call(make_spec("openai-chat", f"http://127.0.0.1:{port}{PATH}"), req({"prompt": "x"}))
    finally:
        server.close()
    assert err.value.kind == ErrorKind.CONNECTION and "mid-reply" in str(err.value)


async def test_timeout(fake, hub):
    fake.reply(PATH, Reply(chunks=sse({"choices": [{"delta": {"content": "a"}}]}), delay_s=1.0))
    r = req({"prompt": "x"}, stream=True)
    r.timeout_s = 0.2
    with pytest.raises(ProviderError) as err:
        await hub.call(llm(fake), r)
    assert err.value.kind == ErrorKind.TIMEOUT and err.value.retryable


async def test_cancellation_propagates_and_is_recorded(fake, hub):
    fake.reply(PATH, Reply(chunks=[*sse({"choices": [{"delta": {"content": "first"}}]}, done=False), GATE, "data: [DONE]\n\n"]))
    got_first = asyncio.Event()
    task = asyncio.create_task(hub.call(llm(fake), req({"prompt": "x"}, stream=True), on_text=lambda t: got_first.set()))
    await got_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hub.recorder.calls[-1][0].error_class == "cancelled"


class Fixed(random.Random):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def random(self):
        return self.value


@pytest.mark.parametrize("roll,kind,retry", [(0.05, ErrorKind.TIMEOUT, None), (0.15, ErrorKind.RATE_LIMITED, 3.0),
                                              (0.25, ErrorKind.SERVER, None), (0.95, None, None)])
async def test_fault_injection(fake, roll, kind, retry):
    fake.reply(PATH, Reply(json=OK))
    h = ProviderHub(keys=DictKeys({"TEST_KEY": "k"}), recorder=MemoryRecorder(), rng=Fixed(roll))
    s = llm(fake, faults={"timeoutRate": 0.1, "rateLimitRate": 0.1, "retryAfterS": 3, "errorRate": 0.1})
    if kind is None:
        assert (await h.call(s, req({"prompt": "x"}))).output["text"] == "fine"
    else:
        with pytest.raises(ProviderError) as err:
            await h.call(s, req({"prompt": "x"}))
        assert err.value.kind == kind and err.value.retry_after_s == retry and "injected" in str(err.value)
        assert fake.requests == [] and h.recorder.calls[-1][0].error_class == kind.value
    await h.aclose()


async def test_disabled_faults_do_nothing(fake, hub):
    fake.reply(PATH, Reply(json=OK))
    s = llm(fake, faults={"enabled": False, "errorRate": 1.0})
    assert (await hub.call(s, req({"prompt": "x"}))).output["text"] == "fine"


async def test_non_streaming_format_still_shows_text_when_streaming(fake, hub):
    fake.reply("/m", Reply(json=[{"generated_text": "whole"}]))
    seen = []
    await hub.call(make_spec("hf-text-generation", fake.url("/m")), req({"prompt": "x"}), on_text=seen.append)
    assert seen == []  # not asked to stream
    fake.reply("/v1/embeddings", Reply(json={"data": [{"index": 0, "embedding": [1.0]}]}))
    result = await hub.call(make_spec("openai-embeddings", fake.url("/v1/embeddings")), req({"input": "x"}, stream=True),
                            on_text=seen.append)
    assert seen == [] and result.output == {"vectors": [[1.0]]}


async def test_studio_builds_a_hub():
    from studio.core import Studio

    s = Studio(seed_samples=False)
    assert isinstance(s.providers, ProviderHub) and s.providers.recorder is s.recorder
    await s.aclose()



async def test_an_embedding_priced_by_its_input_alone_is_priced(fake, hub):
    """An embedding has no output tokens: with only `inputPerToken` its calls were all recorded
    as unpriced (the price rule wanted an output price too). An llm still needs both."""
    fake.reply("/v1/embeddings", Reply(json={"object": "list", "usage": {"prompt_tokens": 40, "total_tokens": 40},
                                             "data": [{"index": 0, "embedding": [0.1, 0.2]}]}))
    schemas = CANONICAL_SCHEMAS["embedding"]
    embed = make_spec("openai-embeddings", fake.url("/v1/embeddings"), model="my-own-embedder", model_type="embedding",
                      input_schema=schemas[0], output_schema=schemas[1], prices={"inputPerToken": 2e-8})
    result = await hub.call(embed, req({"input": "a"}))
    assert embed.priced and result.cost.usd == pytest.approx(40 * 2e-8) and result.cost.source == "spec"
    assert hub.recorder.calls[-1][0].cost_usd == pytest.approx(40 * 2e-8)
    assert embed.prices.one_sided("embedding") is None

    fake.reply(PATH, Reply(json=OK))
    one_price = llm(fake, model="my-own-finetune-xyz", prices={"inputPerToken": 1e-6})
    result = await hub.call(one_price, req({"prompt": "x"}))
    assert not one_price.priced and result.cost.usd is None
    assert one_price.prices.one_sided("llm") == ("only the input price is set, so this model's calls stay unpriced; "
                                                 "give the output price too (0 if it is free).")
