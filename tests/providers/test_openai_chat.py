"""OpenAI Chat Completions against a loopback server speaking it."""

from __future__ import annotations

import json

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import Reply, sse
from tests.providers.conftest import SECRET, make_spec, req

PATH = "/v1/chat/completions"


def completion(text="Hello there", usage=None, finish="stop"):
    return {"id": "chatcmpl-9", "object": "chat.completion", "model": "m-1",
            "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}],
            "usage": usage or {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                               "prompt_tokens_details": {"cached_tokens": 4},
                               "completion_tokens_details": {"reasoning_tokens": 1}}}


def chunk(content=None, finish=None, usage=None, choices=True):
    doc = {"id": "chatcmpl-s", "object": "chat.completion.chunk",
           "choices": [{"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}]
           if choices else []}
    if usage:
        doc["usage"] = usage
    return doc


def spec(fake, **extra):
    extra.setdefault("prices", {"inputPerToken": 1e-6, "outputPerToken": 2e-6, "cachedInputPerToken": 5e-7})
    return make_spec("openai-chat", fake.url(PATH), **extra)


async def test_plain_call_sends_documented_request_and_parses_reply(fake, hub):
    fake.reply(PATH, Reply(json=completion(), headers={"x-request-id": "req-h"}))
    s = spec(fake, default_params={"temperature": 0.2, "max_tokens": 50})
    result = await hub.call(s, req({"system": "Be brief.", "prompt": "Hi"}, max_tokens=7, stop=["\n"], seed=3, top_p=0.9))
    sent = fake.last
    assert (sent.method, sent.path) == ("POST", PATH)
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.json["model"] == "m-1"
    assert sent.json["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert sent.json["max_completion_tokens"] == 7 and "max_tokens" not in sent.json
    assert sent.json["temperature"] == 0.2 and sent.json["stop"] == ["\n"]
    assert sent.json["seed"] == 3 and sent.json["top_p"] == 0.9
    assert "stream" not in sent.json
    assert result.output == {"text": "Hello there", "finishReason": "stop"}
    assert result.request_id == "chatcmpl-9"
    u = result.usage
    assert (u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens, u.source) == (12, 3, 4, 1, "provider")
    assert result.cost.usd == pytest.approx(8 * 1e-6 + 4 * 5e-7 + 3 * 2e-6)
    assert result.cost.source == "spec"
    record, rin, rout = hub.recorder.calls[-1]
    assert record.status == "ok" and record.model_id == s.id and record.cost_usd == result.cost.usd
    assert rin == {"system": "Be brief.", "prompt": "Hi"} and rout == result.output
    assert record.latency_ms >= record.overhead_ms >= 0


async def test_images_become_content_parts(fake, hub):
    fake.reply(PATH, Reply(json=completion()))
    await hub.call(spec(fake), req({"messages": [{"role": "user", "content": "What is this?", "image": "data:image/png;base64,AAA"}]}))
    assert fake.last.json["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]


async def test_content_given_as_a_list_of_parts_is_their_text_joined(fake, hub):
    parts = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
             {"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}]
    fake.reply(PATH, Reply(json=completion(parts)))
    assert (await hub.call(spec(fake), req({"prompt": "Hi"}))).output["text"] == "Hello world"
    fake.reply(PATH, Reply(chunks=sse(chunk([{"type": "text", "text": "Hel"}]), chunk([{"type": "text", "text": "lo"}], "stop"))))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert "".join(seen) == "Hello" and result.output["text"] == "Hello"


async def test_stream_emits_deltas_and_reads_usage_from_last_chunk(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("Hel"), chunk("lo"), chunk(" you"), chunk(finish="length"),
                                      chunk(usage={"prompt_tokens": 9, "completion_tokens": 3}, choices=False))))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert fake.last.json["stream"] is True
    assert fake.last.json["stream_options"] == {"include_usage": True}
    assert "".join(seen) == "Hello you"  # one callback per network read
    assert result.output == {"text": "Hello you", "finishReason": "length"}
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.source) == (9, 3, "provider")
    assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    assert result.request_id == "chatcmpl-s"


async def test_stream_lines_split_anywhere_by_the_network_are_read_whole(fake, hub):
    """SSE lines may end in \\r\\n or \\r; a read may end between \\r and \\n or inside a UTF-8 character."""
    event = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"%s"}}]}'
    fake.reply(PATH, Reply(delay_s=0.05, chunks=[
        (event % "café".encode())[:-6], (event % "café".encode())[-6:] + b"\r", b"\n\r\n",
        b'data: {"id":"c","choices":[{"index":0,\r', b'\ndata: "delta":{"content":"!"}}]}\r\r',  # one event, two lines
        b"data: [DONE]\r\n\r\n"]))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert seen == ["café", "!"] and result.output["text"] == "café!"


