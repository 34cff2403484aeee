"""The official `anthropic` SDK against the studio's /v1/messages, over loopback fakes: a Claude
client calling an OpenAI-format model (tools, images, system), streamed text, a pipeline, and
errors in Anthropic's shape."""

from __future__ import annotations

import json

import anthropic
import pytest

from tests.fakes.provider_server import Reply, sse, sse_events
from tests.gateway.conftest import ANTHROPIC_PATH, OPENAI_PATH, SECRET
from tests.gateway.test_sdk_openai import openai_tool_reply, text_reply

TOOL = {"name": "weather", "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_tools_round_trip_to_an_openai_model(claude, fake):
    fake.reply(OPENAI_PATH, Reply(json=openai_tool_reply()))
    msg = claude.messages.create(model="loop/openai", max_tokens=100, system="Be brief.", tools=[TOOL],
                                 tool_choice={"type": "tool", "name": "weather"},
                                 messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert msg.stop_reason == "tool_use"
    use = [b for b in msg.content if b.type == "tool_use"][0]
    assert use.name == "weather" and use.input == {"city": "Paris"} and use.id == "call_1"
    assert msg.usage.cache_read_input_tokens == 8 and msg.usage.input_tokens == 12
    sent = fake.last.json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["tools"][0]["function"]["parameters"] == TOOL["input_schema"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert sent["max_completion_tokens"] == 100

    fake.reply(OPENAI_PATH, Reply(json=text_reply("21 degrees")))
    msg = claude.messages.create(model="loop/openai", max_tokens=100, tools=[TOOL], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "21C"}]}])
    assert msg.content[0].text == "21 degrees" and msg.stop_reason == "end_turn"
    turns = fake.last.json["messages"]
    assert turns[1]["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"city": "Paris"}'}
    assert turns[2] == {"role": "tool", "tool_call_id": "call_1", "content": "21C"}


def test_images_reach_the_model(claude, fake):
    fake.reply(OPENAI_PATH, Reply(json=text_reply("A cat")))
    claude.messages.create(model="loop/openai", max_tokens=10, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is it?"}]}])
    parts = fake.last.json["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}} in parts
    assert {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}} in parts


def test_streamed_text_from_an_openai_model(claude, fake):
    part = lambda t: {"id": "c", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
    fake.reply(OPENAI_PATH, Reply(chunks=sse(part("Bon"), part("jour"),
                                             {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                              "usage": {"prompt_tokens": 3, "completion_tokens": 2}})))
    with claude.messages.stream(model="loop/openai", max_tokens=10,
                                messages=[{"role": "user", "content": "Hello in French"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Bonjour" and final.stop_reason == "end_turn" and final.usage.output_tokens == 2


def test_claude_to_claude_passes_through(claude, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "Hi"}],
                                           "usage": {"input_tokens": 2, "output_tokens": 1}}))
    msg = claude.messages.create(model="loop/claude", max_tokens=5, stop_sequences=["END"], extra_body={"temperature": 0.1},
                                 metadata={"user_id": "u-7"}, messages=[{"role": "user", "content": "Hi"}])
    assert msg.content[0].text == "Hi"
    sent = fake.last.json
    assert sent["max_tokens"] == 5 and sent["temperature"] == 0.1 and sent["stop_sequences"] == ["END"] and sent["metadata"] == {"user_id": "u-7"}


def test_claude_to_claude_keeps_its_stop_sequence_cache_usage_and_system_blocks(claude, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={
        "id": "m", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "stop_sequence", "stop_sequence": "END",
        "usage": {"input_tokens": 5, "output_tokens": 1, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 3}}))
    msg = claude.messages.create(model="loop/claude", max_tokens=10, stop_sequences=["END"],
                                 system=[{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in English."}],
                                 messages=[{"role": "user", "content": "hi"}])
    assert (msg.stop_reason, msg.stop_sequence) == ("stop_sequence", "END")
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.cache_creation_input_tokens) == (5, 2, 3)
    assert fake.last.json["system"] == "You are terse.\nAnswer in English."

    fake.reply(ANTHROPIC_PATH, Reply(chunks=sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 5}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "pause_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 1}}),
        ("message_stop", {"type": "message_stop"}))))
    with claude.messages.stream(model="loop/claude", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "pause_turn" and final.content[0].text == "Hi"


def test_claudes_own_fields_reach_a_claude_model_as_they_are(claude, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "Hi"}],
                                           "usage": {"input_tokens": 2, "output_tokens": 1}}))
    claude.messages.create(model="loop/claude", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
                           service_tier="auto", extra_body={"top_k": 5}, messages=[{"role": "user", "content": "Hi"}])
    sent = fake.last.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024} and sent["top_k"] == 5
    assert sent["service_tier"] == "auto"


