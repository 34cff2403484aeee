"""OpenAI embeddings (`POST /v1/embeddings`): one or many texts -> vectors, in input order."""

from __future__ import annotations

from studio.providers.adapters.base import AdapterResult, Exchange, bearer, embedding_vectors, map_params, request_id
from studio.providers.errors import ErrorKind, ProviderError
from studio.spec.calls import Usage

PARAMS = {"temperature": None, "max_tokens": None, "stop": None, "seed": None, "top_p": None}


async def call(x: Exchange) -> AdapterResult:
    body = {"model": x.spec.model, "input": x.input["input"], **map_params(x.params, PARAMS)}
    doc, resp = await x.request_json("POST", x.spec.endpoint, body=body, headers=bearer(x.key))
    try:
        vectors = [d["embedding"] for d in sorted(doc["data"], key=lambda d: d.get("index", 0))]
    except (KeyError, TypeError):
        raise ProviderError(ErrorKind.MALFORMED, "the reply has no data[].embedding") from None
    vectors = embedding_vectors(vectors, x.input["input"])
    u = doc.get("usage") or None
    usage = Usage(input_tokens=u.get("prompt_tokens") or 0, source="provider") if isinstance(u, dict) else None
    return AdapterResult({"vectors": vectors}, None, usage, request_id(resp), raw_request=body)


async def probe(x: Exchange) -> None:
    base = x.spec.endpoint.rsplit("/embeddings", 1)[0]
    await x.request_json("GET", base + "/models", headers=bearer(x.key))
