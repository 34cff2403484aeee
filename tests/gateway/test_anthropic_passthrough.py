"""Claude through /v1/messages beyond plain text: extended thinking both ways (plain and streamed),
images in tool results, the default max_tokens, a stream's late failure type, and the usage
recorded for a stream the client hung up on."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import pytest

from tests.fakes.provider_server import GATE, Reply, sse, sse_events
from tests.gateway.conftest import ANTHROPIC_PATH, OPENAI_PATH, TOKEN
from tests.gateway.test_request_ids import read
from tests.gateway.test_sdk_openai import text_reply

TOOL = {"name": "weather", "description": "d", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
THINK = {"type": "thinking", "thinking": "Paris: use the tool.", "signature": "sig-abc=="}
REDACTED = {"type": "redacted_thinking", "data": "opaque=="}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAAHxXEiQAAAA1JREFUeJxjYAAAAgABAOIhvDMAAAAASUVORK5CYII="
ASK = [{"role": "user", "content": "Weather in Paris?"}]


def claude_doc(*content, stop="end_turn"):
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": stop,
            "content": list(content), "usage": {"input_tokens": 5, "output_tokens": 9}}


def test_thinking_blocks_come_back_and_go_back_to_claude(claude, fake):
    use = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
    fake.reply(ANTHROPIC_PATH, Reply(json=claude_doc(THINK, REDACTED, {"type": "text", "text": "Checking."}, use,
                                                     stop="tool_use")))
    msg = claude.messages.create(model="loop/claude", max_tokens=2000, tools=[TOOL], messages=ASK,
                                 thinking={"type": "enabled", "budget_tokens": 1024})
    assert [b.type for b in msg.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert msg.content[0].signature == "sig-abc==" and msg.content[1].data == "opaque=="

    fake.reply(ANTHROPIC_PATH, Reply(json=claude_doc({"type": "text", "text": "Sunny."})))
    claude.messages.create(model="loop/claude", max_tokens=2000, tools=[TOOL],
                           thinking={"type": "enabled", "budget_tokens": 1024}, messages=[
        *ASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}])
    sent = fake.last.json["messages"][1]
    assert sent["role"] == "assistant" and sent["content"][:2] == [THINK, REDACTED]
    assert [b["type"] for b in sent["content"]] == ["thinking", "redacted_thinking", "text", "tool_use"]


def test_thinking_streams_as_claude_streams_it(claude, fake, server):
    fake.reply(ANTHROPIC_PATH, Reply(chunks=sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm, "}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "sunny."}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Sunny"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}))))
    with claude.messages.stream(model="loop/claude", max_tokens=2000, messages=ASK,
                                thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert kinds == ["thinking_delta", "thinking_delta", "signature_delta", "text_delta"]
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert (final.content[0].thinking, final.content[0].signature, final.content[1].text) == ("Hm, sunny.", "sig==", "Sunny")


def test_thinking_blocks_are_dropped_for_another_model_and_said(claude, fake):
    fake.reply(OPENAI_PATH, Reply(json=text_reply("Sunny")))
    raw = claude.messages.with_raw_response.create(model="loop/openai", max_tokens=50, messages=[
        *ASK, {"role": "assistant", "content": [THINK, {"type": "text", "text": "Let me see."}]},
        {"role": "user", "content": "And?"}])
    assert raw.parse().content[0].text == "Sunny"
    assert raw.headers["x-iom-dropped-params"] == "thinking blocks"
    assert fake.last.json["messages"][1] == {"role": "assistant", "content": "Let me see."}


def _tool_result_with_image():
    return [*ASK, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}]


def test_an_image_in_a_tool_result_reaches_claude(claude, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json=claude_doc({"type": "text", "text": "A dot."})))
    claude.messages.create(model="loop/claude", max_tokens=50, tools=[TOOL], messages=_tool_result_with_image())
    result = fake.last.json["messages"][2]["content"][0]
    assert result["type"] == "tool_result" and result["content"] == [
        {"type": "text", "text": "see"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]


def test_an_image_in_a_tool_result_is_refused_for_another_model(claude, fake):
    before = len(fake.requests)
    with pytest.raises(anthropic.BadRequestError) as e:
        claude.messages.create(model="loop/openai", max_tokens=50, tools=[TOOL], messages=_tool_result_with_image())
    assert "cannot take an image in a tool result" in e.value.message and len(fake.requests) == before


def test_claude_without_max_tokens_gets_more_than_1024(oai, fake):
    fake.reply(ANTHROPIC_PATH, Reply(json=claude_doc({"type": "text", "text": "Hi"})))
    oai.chat.completions.create(model="loop/claude", messages=ASK)
    assert fake.last.json["max_tokens"] == 4096  # the most every Claude model accepts (README)


def test_a_late_stream_failure_keeps_claudes_error_type(raw, fake):
    fake.reply(ANTHROPIC_PATH, Reply(chunks=sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))))
    with raw.stream("POST", "/messages", json={"model": "loop/claude", "max_tokens": 10, "stream": True,
                                               "messages": ASK}) as r:
        body = r.read().decode()
    error = [json.loads(block.split("data: ", 1)[1]) for block in body.split("\n\n") if block.startswith("event: error")]
    assert error and error[0]["error"]["type"] == "overloaded_error"


def _hang_up(server, path, body, fake) -> dict:
    """Stream until the first text, hang up while the provider holds the rest; the call's record."""
    fake.gate.clear()
    try:
        with httpx.stream("POST", server + path, json=body, headers={"authorization": f"Bearer {TOKEN}"},
                          timeout=10) as r:
            call_id = r.headers["x-request-id"]
            for line in r.iter_lines():
                if "Hel" in line:
                    break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            calls = {c["id"]: c for c in read(server, "recent_calls", {"filters": {}}, 50)}
            if call_id in calls:
                return calls[call_id]
            time.sleep(0.1)
        pytest.fail("the cancelled call was not recorded")
    finally:
        fake.gate.set()


def test_a_cancelled_claude_stream_keeps_the_usage_claude_said(server, fake):
    fake.reply(ANTHROPIC_PATH, Reply(chunks=[*sse_events(
        ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 13, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}})),
        GATE]))
    call = _hang_up(server, "/v1/messages", {"model": "loop/claude", "max_tokens": 10, "stream": True, "messages": ASK}, fake)
    assert (call["error_class"], call["input_tokens"], call["output_tokens"]) == ("cancelled", 13, 1)
    assert call["cost_usd"] == pytest.approx(13 * 1e-6 + 1 * 2e-6)


def test_a_cancelled_openai_stream_knows_no_usage_and_stays_unpriced(server, fake):
    part = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}
    fake.reply(OPENAI_PATH, Reply(chunks=[*sse(part, done=False), GATE]))
    call = _hang_up(server, "/v1/chat/completions", {"model": "loop/openai", "stream": True, "messages": ASK}, fake)
    assert (call["error_class"], call["input_tokens"], call["cost_usd"]) == ("cancelled", 0, None)
