"""The official `openai` SDK against the running studio, over loopback fakes speaking OpenAI,
the HF router, Anthropic and Gemini: tool round trips, images, structured output, refused or
dropped parameters, errors before the first streamed token, models/{id}, embeddings, 404s."""

from __future__ import annotations

import base64
import json
import struct

import openai
import pytest

from tests.fakes.provider_server import Reply, sse, sse_events
from tests.gateway.conftest import (ANTHROPIC_PATH, EMBED_PATH, GEMINI_PATH, GEMINI_STREAM_PATH, HF_PATH, OLLAMA_PATH,
                                    OPENAI_PATH, SECRET)

WEATHER = {"type": "function", "function": {"name": "weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]
PNG = "data:image/png;base64,iVBORw0KGgo="


def openai_tool_reply():
    return {"id": "chatcmpl-t", "object": "chat.completion", "model": "gpt-test",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}]}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 2}}}


def text_reply(text="Sunny"):
    return {"id": "chatcmpl-x", "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 2}}


def round_trip_messages(call):
    return ASK + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                  {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'}]


def test_tool_round_trip_through_openai(oai, fake):
    fake.reply(OPENAI_PATH, Reply(json=openai_tool_reply()))
    r = oai.chat.completions.create(model="loop/openai", messages=ASK, tools=[WEATHER], tool_choice="auto",
                                    parallel_tool_calls=False)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls[0].function.name == "weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert r.usage.prompt_tokens_details.cached_tokens == 8 and r.usage.completion_tokens_details.reasoning_tokens == 2
    sent = fake.last.json
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False

    fake.reply(OPENAI_PATH, Reply(json=text_reply()))
    r = oai.chat.completions.create(model="loop/openai", messages=round_trip_messages(choice.message.tool_calls[0]),
                                    tools=[WEATHER])
    assert r.choices[0].message.content == "Sunny"
    sent = fake.last.json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1" and sent[2] == {"role": "tool", "tool_call_id": "call_1",
                                                                      "content": '{"temp": 21}'}


def test_streamed_tool_call_deltas_from_openai(oai, fake):
    piece = lambda tc, finish=None: {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": tc} if tc else {},
                                                             "finish_reason": finish}]}
    fake.reply(OPENAI_PATH, Reply(chunks=sse(
        piece([{"index": 0, "id": "call_9", "type": "function", "function": {"name": "weather", "arguments": ""}}]),
        piece([{"index": 0, "function": {"arguments": '{"city": '}}]),
        piece([{"index": 0, "function": {"arguments": '"Oslo"}'}}]),
        piece(None, "tool_calls"),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}})))
    stream = oai.chat.completions.create(model="loop/openai", messages=ASK, tools=[WEATHER], stream=True,
                                         stream_options={"include_usage": True})
    calls, finish, usage = {}, None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                slot = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = d.id or slot["id"]
                slot["name"] += (d.function.name or "") if d.function else ""
                slot["arguments"] += (d.function.arguments or "") if d.function else ""
    assert calls == {0: {"id": "call_9", "name": "weather", "arguments": '{"city": "Oslo"}'}}
    assert finish == "tool_calls" and usage.prompt_tokens == 9 and usage.completion_tokens == 4


def test_tool_round_trip_through_anthropic(oai, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={
        "id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
        "usage": {"input_tokens": 12, "output_tokens": 6, "cache_read_input_tokens": 3}}))
    r = oai.chat.completions.create(model="loop/claude", messages=ASK, tools=[WEATHER], tool_choice="required")
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.id == "toolu_1"
    assert json.loads(call.function.arguments) == {"city": "Paris"} and r.choices[0].message.content == "Let me look."
    assert r.usage.prompt_tokens_details.cached_tokens == 3
    sent = fake.last.json
    assert sent["tools"] == [{"name": "weather", "description": "Weather in a city",
                              "input_schema": WEATHER["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "any"}

    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "msg_2", "type": "message", "role": "assistant",
                                           "stop_reason": "max_tokens", "content": [{"type": "text", "text": "21"}],
                                           "usage": {"input_tokens": 30, "output_tokens": 1}}))
    r = oai.chat.completions.create(model="loop/claude", messages=round_trip_messages(call), tools=[WEATHER])
    assert r.choices[0].finish_reason == "length"
    turns = fake.last.json["messages"]
    assert turns[1]["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]
    assert turns[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                                     "content": '{"temp": 21}'}]}


