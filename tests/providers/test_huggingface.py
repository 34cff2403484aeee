"""Hugging Face task endpoints against a loopback server speaking them."""

from __future__ import annotations

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import Reply, sse
from tests.providers.conftest import SECRET, make_spec, req

PATH = "/models/some/model"


def spec(fake, api, **extra):
    return make_spec(api, fake.url(PATH), **extra)


async def test_text_generation_plain(fake, hub):
    fake.reply(PATH, Reply(json=[{"generated_text": " a fox"}]))
    result = await hub.call(spec(fake, "hf-text-generation"), req({"prompt": "Once,"}, max_tokens=9, temperature=0.7, stop="."))
    sent = fake.last
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.json == {"inputs": "Once,", "parameters": {"max_new_tokens": 9, "temperature": 0.7, "stop": ["."],
                                                            "return_full_text": False}}
    assert result.output["text"] == " a fox"
    assert result.usage.source == "estimate"  # HF reports no usage here: estimated and marked


def tgi(text, final=None, details=None):
    return {"index": 1, "token": {"id": 5, "text": text, "logprob": -0.1, "special": False},
            "generated_text": final, "details": details}


async def test_text_generation_tgi_stream(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(tgi("Hel"), tgi("lo"), tgi("", final="Hello",
                                                                  details={"finish_reason": "eos_token", "generated_tokens": 2})
                                      , done=False)))
    seen = []
    result = await hub.call(spec(fake, "hf-text-generation"), req({"prompt": "Say"}, stream=True), on_text=seen.append)
    assert fake.last.json["stream"] is True
    assert "".join(seen) == "Hello" and result.output == {"text": "Hello", "finishReason": "eos_token"}


async def test_tgi_stream_error_and_cut(fake, hub):
    fake.reply(PATH, Reply(chunks=sse(tgi("Hel"), {"error": "Request failed during generation: Server error", "error_type": "generation"}, done=False)))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-text-generation"), req({"prompt": "Say"}, stream=True))
    assert err.value.kind == ErrorKind.SERVER and err.value.partial_text == "Hel"
    fake.reply(PATH, Reply(chunks=sse(tgi("Hel"), done=False), cut=True))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-text-generation"), req({"prompt": "Say"}, stream=True))
    assert err.value.kind == ErrorKind.CONNECTION and err.value.partial_text == "Hel"


async def test_feature_extraction_single_and_many(fake, hub):
    fake.reply(PATH, Reply(json=[0.1, 0.2, 0.3]))
    result = await hub.call(spec(fake, "hf-feature-extraction", model_type="embedding"), req({"input": "hi"}))
    assert fake.last.json == {"inputs": "hi"} and result.output == {"vectors": [[0.1, 0.2, 0.3]]}
    fake.reply(PATH, Reply(json=[[1.0, 2.0], [[1.0, 3.0], [3.0, 5.0]]]))  # second one token-level: pooled
    result = await hub.call(spec(fake, "hf-feature-extraction"), req({"input": ["a", "b"]}))
    assert result.output == {"vectors": [[1.0, 2.0], [2.0, 4.0]]}


async def test_feature_extraction_of_one_text_gives_one_vector(fake, hub):
    s = spec(fake, "hf-feature-extraction", model_type="embedding")
    fake.reply(PATH, Reply(json=[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))  # its three tokens: pooled
    assert (await hub.call(s, req({"input": "one sentence"}))).output == {"vectors": [[3.0, 4.0]]}
    fake.reply(PATH, Reply(json=[[0.5, 0.25]]))  # a batch of one
    assert (await hub.call(s, req({"input": "one sentence"}))).output == {"vectors": [[0.5, 0.25]]}


async def test_feature_extraction_with_a_vector_short_is_malformed(fake, hub):
    fake.reply(PATH, Reply(json=[[1.0, 2.0]]))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-feature-extraction", model_type="embedding"), req({"input": ["a", "b"]}))
    assert err.value.kind == ErrorKind.MALFORMED and "the reply has 1 vector for 2 inputs" in str(err.value)


async def test_text_classification(fake, hub):
    fake.reply(PATH, Reply(json=[[{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]]))
    result = await hub.call(spec(fake, "hf-text-classification", model_type="classifier"), req({"text": "great"}))
    assert fake.last.json == {"inputs": "great"}
    assert result.output == {"label": "POSITIVE", "scores": {"POSITIVE": 0.9, "NEGATIVE": 0.1}}


async def test_translation(fake, hub):
    fake.reply(PATH, Reply(json=[{"translation_text": "Bonjour"}]))
    result = await hub.call(spec(fake, "hf-translation", model_type="translation"),
                            req({"text": "Hello", "targetLanguage": "fr", "sourceLanguage": "en"}))
    assert fake.last.json == {"inputs": "Hello", "parameters": {"tgt_lang": "fr", "src_lang": "en"}}
    assert result.output == {"text": "Bonjour"}


async def test_model_loading_503_is_retryable_with_estimated_time(fake, hub):
    fake.reply(PATH, Reply(status=503, json={"error": "Model some/model is currently loading", "estimated_time": 20.5}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-text-generation"), req({"prompt": "x"}))
    assert err.value.kind == ErrorKind.OVERLOADED and err.value.retryable and err.value.retry_after_s == 20.5


@pytest.mark.parametrize("status,body,headers,kind", [
    (400, {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096"}, {}, ErrorKind.CONTEXT_LENGTH),
    (400, {"error": "bad"}, {}, ErrorKind.BAD_REQUEST),
    (401, {"error": "Invalid credentials in Authorization header"}, {}, ErrorKind.AUTH),
    (429, {"error": "Rate limit reached"}, {"retry-after": "30"}, ErrorKind.RATE_LIMITED),
    (500, {"error": "boom"}, {}, ErrorKind.SERVER),
    (529, {"error": "busy"}, {}, ErrorKind.OVERLOADED),
])
async def test_errors(fake, hub, status, body, headers, kind):
    fake.reply(PATH, Reply(status=status, json=body, headers=headers))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-text-classification", model_type="classifier"), req({"text": "x"}))
    assert err.value.kind == kind
    assert err.value.retry_after_s == (30.0 if status == 429 else None)


async def test_malformed(fake, hub):
    fake.reply(PATH, Reply(raw="not json"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-translation", model_type="translation"), req({"text": "x", "targetLanguage": "de"}))
    assert err.value.kind == ErrorKind.MALFORMED
    fake.reply(PATH, Reply(json={"unexpected": 1}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec(fake, "hf-translation", model_type="translation"), req({"text": "x", "targetLanguage": "de"}))
    assert err.value.kind == ErrorKind.MALFORMED
