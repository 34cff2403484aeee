"""Hugging Face task endpoints (Inference API / Inference Endpoints / TGI): text-generation
(`inputs` + `parameters`, TGI-style SSE stream of `token.text`), feature-extraction,
text-classification, translation. A 503 "model is loading" carries `estimated_time`,
which the error classifier turns into a retry-after."""

from __future__ import annotations

from typing import Any

from studio.providers.adapters.base import (AdapterResult, Exchange, bearer, embedding_vectors, map_params, prompt_text,
                                            request_id)
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

GEN_PARAMS = {"max_tokens": "max_new_tokens", "temperature": "temperature", "stop": "stop",
              "seed": "seed", "top_p": "top_p"}
NO_PARAMS = {k: None for k in GEN_PARAMS}


def _malformed(what: str) -> ProviderError:
    return ProviderError(ErrorKind.MALFORMED, f"the reply has no {what}")


async def call(x: Exchange) -> AdapterResult:
    task = x.spec.api.removeprefix("hf-")
    return await {"text-generation": _generate, "feature-extraction": _embed,
                  "text-classification": _classify, "translation": _translate}[task](x)


async def _post(x: Exchange, body: dict[str, Any]) -> tuple[Any, Any]:
    return await x.request_json("POST", x.spec.endpoint, body=body, headers=bearer(x.key))


async def _generate(x: Exchange) -> AdapterResult:
    params = map_params(x.params, GEN_PARAMS)
    if isinstance(params.get("stop"), str):
        params["stop"] = [params["stop"]]
    body: dict[str, Any] = {"inputs": prompt_text(x.input), "parameters": {**params, "return_full_text": False}}
    if not x.stream:
        doc, resp = await _post(x, body)
        item = doc[0] if isinstance(doc, list) and doc else doc
        if not isinstance(item, dict) or "generated_text" not in item:
            raise _malformed("generated_text")
        details = item.get("details") or {}
        finish = details.get("finish_reason")
        return AdapterResult({"text": item["generated_text"], "finishReason": finish or "stop"}, finish,
                             _usage(details), request_id(resp, "x-request-id", "x-compute-request-id"),
                             raw_request=body, raw_response=doc)
    body["stream"] = True
    finish, details, done = None, {}, False
    async for _event, data in x.sse(x.spec.endpoint, body=body, headers=bearer(x.key)):
        if not isinstance(data, dict):
            continue
        if data.get("error"):
            raise x.stream_error({"error": {"message": data["error"], "type": data.get("error_type")}})
        token = data.get("token") or {}
        if not token.get("special"):
            await x.send_text(token.get("text") or "")
        if data.get("details"):
            details = data["details"]
            finish = details.get("finish_reason")
        if data.get("generated_text") is not None:
            done = True
    if not done:
        raise x.cut_off("its final event with generated_text")
    return AdapterResult({"text": x.partial, "finishReason": finish or "stop"}, finish, _usage(details),
                         raw_request=body)


def _usage(details: dict[str, Any]) -> Usage | None:
    """TGI reports generated tokens (and prefill when asked for details); else None -> estimate."""
    if not details.get("generated_tokens"):
        return None
    prefill = details.get("prefill")
    if not prefill:
        return None  # output known, input not: the hub estimates both and says so
    return Usage(input_tokens=len(prefill), output_tokens=details["generated_tokens"], source="provider")


async def _embed(x: Exchange) -> AdapterResult:
    texts = x.input["input"]
    body = {"inputs": texts, **map_params(x.params, NO_PARAMS)}
    doc, resp = await _post(x, body)
    if not isinstance(doc, list):
        raise _malformed("list of vectors")
    vectors = [_pool(v) for v in (_one_text(doc) if isinstance(texts, str) else doc)]
    return AdapterResult({"vectors": embedding_vectors(vectors, texts)}, None, None, request_id(resp),
                         raw_request=body)


def _one_text(doc: list[Any]) -> list[Any]:
    """The reply to one text as a list of one: a vector, token vectors, or either in a list of
    one (a batch of one). Three lists of numbers are one text's three tokens, not three texts."""
    return doc if len(doc) == 1 and isinstance(doc[0], list) else [doc]


def _pool(v: Any) -> Any:
    """A token-level reply (list of token vectors) is mean-pooled to one vector per text; a
    vector is left as it is (`embedding_vectors` checks it)."""
    if not (isinstance(v, list) and v and all(isinstance(row, list) for row in v)):
        return v
    if len({len(row) for row in v}) != 1:
        raise _malformed("token vectors of one length")
    try:
        return [sum(col) / len(v) for col in zip(*v)]
    except TypeError:
        raise ProviderError(ErrorKind.MALFORMED, "a token vector of the reply is not a list of numbers") from None


async def _classify(x: Exchange) -> AdapterResult:
    body = {"inputs": x.input["text"]}
    doc, resp = await _post(x, body)
    items = doc[0] if isinstance(doc, list) and doc and isinstance(doc[0], list) else doc
    try:
        scores = {d["label"]: float(d["score"]) for d in items}
    except (KeyError, TypeError, ValueError):
        raise _malformed("[{label, score}]") from None
    if not scores:
        raise _malformed("label")
    return AdapterResult({"label": max(scores, key=scores.get), "scores": scores}, None, None,
                         request_id(resp), raw_request=body)


async def _translate(x: Exchange) -> AdapterResult:
    params = {"tgt_lang": x.input["targetLanguage"]}
    if x.input.get("sourceLanguage"):
        params["src_lang"] = x.input["sourceLanguage"]
    body = {"inputs": x.input["text"], "parameters": params}
    doc, resp = await _post(x, body)
    item = doc[0] if isinstance(doc, list) and doc else doc
    if not isinstance(item, dict) or "translation_text" not in item:
        raise _malformed("translation_text")
    return AdapterResult({"text": item["translation_text"]}, None, None, request_id(resp), raw_request=body)