async def test_async_on_text_is_awaited(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("a"), chunk("b"))))
    seen = []

    async def on_text(t):
        seen.append(t)

    await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=on_text)
    assert "".join(seen) == "ab"


async def test_stream_with_n_sends_the_other_choices_to_on_choice_text(fake, hub):
    """n > 1: the first choice's deltas go to on_text as ever, the others' to on_choice_text
    (index, text) as they arrive; a caller that does not ask for them sees no change."""
    def part(index, text, finish=None):
        return {"id": "c", "choices": [{"index": index, "delta": {"content": text} if text else {},
                                        "finish_reason": finish}]}

    fake.reply(PATH, Reply(chunks=sse(part(0, "He"), part(1, "Yo"), part(2, "Hi"), part(0, "llo", "stop"),
                                      part(1, "!", "length"), part(2, "", "stop"))))
    seen, others = [], []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True, n=3), on_text=seen.append,
                            on_choice_text=lambda i, t: others.append((i, t)))
    assert "".join(seen) == "Hello"
    assert {i: "".join(t for j, t in others if j == i) for i, _ in others} == {1: "Yo!", 2: "Hi"}
    assert [(c["text"], c["finishReason"]) for c in result.output["choices"]] == [
        ("Hello", "stop"), ("Yo!", "length"), ("Hi", "stop")]

    seen.clear()
    again = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True, n=3), on_text=seen.append)
    assert "".join(seen) == "Hello" and again.output == result.output


async def test_stream_without_usage_is_estimated_and_marked(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("12345678"))))
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert result.usage.source == "estimate" and result.usage.output_tokens == 2


@pytest.mark.parametrize("status,body,headers,kind,retry", [
    (400, {"error": {"message": "bad param", "type": "invalid_request_error"}}, {}, ErrorKind.BAD_REQUEST, None),
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}},
     {}, ErrorKind.CONTEXT_LENGTH, None),
    (401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}}, {}, ErrorKind.AUTH, None),
    (403, {"error": {"message": "no access"}}, {}, ErrorKind.PERMISSION, None),
    (404, {"error": {"message": "The model does not exist"}}, {}, ErrorKind.NOT_FOUND, None),
    (429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, {"retry-after": "7"}, ErrorKind.RATE_LIMITED, 7.0),
    (429, {"error": {"message": "slow down"}}, {"retry-after-ms": "1500"}, ErrorKind.RATE_LIMITED, 1.5),
    (429, {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                     "code": "insufficient_quota"}}, {}, ErrorKind.QUOTA_EXHAUSTED, None),
    (402, {"error": {"message": "payment required"}}, {}, ErrorKind.QUOTA_EXHAUSTED, None),
    (500, {"error": {"message": "oops"}}, {}, ErrorKind.SERVER, None),
    (503, {"error": {"message": "busy"}}, {}, ErrorKind.OVERLOADED, None),
    (529, {"error": {"message": "overloaded"}}, {}, ErrorKind.OVERLOADED, None),
])
async def test_error_statuses_are_classified(fake, hub, status, body, headers, kind, retry):
    fake.reply(PATH, Reply(status=status, json=body, headers=headers))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == kind and err.value.status == status
    assert err.value.retry_after_s == retry
    assert SECRET not in str(err.value)
    record = hub.recorder.calls[-1][0]
    assert record.status == "error" and record.error_class == kind.value and SECRET not in record.error_message


