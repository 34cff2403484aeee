"""Ollama's native API (/api/chat, /api/generate, /api/embed) against a loopback server."""

from __future__ import annotations

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import Reply, ndjson
from tests.providers.conftest import make_spec, req

FINAL = {"done": True, "done_reason": "stop", "total_duration": 5_000_000_000, "prompt_eval_count": 26,
         "eval_count": 40, "eval_duration": 2_000_000_000}


def spec(fake, api="ollama-chat", path="/api/chat", **extra):
    return make_spec(api, fake.url(path), provider="ollama", key_ref=None, **extra)


async def test_chat_plain(fake, hub):
    fake.reply("/api/chat", Reply(json={"model": "m-1", "message": {"role": "assistant", "content": "Hi!"}, **FINAL}))
    result = await hub.call(spec(fake), req({"system": "S", "prompt": "Hello"}, max_tokens=5, temperature=0, stop=["x"]))
    sent = fake.last
    assert sent.json == {"model": "m-1", "stream": False, "options": {"num_predict": 5, "temperature": 0, "stop": ["x"]},
                         "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hello"}]}
    assert "authorization" not in sent.headers
    assert result.output == {"text": "Hi!", "finishReason": "stop"}
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.source) == (26, 40, "provider")
    assert result.tokens_per_second == 20.0  # 40 tokens / 2 s of eval_duration


async def test_chat_ndjson_stream(fake, hub):
    fake.reply("/api/chat", Reply(chunks=ndjson({"message": {"role": "assistant", "content": "Hel"}, "done": False},
                                                {"message": {"role": "assistant", "content": "lo"}, "done": False},
                                                {"message": {"role": "assistant", "content": ""}, **FINAL}),
                                  content_type="application/x-ndjson"))
    seen = []
    result = await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True), on_text=seen.append)
    assert fake.last.json["stream"] is True
    assert "".join(seen) == "Hello" and result.output["text"] == "Hello"
    assert result.usage.output_tokens == 40 and result.tokens_per_second == 20.0


async def test_image_in_chat(fake, hub):
    fake.reply("/api/chat", Reply(json={"message": {"content": "a cat"}, **FINAL}))
    await hub.call(spec(fake), req({"messages": [{"role": "user", "content": "what?", "image": "data:image/png;base64,QUJD"}]}))
    assert fake.last.json["messages"][0]["images"] == ["QUJD"]


async def test_error_line_under_200(fake, hub):
    fake.reply("/api/chat", Reply(chunks=ndjson({"message": {"content": "Hel"}, "done": False}, {"error": "an unexpected error occurred"})))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.SERVER and err.value.partial_text == "Hel"


async def test_cut_and_early_end(fake, hub):
    fake.reply("/api/chat", Reply(chunks=ndjson({"message": {"content": "Hel"}, "done": False}), cut=True))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.CONNECTION and err.value.partial_text == "Hel"
    fake.reply("/api/chat", Reply(chunks=ndjson({"message": {"content": "Hel"}, "done": False})))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}, stream=True))
    assert err.value.kind == ErrorKind.MALFORMED


async def test_generate(fake, hub):
    fake.reply("/api/generate", Reply(chunks=ndjson({"response": "4", "done": False}, {"response": "2", **FINAL})))
    result = await hub.call(spec(fake, "ollama-generate", "/api/generate"), req({"system": "Math", "prompt": "6*7?"}, stream=True))
    assert fake.last.json == {"model": "m-1", "stream": True, "prompt": "6*7?", "system": "Math"}
    assert result.output["text"] == "42"


async def test_generate_sends_system_messages_once_in_their_own_field(fake, hub):
    fake.reply("/api/generate", Reply(json={"response": "hi", **FINAL}))
    await hub.call(spec(fake, "ollama-generate", "/api/generate"), req({"messages": [
        {"role": "system", "content": "SYS"}, {"role": "user", "content": "U"}]}))
    assert fake.last.json == {"model": "m-1", "stream": False, "prompt": "U", "system": "SYS"}


async def test_embed(fake, hub):
    fake.reply("/api/embed", Reply(json={"model": "m-1", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 8}))
    result = await hub.call(spec(fake, "ollama-embed", "/api/embed", model_type="embedding"), req({"input": ["a", "b"]}))
    assert fake.last.json == {"model": "m-1", "input": ["a", "b"]}
    assert result.output == {"vectors": [[0.1, 0.2], [0.3, 0.4]]} and result.usage.input_tokens == 8


async def test_embed_with_a_vector_short_is_malformed(fake, hub):
    fake.reply("/api/embed", Reply(json={"model": "m-1", "embeddings": [[0.1, 0.2]]}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "ollama-embed", "/api/embed", model_type="embedding"), req({"input": ["a", "b"]}))
    assert err.value.kind == ErrorKind.MALFORMED and "the reply has 1 vector for 2 inputs" in str(err.value)


@pytest.mark.parametrize("status,headers,kind", [
    (400, {}, ErrorKind.BAD_REQUEST), (401, {}, ErrorKind.AUTH), (404, {}, ErrorKind.NOT_FOUND),
    (429, {"retry-after": "2"}, ErrorKind.RATE_LIMITED), (500, {}, ErrorKind.SERVER),
    (503, {}, ErrorKind.OVERLOADED), (529, {}, ErrorKind.OVERLOADED)])
async def test_errors(fake, hub, status, headers, kind):
    fake.reply("/api/chat", Reply(status=status, json={"error": "model 'm-1' not found" if status == 404 else "x"}, headers=headers))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == kind
    assert err.value.retry_after_s == (2.0 if status == 429 else None)


async def test_malformed(fake, hub):
    fake.reply("/api/chat", Reply(raw="{{"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED


async def test_health_lists_tags(fake, hub):
    fake.reply("/api/tags", Reply(json={"models": [{"name": "llama3:8b", "model": "llama3:8b"},
                                                   {"name": "m-1:latest", "model": "m-1:latest"}]}))
    assert (await hub.check(spec(fake))).state == "ok" and fake.last.path == "/api/tags"


@pytest.mark.parametrize("tags", [{"models": [{"name": "llama3:8b", "model": "llama3:8b"}]}, {"models": []}])
async def test_health_says_when_the_model_is_not_pulled(fake, hub, tags):
    fake.reply("/api/tags", Reply(json=tags))
    status = await hub.check(spec(fake, model="notpulled:7b"))
    assert status.state == "error"
    assert "the server does not list model 'notpulled:7b'; pull it with 'ollama pull notpulled:7b'" in status.detail
