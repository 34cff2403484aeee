"""The official `openai` SDK's Responses API (`client.responses.create` / `.stream`) against the
running studio, over the loopback fakes: text, streamed text through the SDK's own event
accumulator, a function-call round trip, structured output, and what the studio refuses."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.provider_server import Reply, sse
from tests.gateway.conftest import ANTHROPIC_PATH, OPENAI_PATH
from tests.gateway.test_sdk_openai import text_reply

WEATHER = {"type": "function", "name": "weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_text_with_instructions_and_usage(oai, fake):
    fake.reply(OPENAI_PATH, Reply(json=text_reply("Bonjour")))
    r = oai.responses.create(model="loop/openai", instructions="Answer in French.", input="Hello",
                             max_output_tokens=50, temperature=0.2)
    assert r.output_text == "Bonjour" and r.status == "completed" and r.model == "loop/openai"
    assert r.usage.input_tokens == 30 and r.usage.output_tokens == 2 and r.usage.total_tokens == 32
    sent = fake.last.json
    assert sent["messages"] == [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hello"}]
    assert sent["max_completion_tokens"] == 50 and sent["temperature"] == 0.2


def test_streamed_text_through_the_sdks_own_accumulator(oai, fake):
    part = lambda t: {"id": "c", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}  # noqa: E731
    fake.reply(OPENAI_PATH, Reply(chunks=sse(part("Bon"), part("jour"),
                                             {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                                             {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}})))
    with oai.responses.stream(model="loop/openai", input="Hello in French") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Bonjour" and final.output_text == "Bonjour" and final.status == "completed"
    assert final.usage.output_tokens == 2


def test_a_function_call_round_trip_to_claude(oai, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json={
        "id": "m", "type": "message", "role": "assistant", "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Paris"}}],
        "usage": {"input_tokens": 9, "output_tokens": 4}}))
    r = oai.responses.create(model="loop/claude", input="Weather in Paris?", tools=[WEATHER], tool_choice="required")
    call = next(item for item in r.output if item.type == "function_call")
    assert call.name == "weather" and json.loads(call.arguments) == {"city": "Paris"} and call.call_id == "tu_1"
    assert fake.last.json["tool_choice"] == {"type": "any"}

    fake.reply(ANTHROPIC_PATH, Reply(json={"id": "m", "type": "message", "role": "assistant", "stop_reason": "end_turn",
                                           "content": [{"type": "text", "text": "21C in Paris"}],
                                           "usage": {"input_tokens": 12, "output_tokens": 4}}))
    r = oai.responses.create(model="loop/claude", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "tu_1", "name": "weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "tu_1", "output": '{"temp": 21}'}])
    assert r.output_text == "21C in Paris"
    turns = fake.last.json["messages"]
    assert turns[1]["content"][0] == {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"city": "Paris"}}
    assert turns[2]["content"][0] == {"type": "tool_result", "tool_use_id": "tu_1", "content": '{"temp": 21}'}


def test_streamed_function_call_and_structured_output(oai, fake):
    piece = lambda tc, finish=None: {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": tc} if tc else {},  # noqa: E731
                                                             "finish_reason": finish}]}
    fake.reply(OPENAI_PATH, Reply(chunks=sse(
        piece([{"index": 0, "id": "call_9", "type": "function", "function": {"name": "weather", "arguments": ""}}]),
        piece([{"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}]), piece(None, "tool_calls"),
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}})))
    with oai.responses.stream(model="loop/openai", input="Weather in Oslo?", tools=[WEATHER]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "weather" and json.loads(call.arguments) == {"city": "Oslo"} and call.call_id == "call_9"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.function_call_arguments.done" in kinds

    schema = {"type": "object", "properties": {"mood": {"type": "string"}}, "required": ["mood"], "additionalProperties": False}
    fake.reply(OPENAI_PATH, Reply(json=text_reply('{"mood": "calm"}')))
    r = oai.responses.create(model="loop/openai", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "How do I feel?"}]}],
        text={"format": {"type": "json_schema", "name": "mood", "schema": schema, "strict": True}})
    assert json.loads(r.output_text) == {"mood": "calm"}
    assert fake.last.json["response_format"] == {"type": "json_schema", "json_schema": {"name": "mood", "schema": schema,
                                                                                        "strict": True}}


def test_what_the_studio_cannot_keep_or_run_is_refused_in_a_sentence(oai):
    with pytest.raises(openai.BadRequestError, match="keeps no responses"):
        oai.responses.create(model="loop/openai", input="Hi", previous_response_id="resp_1")
    with pytest.raises(openai.BadRequestError, match="'web_search' are not run by the studio"):
        oai.responses.create(model="loop/openai", input="Hi", tools=[{"type": "web_search"}])
    with pytest.raises(openai.BadRequestError, match="'truncation' is not a Responses parameter"):
        oai.responses.create(model="loop/openai", input="Hi", truncation="auto")
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model="no/such", input="Hi")


def test_a_pipeline_answers_the_responses_api(oai):
    r = oai.responses.create(model="pipeline/review-triage",
                             input="Le personnel était charmant mais le petit déjeuner était froid.")
    assert json.loads(r.output_text)["language"] == "French"


def test_a_stream_that_fails_after_its_first_text_ends_failed_and_names_no_secret(oai, fake):
    from tests.gateway.conftest import SECRET

    part = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Bon"}, "finish_reason": None}]}
    failure = {"error": {"message": f"upstream broke while using {SECRET}", "type": "server_error"}}
    fake.reply(OPENAI_PATH, Reply(delay_s=0.05, chunks=sse(part, failure, done=False)))
    events = list(oai.responses.create(model="loop/openai", input="Hello in French", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Bon"
    assert "upstream broke" in events[-2].message and SECRET not in events[-2].message
    assert events[-1].response.status == "failed"
