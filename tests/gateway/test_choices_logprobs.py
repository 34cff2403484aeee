"""Several choices (`n`) and log-probabilities through the gateway, plain and streamed, for the
providers that have them (OpenAI passes them under their own names; Gemini as candidateCount /
responseLogprobs / logprobs; the HF router and Ollama have log-probabilities only), with the
official `openai` SDK as the client. The providers that do not have them refuse them
(test_sdk_openai.py)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.provider_server import GATE, Reply, ndjson, sse
from tests.gateway.conftest import GEMINI_PATH, GEMINI_STREAM_PATH, HF_PATH, OLLAMA_PATH, OPENAI_PATH

ASK = [{"role": "user", "content": "Say hi"}]


def lp(token: str, value: float, top: list[tuple[str, float]] = ()) -> dict:
    entry = {"token": token, "logprob": value, "bytes": list(token.encode())}
    entry["top_logprobs"] = [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top]
    return entry


def test_openai_n_and_logprobs_plain(oai, fake):
    fake.reply(OPENAI_PATH, Reply(json={"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"},
         "logprobs": {"content": [lp("Hi", -0.1, [("Hi", -0.1), ("Hey", -2.3)])]}},
        {"index": 1, "finish_reason": "length", "message": {"role": "assistant", "content": "Hey"},
         "logprobs": {"content": [lp("Hey", -0.4, [("Hey", -0.4), ("Hi", -1.2)])]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2}}))
    r = oai.chat.completions.create(model="loop/openai", messages=ASK, n=2, logprobs=True, top_logprobs=2)
    sent = fake.last.json
    assert sent["n"] == 2 and sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert [(c.index, c.message.content, c.finish_reason) for c in r.choices] == [(0, "Hi", "stop"), (1, "Hey", "length")]
    assert r.choices[0].logprobs.content[0].token == "Hi" and r.choices[0].logprobs.content[0].logprob == -0.1
    assert [t.token for t in r.choices[1].logprobs.content[0].top_logprobs] == ["Hey", "Hi"]
    assert r.usage.completion_tokens == 2


def test_openai_n_and_logprobs_streamed(oai, fake):
    def part(index, text, logprob=None, finish=None):
        choice = {"index": index, "delta": {"content": text} if text else {}, "finish_reason": finish}
        if logprob is not None:
            choice["logprobs"] = {"content": [lp(text, logprob)]}
        return {"id": "c", "choices": [choice]}

    fake.reply(OPENAI_PATH, Reply(chunks=sse(
        part(0, "Hel", -0.2), part(1, "Yo", -0.5), part(0, "lo", -0.3), part(1, "", finish="stop"),
        part(0, "", finish="stop"), {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3}})))
    chunks = list(oai.chat.completions.create(model="loop/openai", messages=ASK, n=2, logprobs=True, stream=True,
                                              stream_options={"include_usage": True}))
    text = {0: "", 1: ""}
    logprobs = {0: [], 1: []}
    finish = {}
    for c in chunks:
        for ch in c.choices:
            text[ch.index] += ch.delta.content or ""
            if ch.logprobs and ch.logprobs.content:
                logprobs[ch.index] += [(t.token, t.logprob) for t in ch.logprobs.content]
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    assert text == {0: "Hello", 1: "Yo"} and finish == {0: "stop", 1: "stop"}
    assert logprobs == {0: [("Hel", -0.2), ("lo", -0.3)], 1: [("Yo", -0.5)]}
    assert chunks[-1].usage.completion_tokens == 3 and fake.last.json["n"] == 2


def gemini_candidate(index, text, chosen, tops, finish="STOP"):
    return {"index": index, "content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish,
            "logprobsResult": {
                "chosenCandidates": [{"token": t, "tokenId": i, "logProbability": v} for i, (t, v) in enumerate(chosen)],
                "topCandidates": [{"candidates": [{"token": t, "tokenId": 9, "logProbability": v} for t, v in step]}
                                  for step in tops]}}


def test_gemini_candidates_and_logprobs_plain(oai, fake):
    fake.reply(GEMINI_PATH, Reply(json={"candidates": [
        gemini_candidate(0, "Hi", [("Hi", -0.1)], [[("Hi", -0.1), ("Hey", -2.0)]]),
        gemini_candidate(1, "Hey", [("Hey", -0.7)], [[("Hey", -0.7), ("Hi", -0.9)]], finish="MAX_TOKENS")],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}))
    r = oai.chat.completions.create(model="loop/gemini", messages=ASK, n=2, logprobs=True, top_logprobs=2)
    config = fake.last.json["generationConfig"]
    assert config["candidateCount"] == 2 and config["responseLogprobs"] is True and config["logprobs"] == 2
    assert [(c.message.content, c.finish_reason) for c in r.choices] == [("Hi", "stop"), ("Hey", "length")]
    first = r.choices[0].logprobs.content[0]
    assert (first.token, first.logprob, first.bytes) == ("Hi", -0.1, list(b"Hi"))
    assert [(t.token, t.logprob) for t in r.choices[1].logprobs.content[0].top_logprobs] == [("Hey", -0.7), ("Hi", -0.9)]


def test_gemini_candidates_and_logprobs_streamed(oai, fake):
    fake.reply(GEMINI_STREAM_PATH, Reply(chunks=sse(
        {"candidates": [gemini_candidate(0, "He", [("He", -0.2)], [[("He", -0.2)]], finish=None),
                        gemini_candidate(1, "Yo", [("Yo", -0.4)], [[("Yo", -0.4)]], finish=None)]},
        {"candidates": [gemini_candidate(0, "llo", [("llo", -0.3)], [[("llo", -0.3)]]),
                        gemini_candidate(1, "!", [("!", -0.6)], [[("!", -0.6)]])],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4}}, done=False)))
    chunks = list(oai.chat.completions.create(model="loop/gemini", messages=ASK, n=2, logprobs=True, stream=True))
    text, tokens, finish = {0: "", 1: ""}, {0: [], 1: []}, {}
    for c in chunks:
        for ch in c.choices:
            text[ch.index] += ch.delta.content or ""
            if ch.logprobs and ch.logprobs.content:
                tokens[ch.index] += [t.token for t in ch.logprobs.content]
            if ch.finish_reason:
                finish[ch.index] = ch.finish_reason
    assert text == {0: "Hello", 1: "Yo!"} and finish == {0: "stop", 1: "stop"}
    assert tokens == {0: ["He", "llo"], 1: ["Yo", "!"]}
    assert fake.last.json["generationConfig"]["candidateCount"] == 2


def test_hf_router_logprobs_plain_and_streamed(oai, fake):
    fake.reply(HF_PATH, Reply(json={"id": "c", "object": "chat.completion", "model": "meta/llama", "created": 0, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop",
         "logprobs": {"content": [lp("Hi", -0.2, [("Hi", -0.2), ("Yo", -1.9)])]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}))
    r = oai.chat.completions.create(model="loop/hf", messages=ASK, logprobs=True, top_logprobs=2)
    sent = fake.last.json
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2 and "n" not in sent
    assert [(t.token, t.logprob) for t in r.choices[0].logprobs.content[0].top_logprobs] == [("Hi", -0.2), ("Yo", -1.9)]

    part = lambda t, v: {"id": "c", "object": "chat.completion.chunk", "choices": [  # noqa: E731
        {"index": 0, "delta": {"content": t}, "finish_reason": None, "logprobs": {"content": [lp(t, v)]}}]}
    fake.reply(HF_PATH, Reply(chunks=sse(part("He", -0.1), part("llo", -0.3),
                                         {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})))
    chunks = list(oai.chat.completions.create(model="loop/hf", messages=ASK, logprobs=True, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    got = [(t.token, t.logprob) for c in chunks if c.choices and c.choices[0].logprobs
           for t in c.choices[0].logprobs.content or []]
    assert got == [("He", -0.1), ("llo", -0.3)]


def test_ollama_logprobs_plain_and_streamed(oai, fake):
    """Ollama's native /api/chat: top-level logprobs/top_logprobs in, OpenAI's shape out (bytes
    filled in where Ollama leaves them out)."""
    tokens = [{"token": "Hi", "logprob": -0.5, "top_logprobs": [{"token": "Hi", "logprob": -0.5},
                                                                 {"token": "Hey", "logprob": -1.5}]}]
    fake.reply(OLLAMA_PATH, Reply(json={"model": "llama3", "done": True, "done_reason": "stop", "logprobs": tokens,
                                        "message": {"role": "assistant", "content": "Hi"},
                                        "prompt_eval_count": 3, "eval_count": 1}))
    r = oai.chat.completions.create(model="loop/ollama", messages=ASK, logprobs=True, top_logprobs=2)
    sent = fake.last.json
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2 and "logprobs" not in sent.get("options", {})
    first = r.choices[0].logprobs.content[0]
    assert (first.token, first.logprob, first.bytes) == ("Hi", -0.5, list(b"Hi"))
    assert [t.token for t in first.top_logprobs] == ["Hi", "Hey"]

    fake.reply(OLLAMA_PATH, Reply(chunks=ndjson(
        {"model": "llama3", "done": False, "message": {"role": "assistant", "content": "He"},
         "logprobs": [{"token": "He", "logprob": -0.1}]},
        {"model": "llama3", "done": False, "message": {"role": "assistant", "content": "llo"},
         "logprobs": [{"token": "llo", "logprob": -0.2}]},
        {"model": "llama3", "done": True, "done_reason": "stop", "message": {"role": "assistant", "content": ""},
         "prompt_eval_count": 3, "eval_count": 2})))
    chunks = list(oai.chat.completions.create(model="loop/ollama", messages=ASK, logprobs=True, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    got = [(t.token, t.logprob) for c in chunks if c.choices and c.choices[0].logprobs
           for t in c.choices[0].logprobs.content or []]
    assert got == [("He", -0.1), ("llo", -0.2)]


def _read_held_stream(stream, fake) -> tuple[list[tuple], dict, dict, Any]:
    """Read a stream whose provider holds at GATE until choice 1's first text reaches the client
    (the test opens the gate then): (text events as (index, text, gate open?), text per index,
    finish per index, usage). A gateway that keeps choice 1 back until the end never opens the
    gate and the client's read times out."""
    events, text, finish, usage = [], {}, {}, None
    try:
        for c in stream:
            usage = c.usage or usage
            for ch in c.choices:
                if ch.delta.content:
                    events.append((ch.index, ch.delta.content, fake.gate.is_set()))
                    text[ch.index] = text.get(ch.index, "") + ch.delta.content
                    if ch.index == 1 and not fake.gate.is_set():
                        assert finish == {}, "choice 1's first text came after a choice had finished"
                        fake.gate.set()
                if ch.finish_reason:
                    assert fake.gate.is_set(), "a choice finished before the held stream went on"
                    finish[ch.index] = ch.finish_reason
    finally:
        fake.gate.set()
    return events, text, finish, usage