def test_streamed_tool_call_from_anthropic(oai, fake):
    fake.reply(ANTHROPIC_PATH, Reply(chunks=sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 5}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "tool_use", "id": "toolu_s", "name": "weather", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"city":'}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": ' "Rome"}'}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}))))
    chunks = list(oai.chat.completions.create(model="loop/claude", messages=ASK, tools=[WEATHER], stream=True))
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or []]
    assert deltas and deltas[0].id == "toolu_s" and deltas[0].function.name == "weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Rome"}
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]


def test_images_as_url_and_data_url_reach_anthropic(oai, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "A cat"}],
                                           "usage": {"input_tokens": 1, "output_tokens": 2}}))
    oai.chat.completions.create(model="loop/claude", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": PNG}}]}])
    blocks = fake.last.json["messages"][0]["content"]
    assert {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}} in blocks
    assert {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}} in blocks
    assert {"type": "text", "text": "What is this?"} in blocks


def test_images_reach_openai_as_content_parts(oai, fake):
    fake.reply(OPENAI_PATH, Reply(json=text_reply("A dog")))
    oai.chat.completions.create(model="loop/openai", messages=[{"role": "user", "content": [
        {"type": "text", "text": "What?"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert fake.last.json["messages"][0]["content"] == [{"type": "text", "text": "What?"},
                                                        {"type": "image_url", "image_url": {"url": PNG}}]


def test_text_and_images_keep_their_order_for_every_provider(oai, fake):
    """ "Context, image, question" must not reach a model as the image, then the two texts run together."""
    parts = [{"type": "text", "text": "Context: the sky is green."},
             {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
             {"type": "text", "text": "Question: what colour is it?"}]
    ask = [{"role": "user", "content": parts}]
    fake.reply(OPENAI_PATH, Reply(json=text_reply("Green")))
    oai.chat.completions.create(model="loop/openai", messages=ask)
    assert fake.last.json["messages"][0]["content"] == parts

    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "Green"}],
                                           "usage": {"input_tokens": 1, "output_tokens": 1}}))
    oai.chat.completions.create(model="loop/claude", messages=ask)
    assert [b["type"] for b in fake.last.json["messages"][0]["content"]] == ["text", "image", "text"]
    assert fake.last.json["messages"][0]["content"][2] == {"type": "text", "text": "Question: what colour is it?"}

    fake.reply(GEMINI_PATH, Reply(json={"candidates": [{"content": {"parts": [{"text": "Green"}]}, "finishReason": "STOP"}]}))
    oai.chat.completions.create(model="loop/gemini", messages=ask)
    assert [next(iter(p)) for p in fake.last.json["contents"][0]["parts"]] == ["text", "inlineData", "text"]

    fake.reply(OLLAMA_PATH, Reply(json={"model": "o", "message": {"role": "assistant", "content": "Green"}, "done": True}))
    oai.chat.completions.create(model="loop/ollama", messages=ask)
    sent = fake.last.json["messages"][0]
    assert sent["content"] == "Context: the sky is green.\nQuestion: what colour is it?" and sent["images"] == ["iVBORw0KGgo="]


def test_structured_output_maps_to_gemini_and_passes_to_openai(oai, fake):
    schema = {"type": "object", "properties": {"mood": {"type": "string"}}, "required": ["mood"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "mood", "schema": schema}}
    fake.reply(GEMINI_PATH, Reply(json={"candidates": [{"content": {"parts": [{"text": '{"mood": "calm"}'}]},
                                                        "finishReason": "STOP"}],
                                        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3,
                                                          "thoughtsTokenCount": 2, "cachedContentTokenCount": 1}}))
    r = oai.chat.completions.create(model="loop/gemini", messages=ASK, response_format=fmt, presence_penalty=0.5)
    assert json.loads(r.choices[0].message.content) == {"mood": "calm"} and r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens_details.reasoning_tokens == 2
    config = fake.last.json["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == schema
    assert config["presencePenalty"] == 0.5

    fake.reply(OPENAI_PATH, Reply(json=text_reply('{"mood": "calm"}')))
    oai.chat.completions.create(model="loop/openai", messages=ASK, response_format={"type": "json_object"}, seed=3,
                                logit_bias={"42": -100}, user="u-1", metadata={"k": "v"}, reasoning_effort="low")
    sent = fake.last.json
    assert sent["response_format"] == {"type": "json_object"} and sent["logit_bias"] == {"42": -100}
    assert sent["user"] == "u-1" and sent["metadata"] == {"k": "v"} and sent["reasoning_effort"] == "low"


def test_unsupported_params_are_refused_or_dropped_on_request(oai, fake):
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="loop/claude", messages=ASK, logit_bias={"1": 1}, seed=4)
    message = e.value.body["message"]
    assert "'logit_bias'" in message and "'seed'" in message and "loop/claude" in message
    for model in ("loop/claude", "loop/hf", "loop/ollama"):  # none of them documents several choices
        with pytest.raises(openai.BadRequestError, match=f"'n' is not supported by {model}"):
            oai.chat.completions.create(model=model, messages=ASK, n=2)
    # nor log-probabilities, for Anthropic (the HF router and Ollama: test_choices_logprobs.py)
    with pytest.raises(openai.BadRequestError, match="'logprobs', 'top_logprobs' are not supported by loop/claude"):
        oai.chat.completions.create(model="loop/claude", messages=ASK, logprobs=True, top_logprobs=2)

    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "ok"}],
                                           "usage": {"input_tokens": 1, "output_tokens": 1}}))
    raw = oai.chat.completions.with_raw_response.create(
        model="loop/claude", messages=ASK, logit_bias={"1": 1}, seed=4, temperature=0.2,
        extra_headers={"x-iom-drop-params": "true"})
    assert raw.headers["x-iom-dropped-params"] == "seed,logit_bias"
    assert raw.parse().choices[0].message.content == "ok"
    sent = fake.last.json
    assert "seed" not in sent and "logit_bias" not in sent and sent["temperature"] == 0.2


