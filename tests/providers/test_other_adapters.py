"""OpenAI embeddings, generic HTTP and the local adapter."""

from __future__ import annotations

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from tests.fakes.provider_server import Reply
from tests.providers.conftest import SECRET, make_spec, req


async def test_openai_embeddings(fake, hub):
    fake.reply("/v1/embeddings", Reply(json={"object": "list", "model": "m-1", "usage": {"prompt_tokens": 4, "total_tokens": 4},
                                             "data": [{"index": 1, "embedding": [0.3]}, {"index": 0, "embedding": [0.1]}]}))
    s = make_spec("openai-embeddings", fake.url("/v1/embeddings"), model_type="embedding",
                  prices={"inputPerToken": 1e-7, "outputPerToken": 0})
    result = await hub.call(s, req({"input": ["a", "b"]}, temperature=1))
    assert fake.last.headers["authorization"] == f"Bearer {SECRET}"
    assert fake.last.json == {"model": "m-1", "input": ["a", "b"]}
    assert result.output == {"vectors": [[0.1], [0.3]]}
    assert result.usage.input_tokens == 4 and result.cost.usd == pytest.approx(4e-7)


ERRORS = [(400, ErrorKind.BAD_REQUEST), (401, ErrorKind.AUTH), (429, ErrorKind.RATE_LIMITED), (500, ErrorKind.SERVER),
          (503, ErrorKind.OVERLOADED), (529, ErrorKind.OVERLOADED)]


@pytest.mark.parametrize("status,kind", ERRORS)
async def test_openai_embeddings_errors(fake, hub, status, kind):
    fake.reply("/v1/embeddings", Reply(status=status, json={"error": {"message": "x"}}, headers={"retry-after": "5"} if status == 429 else {}))
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("openai-embeddings", fake.url("/v1/embeddings")), req({"input": "a"}))
    assert err.value.kind == kind and err.value.retry_after_s == (5.0 if status == 429 else None)


async def test_openai_embeddings_malformed(fake, hub):
    fake.reply("/v1/embeddings", Reply(raw="{]"))
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("openai-embeddings", fake.url("/v1/embeddings")), req({"input": "a"}))
    assert err.value.kind == ErrorKind.MALFORMED
    fake.reply("/v1/embeddings", Reply(json={"data": [{"index": 0}]}))
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("openai-embeddings", fake.url("/v1/embeddings")), req({"input": "a"}))
    assert err.value.kind == ErrorKind.MALFORMED


@pytest.mark.parametrize("data,inputs,says", [
    ([{"index": 0, "embedding": [1.0]}], ["a", "b", "c"], "the reply has 1 vector for 3 inputs"),
    ([{"index": 0, "embedding": "AAAAAA=="}], "a", "vector 1 of the reply is not a list of numbers")])
async def test_openai_embeddings_one_vector_of_numbers_per_input(fake, hub, data, inputs, says):
    fake.reply("/v1/embeddings", Reply(json={"data": data}))
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("openai-embeddings", fake.url("/v1/embeddings")), req({"input": inputs}))
    assert err.value.kind == ErrorKind.MALFORMED and says in str(err.value)


def http_spec(fake, **http):
    return make_spec("http", fake.url("/api/summarize"), model=None, provider="http", model_type="custom", http=http)


async def test_generic_http_template_headers_and_jmespath(fake, hub):
    fake.reply("/api/summarize", Reply(json={"result": {"items": [{"summary": "short"}]}}))
    s = http_spec(fake, method="PUT", headers={"X-Token": "Token {{key}}", "X-Static": "yes"},
                  body='{"doc": {{ input.text | tojson }}, "n": {{ input.n }}}', output="result.items[0].summary",
                  output_field="summary")
    result = await hub.call(s, req({"text": 'He said "hi"', "n": 2}))
    sent = fake.last
    assert sent.method == "PUT" and sent.headers["x-token"] == f"Token {SECRET}" and sent.headers["x-static"] == "yes"
    assert sent.json == {"doc": 'He said "hi"', "n": 2}
    assert result.output == {"summary": "short"}
    assert SECRET not in str(result.raw_request)


async def test_generic_http_sandbox_refuses_unsafe_template(fake, hub):
    s = http_spec(fake, body="{{ input.__class__.__mro__ }}")
    with pytest.raises(ProviderError) as err:
        await hub.call(s, req({"text": "x"}))
    assert err.value.kind == ErrorKind.INVALID_INPUT and fake.requests == []
    assert str(err.value).endswith("is unsafe.")  # one full stop, where the sandbox's own and ours made ".."


