"""Google Gemini generateContent / streamGenerateContent against a loopback server."""

from __future__ import annotations

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import Reply, sse
from tests.providers.conftest import SECRET, make_spec, req

PLAIN = "/v1beta/models/m-1:generateContent"
STREAM = "/v1beta/models/m-1:streamGenerateContent"


def answer(text="Hola", finish="STOP", usage=True):
    doc = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}] if finish or text else [],
           "responseId": "resp-1"}
    if not finish:
        doc["candidates"][0].pop("finishReason")
    if usage:
        doc["usageMetadata"] = {"promptTokenCount": 8, "candidatesTokenCount": 2, "cachedContentTokenCount": 3,
                                "thoughtsTokenCount": 4}
    return doc


def spec(fake, **extra):
    return make_spec("gemini", fake.url(PLAIN), **extra)


async def test_plain_request_and_reply(fake, hub):
    fake.reply(PLAIN, Reply(json=answer()))
    result = await hub.call(spec(fake), req({"system": "Spanish only.", "messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hola"}, {"role": "user", "content": "Again"}]},
        max_tokens=30, temperature=0.1, stop="x", top_p=0.5, seed=2))
    sent = fake.last
    assert sent.path == PLAIN and sent.headers["x-goog-api-key"] == SECRET and not sent.query
    assert sent.json["systemInstruction"] == {"parts": [{"text": "Spanish only."}]}
    assert [c["role"] for c in sent.json["contents"]] == ["user", "model", "user"]
    assert sent.json["contents"][2]["parts"] == [{"text": "Again"}]
    assert sent.json["generationConfig"] == {"maxOutputTokens": 30, "temperature": 0.1, "stopSequences": ["x"],
                                             "topP": 0.5, "seed": 2}
    assert result.output == {"text": "Hola", "finishReason": "STOP"}
    u = result.usage
    assert (u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens) == (8, 6, 3, 4)
    assert result.request_id == "resp-1"


async def test_image_data_url_becomes_inline_data(fake, hub):
    fake.reply(PLAIN, Reply(json=answer()))
    await hub.call(spec(fake), req({"prompt": "What?", "images": ["data:image/jpeg;base64,QUJD"]}))
    assert fake.last.json["contents"][0]["parts"] == [{"text": "What?"}, {"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}}]


async def test_stream_uses_alt_sse_and_keeps_last_usage(fake, hub):
    c1 = answer("Ho", finish=None)
    c1["usageMetadata"] = {"promptTokenCount": 8, "candidatesTokenCount": 1}
    c2 = answer("la", finish="STOP")
    c2["usageMetadata"] = {"promptTokenCount": 8, "candidatesTokenCount": 5}
    fake.reply(STREAM, Reply(chunks=sse(c1, c2, done=False)))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert fake.last.path == STREAM and fake.last.query == {"alt": ["sse"]}
    assert "".join(seen) == "Hola" and result.output["text"] == "Hola"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (8, 5)


async def test_stream_request_answered_with_one_json_reply_gives_its_text(fake, hub):
    fake.reply(STREAM, Reply(json=answer("Hola")))  # a proxy that ignored alt=sse
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert seen == ["Hola"] and result.output["text"] == "Hola" and result.usage.input_tokens == 8


async def test_stream_with_candidate_count_sends_the_other_candidates_to_on_choice_text(fake, hub):
    def cand(index, text, finish=None):
        c = {"index": index, "content": {"role": "model", "parts": [{"text": text}]}}
        return {**c, "finishReason": finish} if finish else c

    fake.reply(STREAM, Reply(chunks=sse({"candidates": [cand(0, "Ho"), cand(1, "Ol")]},
                                        {"candidates": [cand(1, "á", "MAX_TOKENS")]},
                                        {"candidates": [cand(0, "la", "STOP")]}, done=False)))
    seen, others = [], []

    async def on_choice_text(index, text):  # awaited like on_text
        others.append((index, text))

    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True, n=2), on_text=seen.append,
                            on_choice_text=on_choice_text)
    assert fake.last.json["generationConfig"]["candidateCount"] == 2
    assert "".join(seen) == "Hola" and "".join(t for i, t in others if i == 1) == "Olá"
    assert {i for i, _ in others} == {1}
    assert [(c["text"], c["finishReason"]) for c in result.output["choices"]] == [("Hola", "STOP"), ("Olá", "MAX_TOKENS")]


async def test_results_of_parallel_tool_calls_go_in_one_user_entry(fake, hub):
    fake.reply(PLAIN, Reply(json=answer()))
    calls = [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
             {"id": "c2", "type": "function", "function": {"name": "time", "arguments": "{}"}}]
    await hub.call(spec(fake), req({"messages": [
        {"role": "user", "content": "Weather and time?"}, {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "sunny"}'},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"}]}))
    contents = fake.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[2]["parts"] == [{"functionResponse": {"name": "weather", "response": {"sky": "sunny"}}},
                                    {"functionResponse": {"name": "time", "response": {"result": "noon"}}}]


async def test_blocked_prompt_is_content_blocked(fake, hub):
    fake.reply(PLAIN, Reply(json={"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "bad"}))
    assert err.value.kind == ErrorKind.CONTENT_BLOCKED and "SAFETY" in str(err.value) and err.value.fallback_ok


async def test_blocked_prompt_in_stream(fake, hub):
    fake.reply(STREAM, Reply(chunks=sse({"promptFeedback": {"blockReason": "OTHER"}}, done=False)))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "bad"}, stream=True))
    assert err.value.kind == ErrorKind.CONTENT_BLOCKED


async def test_429_retry_info(fake, hub):
    fake.reply(PLAIN, Reply(status=429, json={"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
                                                         "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}]}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.RATE_LIMITED and err.value.retry_after_s == 47.0


@pytest.mark.parametrize("status,gstatus,kind", [
    (400, "INVALID_ARGUMENT", ErrorKind.BAD_REQUEST), (401, "UNAUTHENTICATED", ErrorKind.AUTH),
    (403, "PERMISSION_DENIED", ErrorKind.PERMISSION), (500, "INTERNAL", ErrorKind.SERVER),
    (503, "UNAVAILABLE", ErrorKind.OVERLOADED), (529, "UNAVAILABLE", ErrorKind.OVERLOADED)])
async def test_errors(fake, hub, status, gstatus, kind):
    fake.reply(PLAIN, Reply(status=status, json={"error": {"code": status, "message": "x", "status": gstatus}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == kind


async def test_malformed_and_cut_and_error_mid_stream(fake, hub):
    fake.reply(PLAIN, Reply(raw="{"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED
    fake.reply(STREAM, Reply(chunks=sse(answer("Ho", finish=None), done=False), cut=True))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.CONNECTION and err.value.partial_text == "Ho"
    fake.reply(STREAM, Reply(chunks=sse(answer("Ho", finish=None), {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}, done=False)))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.OVERLOADED and err.value.partial_text == "Ho"


async def test_health_lists_models(fake, hub):
    fake.reply("/v1beta/models", Reply(json={"models": []}))
    assert (await hub.check(spec(fake))).state == "ok"
    assert fake.last.path == "/v1beta/models" and fake.last.headers["x-goog-api-key"] == SECRET
