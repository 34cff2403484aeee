"""Several choices (`n`) and log-probabilities through the gateway, plain and streamed, for the
providers that have them (OpenAI passes them under their own names; Gemini as candidateCount /
responseLogprobs / logprobs), with the official `openai` SDK as the client. The providers that
do not have them refuse them (test_sdk_openai.py)."""

from __future__ import annotations

from tests.fakes.provider_server import Reply, sse
from tests.gateway.conftest import GEMINI_PATH, GEMINI_STREAM_PATH, OPENAI_PATH

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