def test_fields_the_studio_does_not_know_go_to_openai_itself_and_are_refused_elsewhere(oai, fake):
    """Frameworks send `store`, `service_tier`, `prompt_cache_key`: OpenAI's own API takes them,
    so they pass as they are; a model of another wire format cannot, so they are named in a 400."""
    fake.reply(OPENAI_PATH, Reply(json=text_reply("ok")))
    oai.chat.completions.create(model="loop/openai", messages=ASK, store=False, service_tier="flex",
                                prompt_cache_key="k-1", extra_body={"verbosity": "low"})
    sent = fake.last.json
    assert (sent["store"], sent["service_tier"], sent["prompt_cache_key"], sent["verbosity"]) == (False, "flex", "k-1", "low")
    with pytest.raises(openai.BadRequestError, match="'store' is not a Chat Completions parameter the studio can send to loop/claude"):
        oai.chat.completions.create(model="loop/claude", messages=ASK, store=False)
    with pytest.raises(openai.BadRequestError, match="'store' is not a Chat Completions parameter"):
        oai.chat.completions.create(model="pipeline/review-triage", messages=ASK, store=False)


def test_hf_router_gets_max_tokens(oai, fake):
    fake.reply(HF_PATH, Reply(json=text_reply("hi")))
    oai.chat.completions.create(model="loop/hf", messages=ASK, max_completion_tokens=11)
    assert fake.last.json["max_tokens"] == 11 and "max_completion_tokens" not in fake.last.json
    assert fake.last.headers["authorization"] == f"Bearer {SECRET}"


def test_a_stream_that_fails_before_its_first_token_keeps_the_real_status(oai, fake):
    fake.reply(OPENAI_PATH, Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}},
                                  headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as e:
        list(oai.chat.completions.create(model="loop/openai", messages=ASK, stream=True))
    assert e.value.status_code == 429 and e.value.response.headers["retry-after"] == "7"
    fake.reply(ANTHROPIC_PATH, Reply(status=529, json={"type": "error", "error": {"type": "overloaded_error",
                                                                                  "message": "busy"}}))
    with pytest.raises(openai.InternalServerError) as e:
        list(oai.chat.completions.create(model="loop/claude", messages=ASK, stream=True))
    assert e.value.status_code == 503


