"""Google Gemini `generateContent` and `streamGenerateContent?alt=sse`: `x-goog-api-key`,
`systemInstruction`, `generationConfig`, roles user/model, `usageMetadata` (in a stream a
running total: the last one wins), a blocked prompt (200 with promptFeedback.blockReason)."""

from __future__ import annotations

import json
from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, StreamedChoices, canonical_messages,
                                            chat_output, map_params, request_id, split_data_url, token_logprob,
                                            with_choices)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

PARAMS = {"max_tokens": "maxOutputTokens", "temperature": "temperature", "stop": "stopSequences",
          "seed": "seed", "top_p": "topP", "presence_penalty": "presencePenalty",
          "frequency_penalty": "frequencyPenalty", "response_format": None, "n": "candidateCount",
          "logprobs": "responseLogprobs", "top_logprobs": "logprobs", "tools": None, "tool_choice": None}
BLOCKED_FINISH = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"}


def urls(spec) -> tuple[str, str]:
    """(generateContent URL, streamGenerateContent URL); the spec gives the full first one,
    or a base to which `models/{model}:generateContent` is added."""
    url = spec.endpoint
    if ":generateContent" not in url:
        url = f"{url.rstrip('/')}/models/{spec.model}:generateContent"
    return url, url.replace(":generateContent", ":streamGenerateContent") + "?alt=sse"


def _parts(turn: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    if turn["role"] == "tool":  # Gemini matches a result to its call by the function's name
        try:
            result = json.loads(turn["content"] or "null")
        except ValueError:
            result = turn["content"]
        return [{"functionResponse": {"name": names.get(turn["tool_call_id"] or "", ""),
                                      "response": result if isinstance(result, dict) else {"result": result}}}]
    parts = [_part(p) for p in turn["parts"]]
    for c in turn["tool_calls"]:
        try:
            args = json.loads(c["function"].get("arguments") or "{}")
        except ValueError:
            raise ProviderError(ErrorKind.INVALID_INPUT, "a tool call's arguments are not a JSON object") from None
        parts.append({"functionCall": {"name": c["function"]["name"], "args": args}})
    return parts


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"text": part["text"]}
    data = split_data_url(part["url"])
    return {"inlineData": {"mimeType": data[0], "data": data[1]}} if data else {"fileData": {"fileUri": part["url"]}}


def _contents(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gemini's contents: roles user/model, and the results of one turn's parallel calls in
    one user entry, a functionResponse part each (as separate entries Gemini refuses them)."""
    names = {c["id"]: c["function"]["name"] for t in turns for c in t["tool_calls"]}
    out: list[dict[str, Any]] = []
    for i, t in enumerate(turns):
        parts = _parts(t, names)
        if t["role"] == "tool" and i > 0 and turns[i - 1]["role"] == "tool":
            out[-1]["parts"] += parts
        else:
            out.append({"role": "model" if t["role"] == "assistant" else "user", "parts": parts})
    return out


def body_for(x: Exchange) -> dict[str, Any]:
    system, turns = canonical_messages(x.input)
    config = map_params(x.params, PARAMS)
    config.update(_structured(x.params.get("response_format")))
    if isinstance(config.get("stopSequences"), str):
        config["stopSequences"] = [config["stopSequences"]]
    body: dict[str, Any] = {"contents": _contents(turns)}
    body.update(_tools(x.params))
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if config:
        body["generationConfig"] = config
    return body


def _structured(fmt: Any) -> dict[str, Any]:
    """OpenAI's response_format as Gemini's structured output (responseMimeType + responseJsonSchema)."""
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    schema = (fmt.get("json_schema") or {}).get("schema")
    if fmt["type"] == "json_schema" and schema:
        out["responseJsonSchema"] = schema
    return out


def _tools(params: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's tools / tool_choice as functionDeclarations / toolConfig.functionCallingConfig."""
    out: dict[str, Any] = {}
    if params.get("tools"):
        out["tools"] = [{"functionDeclarations": [
            {"name": t["function"]["name"], "description": t["function"].get("description") or "",
             "parametersJsonSchema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
            for t in params["tools"]]}]
    choice = params.get("tool_choice")
    if isinstance(choice, dict):
        out["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [
            (choice.get("function") or {}).get("name")]}}
    elif choice in ("auto", "none", "required"):
        out["toolConfig"] = {"functionCallingConfig": {"mode": {"required": "ANY"}.get(choice, choice.upper())}}
    return out