def test_openai_n_streams_every_choice_live(oai, fake):
    """Choice 1's first delta reaches the client while choice 0 is still streaming (the provider
    holds the rest of both until the client has it), each under its own index, sent once."""
    def part(index, text, finish=None):
        return {"id": "c", "choices": [{"index": index, "delta": {"content": text} if text else {},
                                        "finish_reason": finish}]}

    fake.gate.clear()
    fake.reply(OPENAI_PATH, Reply(chunks=[
        *sse(part(0, "He"), part(1, "Yo"), done=False), GATE,
        *sse(part(0, "llo"), part(1, "!"), part(1, "", "length"), part(0, "", "stop"),
             {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}})]))
    stream = oai.with_options(timeout=10).chat.completions.create(
        model="loop/openai", messages=ASK, n=2, stream=True, stream_options={"include_usage": True})
    events, text, finish, usage = _read_held_stream(stream, fake)
    assert events == [(0, "He", False), (1, "Yo", False), (0, "llo", True), (1, "!", True)]
    assert text == {0: "Hello", 1: "Yo!"} and finish == {0: "stop", 1: "length"}
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)
    assert fake.last.json["n"] == 2


def test_gemini_candidates_stream_live(oai, fake):
    """The same for Gemini's candidateCount: streamed candidates carry their index."""
    def cand(index, text, finish=None):
        c = {"index": index, "content": {"role": "model", "parts": [{"text": text}]}}
        return {**c, "finishReason": finish} if finish else c

    fake.gate.clear()
    fake.reply(GEMINI_STREAM_PATH, Reply(chunks=[
        *sse({"candidates": [cand(0, "He")]}, {"candidates": [cand(1, "Yo")]}, done=False), GATE,
        *sse({"candidates": [cand(0, "llo", "STOP"), cand(1, "!", "MAX_TOKENS")],
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4}}, done=False)]))
    stream = oai.with_options(timeout=10).chat.completions.create(
        model="loop/gemini", messages=ASK, n=2, stream=True, stream_options={"include_usage": True})
    events, text, finish, usage = _read_held_stream(stream, fake)
    assert events == [(0, "He", False), (1, "Yo", False), (0, "llo", True), (1, "!", True)]
    assert text == {0: "Hello", 1: "Yo!"} and finish == {0: "stop", 1: "length"}
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 4)
    assert fake.last.json["generationConfig"]["candidateCount"] == 2


def test_openai_n_stream_failures_before_and_after_the_first_token(oai, fake):
    """Before any choice's first token a failure is the real status; after it (here choice 1's
    token came first) it is an `error` event in the stream."""
    fake.reply(OPENAI_PATH, Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}},
                                  headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as e:
        list(oai.chat.completions.create(model="loop/openai", messages=ASK, n=2, stream=True))
    assert e.value.status_code == 429

    fake.reply(OPENAI_PATH, Reply(chunks=sse(
        {"id": "c", "choices": [{"index": 1, "delta": {"content": "Yo"}, "finish_reason": None}]},
        {"error": {"message": "the server had an error", "type": "server_error"}}, done=False)))
    got = []
    with pytest.raises(openai.APIError):
        for c in oai.chat.completions.create(model="loop/openai", messages=ASK, n=2, stream=True):
            got += [(ch.index, ch.delta.content) for ch in c.choices if ch.delta.content]
    assert got == [(1, "Yo")]