def test_a_refused_provider_key_is_not_retried_by_the_sdk(server, fake):
    """A 502 is retried twice by the SDK; a provider's 401 cannot succeed on another try."""
    from tests.gateway.conftest import TOKEN

    fake.reply(OPENAI_PATH, Reply(status=401, json={"error": {"message": "bad key", "code": "invalid_api_key"}}))
    before = len(fake.requests)
    with openai.OpenAI(base_url=server + "/v1", api_key=TOKEN, max_retries=2) as patient:
        with pytest.raises(openai.InternalServerError) as e:
            patient.chat.completions.create(model="loop/openai", messages=ASK)
    assert e.value.response.headers["x-should-retry"] == "false" and len(fake.requests) - before == 1
    fake.reply(OPENAI_PATH, Reply(status=429, json={"error": {"message": "You exceeded your current quota.",
                                                                "type": "insufficient_quota"}}))
    before = len(fake.requests)
    with openai.OpenAI(base_url=server + "/v1", api_key=TOKEN, max_retries=2) as patient:
        with pytest.raises(openai.RateLimitError) as e:
            patient.chat.completions.create(model="loop/openai", messages=ASK)
    assert e.value.response.headers["x-should-retry"] == "false" and len(fake.requests) - before == 1
    assert e.value.code == "quota_exhausted" and "credit" in e.value.message
    fake.reply(OPENAI_PATH, Reply(status=503, json={"error": {"message": "busy"}}), Reply(json=text_reply("Up")))
    with openai.OpenAI(base_url=server + "/v1", api_key=TOKEN, max_retries=2) as patient:
        assert patient.chat.completions.create(model="loop/openai", messages=ASK).choices[0].message.content == "Up"


def test_streamed_text_and_usage(oai, fake):
    part = lambda t: {"id": "c", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
    fake.reply(OPENAI_PATH, Reply(chunks=sse(part("Hel"), part("lo"),
                                             {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
                                             {"id": "c", "choices": [], "usage": {
                                                 "prompt_tokens": 10, "completion_tokens": 2,
                                                 "prompt_tokens_details": {"cached_tokens": 4}}})))
    chunks = list(oai.chat.completions.create(model="loop/openai", messages=ASK, stream=True,
                                              stream_options={"include_usage": True}))
    assert "".join(ch.delta.content or "" for c in chunks for ch in c.choices) == "Hello"
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["length"]
    assert chunks[-1].usage.prompt_tokens == 10 and chunks[-1].usage.prompt_tokens_details.cached_tokens == 4


def test_models_retrieve_embeddings_and_unknown_routes(oai, raw, fake):
    assert oai.models.retrieve("loop/claude").owned_by == "anthropic"
    assert oai.models.retrieve("pipeline/review-triage").id == "pipeline/review-triage"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no/such")
    fake.reply(EMBED_PATH, Reply(json={"object": "list", "data": [{"index": 0, "embedding": [0.1, 0.2]},
                                                                  {"index": 1, "embedding": [0.3, 0.4]}],
                                       "usage": {"prompt_tokens": 4, "total_tokens": 4}}))
    r = oai.embeddings.create(model="loop/embed", input=["a", "b"], encoding_format="float")
    assert [d.embedding for d in r.data] == [[0.1, 0.2], [0.3, 0.4]] and r.usage.prompt_tokens == 4
    # the SDK's default asks for base64 (float32, little-endian) and decodes it itself
    r = oai.embeddings.create(model="loop/embed", input=["a", "b"])
    assert [x for d in r.data for x in d.embedding] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    sent = raw.post("/embeddings", json={"model": "loop/embed", "input": ["a", "b"], "encoding_format": "base64"}).json()
    assert struct.unpack("<2f", base64.b64decode(sent["data"][0]["embedding"])) == pytest.approx((0.1, 0.2))
    with pytest.raises(openai.BadRequestError, match="encoding_format 'int8'"):
        oai.embeddings.create(model="loop/embed", input="a", encoding_format="int8")
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        oai.embeddings.create(model="loop/openai", input="a")
    for method, path in (("GET", "/files"), ("POST", "/assistants"), ("GET", "/no/such/thing")):
        r = raw.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert "error" in r.json() and "<html" not in r.text.lower()


def test_the_text_shorthand_pipeline_still_works(oai):
    r = oai.chat.completions.create(model="pipeline/review-triage", messages=[
        {"role": "user", "content": "Le personnel était charmant mais le petit déjeuner était froid."}])
    assert json.loads(r.choices[0].message.content)["language"] == "French"
    with pytest.raises(openai.BadRequestError, match="pipeline"):
        oai.chat.completions.create(model="pipeline/review-triage", messages=ASK, temperature=0.5)


def test_tool_round_trip_through_gemini(oai, fake):
    fake.reply(GEMINI_PATH, Reply(json={"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4}}))
    r = oai.chat.completions.create(model="loop/gemini", messages=ASK, tools=[WEATHER],
                                    tool_choice={"type": "function", "function": {"name": "weather"}})
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"city": "Paris"}
    sent = fake.last.json
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "weather"
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}}

    fake.reply(GEMINI_PATH, Reply(json={"candidates": [{"content": {"parts": [{"text": "21C"}]},
                                                        "finishReason": "MAX_TOKENS"}]}))
    r = oai.chat.completions.create(model="loop/gemini", messages=round_trip_messages(call), tools=[WEATHER])
    assert r.choices[0].message.content == "21C" and r.choices[0].finish_reason == "length"
    contents = fake.last.json["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {"name": "weather",
                                                                           "response": {"temp": 21}}}]}