async def test_generic_http_template_naming_a_missing_field_is_invalid_input_and_costs_nothing(fake, hub):
    """`tojson` of a field the input lacks raised a TypeError, which read as the provider's malformed
    reply: recorded unpriced though nothing was sent, and retried."""
    s = http_spec(fake, body='{"q": {{ input.prompt | tojson }}}')
    with pytest.raises(ProviderError) as err:
        await hub.call(s, req({"text": "x"}))
    assert err.value.kind == ErrorKind.INVALID_INPUT and not err.value.retryable and fake.requests == []
    assert "'prompt'" in str(err.value) and "StrictUndefined" not in str(err.value)
    keyless = http_spec(fake, headers={"X-Token": "{{key}}"})
    keyless = keyless.model_copy(update={"key_ref": None})
    with pytest.raises(ProviderError) as err:
        await hub.call(keyless, req({"text": "x"}))
    assert err.value.kind == ErrorKind.KEY_MISSING and fake.requests == []
    assert [record.cost_usd for record, _, _ in hub.recorder.calls] == [0.0, 0.0]  # not sent: $0, not unpriced


async def test_generic_http_output_expression_finds_nothing(fake, hub):
    fake.reply("/api/summarize", Reply(json={"other": 1}))
    with pytest.raises(ProviderError) as err:
        await hub.call(http_spec(fake, output="result.text"), req({"text": "x"}))
    assert err.value.kind == ErrorKind.INVALID_OUTPUT and "result.text" in str(err.value)


@pytest.mark.parametrize("status,kind", ERRORS)
async def test_generic_http_errors(fake, hub, status, kind):
    fake.reply("/api/summarize", Reply(status=status, json={"message": "slow"}, headers={"retry-after": "4"} if status == 429 else {}))
    with pytest.raises(ProviderError) as err:
        await hub.call(http_spec(fake), req({"text": "x"}))
    assert err.value.kind == kind and err.value.retry_after_s == (4.0 if status == 429 else None)


async def test_generic_http_malformed_and_plain_input(fake, hub):
    fake.reply("/api/summarize", Reply(raw="<html>"))
    with pytest.raises(ProviderError) as err:
        await hub.call(http_spec(fake), req({"text": "x"}))
    assert err.value.kind == ErrorKind.MALFORMED
    fake.reply("/api/summarize", Reply(json=["a", "b"]))
    result = await hub.call(http_spec(fake), req({"text": "x"}))  # no template: the input is sent as JSON
    assert fake.last.json == {"text": "x"} and result.output == {"text": ["a", "b"]}


async def test_local_adapter_runs_a_real_model(hub):
    s = make_spec("local", None, model="vader-sentiment", key_ref=None, model_type="classifier",
                  prices={"perCall": 0.0})
    result = await hub.call(s, req({"text": "I love this wonderful phone, it is great!"}))
    assert result.output["label"] == "positive"
    assert result.cost.usd == 0.0 and result.usage.source == "none"
    with pytest.raises(ProviderError) as err:
        await hub.call(s, req({"text": 5}))
    assert err.value.kind == ErrorKind.INVALID_INPUT


async def test_local_unknown_model(hub):
    s = make_spec("local", None, model="no-such", key_ref=None)
    with pytest.raises(ProviderError) as err:
        await hub.call(s, req({"text": "x"}))
    assert err.value.kind == ErrorKind.NOT_FOUND
    assert (await hub.check(s)).state == "error"


async def test_generic_http_health_probe_is_a_get(fake, hub):
    s = http_spec(fake, headers={"Authorization": "Bearer {{key}}"}, body='{"x": 1}')
    fake.reply("/api/summarize", Reply(status=405, json={"detail": "Method Not Allowed"}))
    assert (await hub.check(s)).state == "ok"
    assert fake.last.method == "GET" and fake.last.headers["authorization"] == f"Bearer {SECRET}"
    fake.reply("/api/summarize", Reply(status=403, json={"detail": "forbidden"}))
    assert (await hub.check(s)).state == "auth_failed"
    fake.reply("/api/summarize", Reply(status=500, json={"detail": "down"}))
    assert (await hub.check(s)).state == "error"