def test_prompt_cache_marks_reach_a_claude_model_and_no_other(claude, fake):
    """cache_control was dropped everywhere (system blocks flattened to a string): prompt caching
    could not be used through the gateway even from Claude to Claude."""
    mark = {"type": "ephemeral"}
    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "Hi"}],
                                           "usage": {"input_tokens": 2, "output_tokens": 1}}))
    system = [{"type": "text", "text": "A long manual…", "cache_control": mark}, {"type": "text", "text": "Be brief."}]
    ask = [{"role": "user", "content": [{"type": "text", "text": "A long document…", "cache_control": mark},
                                        {"type": "text", "text": "Summarise it."}]}]
    claude.messages.create(model="loop/claude", max_tokens=50, system=system, messages=ask)
    sent = fake.last.json
    assert sent["system"] == [{"type": "text", "text": "A long manual…", "cache_control": mark},
                              {"type": "text", "text": "Be brief."}]
    assert sent["messages"][0]["content"][0] == {"type": "text", "text": "A long document…", "cache_control": mark}

    fake.reply(OPENAI_PATH, Reply(json=text_reply("Hi")))
    claude.messages.create(model="loop/openai", max_tokens=50, system=system, messages=ask)
    sent = fake.last.json
    assert "cache_control" not in json.dumps(sent)
    assert sent["messages"][0] == {"role": "system", "content": "A long manual…\nBe brief."}


def test_a_failed_tool_result_stays_failed_for_claude(claude, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "Sorry"}],
                                           "usage": {"input_tokens": 2, "output_tokens": 1}}))
    claude.messages.create(model="loop/claude", max_tokens=50, tools=[TOOL], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "service down",
                                      "is_error": True}]}])
    result = fake.last.json["messages"][2]["content"][0]
    assert result == {"type": "tool_result", "tool_use_id": "tu_1", "content": "service down", "is_error": True}


def test_models_in_anthropics_shape(claude):
    models = claude.models.list()
    ids = [m.id for m in models.data]
    assert "loop/claude" in ids and "pipeline/review-triage" in ids
    claude_model = next(m for m in models.data if m.id == "loop/claude")
    assert claude_model.type == "model" and claude_model.display_name == "Claude" and claude_model.created_at.year > 2000
    assert claude.models.retrieve("pipeline/review-triage").display_name
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.models.retrieve("no/such")
    assert e.value.body["error"]["type"] == "not_found_error"


def test_a_pipeline_and_errors_in_anthropics_shape(claude, fake):
    msg = claude.messages.create(model="pipeline/review-triage", max_tokens=100, messages=[
        {"role": "user", "content": "Le personnel était charmant mais le petit déjeuner était froid."}])
    assert '"French"' in msg.content[0].text
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="no/such", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError, match="top_k"):
        claude.messages.create(model="loop/openai", max_tokens=5, extra_body={"top_k": 3}, messages=[{"role": "user", "content": "x"}])
    fake.reply(OPENAI_PATH, Reply(status=429, json={"error": {"message": "slow", "type": "rate_limit"}},
                                  headers={"retry-after": "3"}))
    with pytest.raises(anthropic.RateLimitError) as e:
        with claude.messages.stream(model="loop/openai", max_tokens=5,
                                    messages=[{"role": "user", "content": "x"}]) as stream:
            list(stream.text_stream)
    assert e.value.response.headers["retry-after"] == "3"


def test_errors_in_the_shapes_and_classes_of_anthropics_sdk(claude, server, fake):
    fake.reply(ANTHROPIC_PATH, Reply(status=529, json={"type": "error", "error": {"type": "overloaded_error",
                                                                                  "message": "Overloaded"}}))
    with pytest.raises(anthropic.OverloadedError) as e:
        claude.messages.create(model="loop/claude", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"
    with anthropic.Anthropic(base_url=server, api_key="not-the-token", max_retries=0) as stranger:
        with pytest.raises(anthropic.AuthenticationError) as e:
            stranger.messages.create(model="loop/claude", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.count_tokens(model="loop/nobody", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"


def test_a_claude_model_counts_its_own_tokens_and_no_other_is_guessed(claude, fake):
    """The SDK's count_tokens was a 404: a Claude model's count is now its provider's own (the
    request as sent, under the provider's model name, with the key); other models are refused in
    one sentence rather than estimated with another tokenizer."""
    fake.reply(ANTHROPIC_PATH + "/count_tokens", Reply(json={"input_tokens": 42}))
    before = len(fake.requests)
    counted = claude.messages.count_tokens(model="loop/claude", system="Be brief.",
                                           messages=[{"role": "user", "content": "How many?"}])
    assert counted.input_tokens == 42
    sent = fake.requests[before]
    assert sent.path == ANTHROPIC_PATH + "/count_tokens" and sent.json["model"] == "claude-test"
    assert sent.json["system"] == "Be brief." and sent.headers.get("x-api-key") == SECRET
    for model in ("loop/openai", "pipeline/review-triage"):
        with pytest.raises(anthropic.BadRequestError) as e:
            claude.messages.count_tokens(model=model, messages=[{"role": "user", "content": "x"}])
        assert "count_tokens is answered for Claude models" in e.value.body["error"]["message"]


def test_a_stream_that_fails_after_its_first_token_ends_with_an_error_event_and_no_secret(claude, fake):
    part = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Bon"}, "finish_reason": None}]}
    failure = {"error": {"message": f"upstream broke while using {SECRET}", "type": "server_error"}}
    fake.reply(OPENAI_PATH, Reply(delay_s=0.05, chunks=sse(part, failure, done=False)))
    seen = []
    with pytest.raises(anthropic.APIError) as e:
        with claude.messages.stream(model="loop/openai", max_tokens=10,
                                    messages=[{"role": "user", "content": "Hello in French"}]) as stream:
            for text in stream.text_stream:
                seen.append(text)
    assert "".join(seen) == "Bon"
    assert "upstream broke" in str(e.value) and SECRET not in str(e.value)