async def test_retry_after_as_http_date(fake, hub):
    fake.reply(PATH, Reply(status=429, json={"error": {"message": "x"}}, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.retry_after_s == 0.0  # a date in the past: retry now


async def test_a_reply_is_read_as_json_reads_it(fake, hub):
    """orjson reads replies where it gives what json gives; an integer past 64 bits stays exact."""
    big = 18446744073709551616
    fake.reply(PATH, Reply(raw=json.dumps({**completion(), "big": big}).encode(), content_type="application/json"))
    result = await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert result.output["text"] == "Hello there"
    assert result.raw_response["big"] == big and isinstance(result.raw_response["big"], int)


async def test_malformed_json_reply(fake, hub):
    fake.reply(PATH, Reply(raw=b'{"choices": [', content_type="application/json"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED and err.value.retryable


async def test_reply_without_choices_is_malformed(fake, hub):
    fake.reply(PATH, Reply(json={"id": "x"}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED


async def test_stream_request_answered_with_one_json_reply_gives_its_text(fake, hub):
    fake.reply(PATH, Reply(json=completion("plain json")))  # a server that ignored stream: true
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert seen == ["plain json"] and result.output == {"text": "plain json", "finishReason": "stop"}
    assert result.usage.output_tokens == 3 and result.request_id == "chatcmpl-9"


async def test_stream_with_a_json_content_type_is_still_read_as_a_stream(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("Hel"), chunk("lo", "stop")), content_type="application/json"))
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert result.output["text"] == "Hello"


async def test_stream_cut_off_midway_keeps_partial_text(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("Once"), chunk(" upon"), done=False), cut=True))
    seen = []
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert err.value.kind == ErrorKind.CONNECTION and err.value.partial_text == "Once upon"
    assert "".join(seen) == "Once upon"  # what came before the cut still reached the caller


async def test_stream_ending_without_done_is_malformed(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("Once"), done=False)))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.MALFORMED and err.value.partial_text == "Once"


async def test_error_object_mid_stream(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("Par"), {"error": {"message": "The server had an error", "type": "server_error"}})))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.SERVER and err.value.partial_text == "Par"


async def test_malformed_chunk_mid_stream(fake, hub):
    fake.reply(PATH, Reply(chunks=[*sse(chunk("A"), done=False), "data: {not json\n\n"]))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.MALFORMED and err.value.partial_text == "A"


async def test_malformed_chunk_in_the_same_read_as_good_ones(fake, hub):
    """The events of one read are parsed before the adapter sees them: those before the bad
    one still reach the caller and the error's partial text."""
    fake.reply(PATH, Reply(chunks=["".join(sse(chunk("A"), chunk("B"), done=False)) + "data: {not json\n\n"]))
    seen = []
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert err.value.kind == ErrorKind.MALFORMED and err.value.partial_text == "AB"
    assert "".join(seen) == "AB"


async def test_error_status_on_a_stream_request(fake, hub):
    fake.reply(PATH, Reply(status=429, json={"error": {"message": "slow down"}}, headers={"retry-after": "2"}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.RATE_LIMITED and err.value.retry_after_s == 2.0


async def test_pooled_connection_is_reused_after_a_stream(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(chunk("a"))), Reply(json=completion()))
    await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert len(fake.connections) == 1


async def test_the_tokens_of_one_network_read_reach_the_caller_as_one_piece(fake, hub):
    """Tokens that arrive together go out together (one callback, one write by the gateway);
    tokens that arrive apart still go out as each arrives (the split-lines test above)."""
    one_read = "".join(sse(chunk("Hel"), chunk("lo"), chunk(" you"), chunk(finish="stop")))
    fake.reply(PATH, Reply(chunks=[one_read]))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert seen == ["Hello you"] and result.output["text"] == "Hello you"


async def test_text_held_when_an_error_event_arrives_still_reaches_the_caller(fake, hub):
    one_read = "".join(sse(chunk("Hel"), {"error": {"message": "overloaded", "type": "server_error"}}, done=False))
    fake.reply(PATH, Reply(chunks=[one_read]))
    seen = []
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert seen == ["Hel"] and err.value.partial_text == "Hel"


@pytest.mark.parametrize("listing,state", [
    ({"object": "list", "data": [{"id": "gpt-4o"}, {"id": "M-1"}]}, "ok"),
    ({"object": "list", "data": [{"id": "m-1:cerebras"}]}, "error"),
    ({"object": "list", "data": [{"id": "gpt-4o"}]}, "error"),
    ({"object": "list", "data": [{"id": "gpt-4o"}], "has_more": True}, "ok"),  # one page of several
    ({"object": "list", "data": []}, "ok"),  # a server that lists nothing tells nothing
    ({"models": ["gpt-4o"]}, "ok")])  # not OpenAI's shape
async def test_health_says_when_the_server_does_not_list_the_model(fake, hub, listing, state):
    fake.reply("/v1/models", Reply(json=listing))
    status = await hub.check(spec(fake))
    assert status.state == state and fake.last.path == "/v1/models"
    assert ("the server does not list model 'm-1'" in status.detail) == (state == "error")


async def test_health_takes_a_routing_suffix_as_the_listed_model(fake, hub):
    fake.reply("/v1/models", Reply(json={"object": "list", "data": [{"id": "org/m-1"}]}))
    assert (await hub.check(spec(fake, model="org/m-1:fastest"))).state == "ok"