def test_streamed_tool_call_from_gemini(oai, fake):
    fake.reply(GEMINI_STREAM_PATH, Reply(chunks=sse(
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}]},
                         "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}},
        done=False)))
    chunks = list(oai.chat.completions.create(model="loop/gemini", messages=ASK, tools=[WEATHER], stream=True))
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or []]
    assert [d.function.name for d in deltas] == ["weather"] and json.loads(deltas[0].function.arguments) == {"city": "Oslo"}
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["tool_calls"]


def test_tool_round_trip_and_json_format_through_ollama(oai, fake):
    fake.reply(OLLAMA_PATH, Reply(json={"model": "llama3", "done": True, "done_reason": "stop",
                                        "message": {"role": "assistant", "content": "", "tool_calls": [
                                            {"function": {"name": "weather", "arguments": {"city": "Lima"}}}]},
                                        "prompt_eval_count": 7, "eval_count": 3}))
    r = oai.chat.completions.create(model="loop/ollama", messages=ASK, tools=[WEATHER])
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"city": "Lima"}
    assert fake.last.json["tools"] == [WEATHER]

    fake.reply(OLLAMA_PATH, Reply(json={"model": "llama3", "done": True, "done_reason": "stop",
                                        "message": {"role": "assistant", "content": '{"temp": 21}'}}))
    schema = {"type": "object", "properties": {"temp": {"type": "number"}}}
    oai.chat.completions.create(model="loop/ollama", messages=round_trip_messages(call), tools=[WEATHER],
                                response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": schema}})
    sent = fake.last.json
    assert sent["format"] == schema
    assert sent["messages"][1]["tool_calls"] == [{"function": {"name": "weather", "arguments": {"city": "Lima"}}}]
    assert sent["messages"][2] == {"role": "tool", "content": '{"temp": 21}', "tool_name": "weather"}
    with pytest.raises(openai.BadRequestError, match="'tool_choice'"):
        oai.chat.completions.create(model="loop/ollama", messages=ASK, tools=[WEATHER], tool_choice="required")


def test_a_stream_that_fails_after_its_first_token_ends_with_an_error_event_and_no_secret(oai, fake):
    """After the first token the status is already 200: the failure arrives as the stream's
    last event, in the API's error shape, the provider's text redacted, the text before it kept."""
    part = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
    failure = {"error": {"message": f"upstream broke while using {SECRET}", "type": "server_error"}}
    fake.reply(OPENAI_PATH, Reply(delay_s=0.05, chunks=sse(part, failure, done=False)))
    seen = []
    with pytest.raises(openai.APIError) as e:
        for chunk in oai.chat.completions.create(model="loop/openai", messages=ASK, stream=True):
            seen += [c.delta.content or "" for c in chunk.choices]
    assert "".join(seen) == "Hel"
    assert "upstream broke" in str(e.value) and SECRET not in str(e.value)