def _calls(cand: dict[str, Any] | None, start: int = 0) -> list[dict[str, Any]]:
    parts = ((cand.get("content") or {}).get("parts") or []) if cand else []
    calls = [p["functionCall"] for p in parts if isinstance(p.get("functionCall"), dict)]
    return [{"id": c.get("id") or f"call_{start + i}", "type": "function",
             "function": {"name": c.get("name") or "", "arguments": json.dumps(c.get("args") or {})}}
            for i, c in enumerate(calls)]


def logprobs_of(cand: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Gemini's logprobsResult (the chosen token and the top candidates at each step) in
    OpenAI's `logprobs.content` shape."""
    result = cand.get("logprobsResult")
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    out = []
    for step, chosen in enumerate(result.get("chosenCandidates") or []):
        entry = token_logprob(chosen.get("token") or "", chosen.get("logProbability"))
        top = (tops[step].get("candidates") or []) if step < len(tops) else []
        entry["top_logprobs"] = [token_logprob(t.get("token") or "", t.get("logProbability")) for t in top]
        out.append(entry)
    return out


def _choice(cand: dict[str, Any]) -> dict[str, Any]:
    text, finish = _text(cand)
    return chat_output(text, finish or "STOP", _calls(cand), logprobs_of(cand))


def _by_index(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c.get("index") or 0: c for c in doc.get("candidates") or [] if isinstance(c, dict)}


def headers(key: str | None) -> dict[str, str]:
    return {"x-goog-api-key": key} if key else {}


def usage(meta: dict[str, Any] | None) -> Usage | None:
    if not meta:
        return None
    return Usage(input_tokens=meta.get("promptTokenCount") or 0,
                 output_tokens=(meta.get("candidatesTokenCount") or 0) + (meta.get("thoughtsTokenCount") or 0),
                 cached_tokens=meta.get("cachedContentTokenCount") or 0,
                 reasoning_tokens=meta.get("thoughtsTokenCount"), source="provider")


def _check_blocked(doc: dict[str, Any], partial: str | None = None) -> None:
    reason = (doc.get("promptFeedback") or {}).get("blockReason")
    if reason:
        raise ProviderError(ErrorKind.CONTENT_BLOCKED, f"prompt blocked: {reason}", status=200, partial_text=partial)


def _text(cand: dict[str, Any] | None) -> tuple[str, str | None]:
    if not cand:
        return "", None
    parts = (cand.get("content") or {}).get("parts") or []
    return "".join(p.get("text", "") for p in parts if not p.get("thought")), cand.get("finishReason")


async def call(x: Exchange) -> AdapterResult:
    body = body_for(x)
    plain_url, stream_url = urls(x.spec)
    if not x.stream:
        doc, resp = await x.request_json("POST", plain_url, body=body, headers=headers(x.key))
        if not isinstance(doc, dict):
            raise ProviderError(ErrorKind.MALFORMED, "the reply is not an object")
        _check_blocked(doc)
        if "candidates" not in doc:
            raise ProviderError(ErrorKind.MALFORMED, "the reply has no candidates")
        cands = _by_index(doc)
        text, finish = _text(cands.get(0))
        if finish in BLOCKED_FINISH and not text:
            raise ProviderError(ErrorKind.CONTENT_BLOCKED, f"answer blocked: {finish}", status=200)
        outputs = [_choice(cands[i]) for i in sorted(cands)] or [chat_output("", "STOP", [])]
        return AdapterResult(with_choices(outputs), finish, usage(doc.get("usageMetadata")),
                             doc.get("responseId") or request_id(resp), raw_request=body, raw_response=doc)

    meta, rid = None, None
    streamed = StreamedChoices(x)
    calls: dict[int, list[dict[str, Any]]] = {}  # per candidate index
    async for _event, data in x.sse(stream_url, body=body, headers=headers(x.key)):
        if not isinstance(data, dict):
            continue
        if data.get("error"):
            raise x.stream_error(data)
        _check_blocked(data, x.partial or None)
        rid = rid or data.get("responseId")
        for index, cand in _by_index(data).items():
            await streamed.add(index, *_text(cand), logprobs_of(cand))
            found = calls.setdefault(index, [])
            found += _calls(cand, len(found))
        meta = data.get("usageMetadata") or meta  # running totals: keep the last
    finish = streamed.finish
    if finish is None:
        raise x.cut_off("a chunk with finishReason")
    if finish in BLOCKED_FINISH and not x.partial:
        raise ProviderError(ErrorKind.CONTENT_BLOCKED, f"answer blocked: {finish}", status=200)
    return AdapterResult(with_choices(streamed.outputs(lambda i: calls.get(i, []), "STOP")), finish, usage(meta), rid,
                         raw_request=body)


async def probe(x: Exchange) -> None:
    plain, _ = urls(x.spec)
    base = plain.split("/models/")[0]
    await x.request_json("GET", base + "/models", headers=headers(x.key))
