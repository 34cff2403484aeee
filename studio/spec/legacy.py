"""Import the original prototype's model registration JSON as it is.

Provider and wire format are inferred from the endpoint; `costPerToken` becomes both the
input and the output price; `model` (optional) is the provider's model name — without it
the entry is kept but incomplete. `apiKey` is returned apart so the caller can put it in
the keyring; it never reaches the ModelSpec or any file.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from studio.errors import UserError
from studio.spec.base import slugify
from studio.spec.model import ModelSpec

_PROTOTYPE_KEYS = {"name", "endpoint", "modelType", "costPerToken"}


def looks_like_prototype(doc: dict[str, Any]) -> bool:
    """The prototype's entries have no id/provider/api and a costPerToken or apiKey."""
    return "id" not in doc and "api" not in doc and (
        "costPerToken" in doc or "apiKey" in doc or _PROTOTYPE_KEYS <= doc.keys()
    )


def infer_provider(endpoint: str, model_type: str) -> tuple[str, str]:
    """(provider, api) from an endpoint URL."""
    url = urlparse(endpoint)
    host = (url.hostname or "").lower()
    path = url.path
    if host == "api.openai.com":
        return "openai", "openai-embeddings" if "embeddings" in path or model_type == "embedding" else "openai-chat"
    if host == "api.anthropic.com":
        return "anthropic", "anthropic-messages"
    if host == "generativelanguage.googleapis.com":
        return "google", "gemini"
    if host.endswith("huggingface.co") or host.endswith("hf.space"):
        if host.startswith("router.") or "/v1/chat/completions" in path:
            return "huggingface", "openai-chat"
        api = {
            "embedding": "hf-feature-extraction",
            "classifier": "hf-text-classification",
            "translation": "hf-translation",
        }.get(model_type, "hf-text-generation")
        return "huggingface", api
    if url.port == 11434 or host.endswith(":11434"):
        if path.startswith("/v1/"):
            return "ollama", "openai-chat"
        if "embed" in path:
            return "ollama", "ollama-embed"
        if "generate" in path:
            return "ollama", "ollama-generate"
        return "ollama", "ollama-chat"
    return "http", "http"


_MODEL_TYPE_CAPABILITIES = {
    "llm": ["chat", "summarize"],
    "embedding": ["embed"],
    "classifier": ["classify"],
    "translation": ["translate"],
    "vision": ["vision", "chat"],
    "custom": [],
}

_KEY_NAMES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GEMINI_API_KEY",
    "huggingface": "HF_TOKEN",
}


# The prototype's fields that this import reads itself, and the JSON types each may have.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "endpoint": (str,), "modelType": (str,), "model": (str,), "apiKey": (str,),
    "description": (str,), "owner": (str,), "costPerToken": (int, float), "latency": (int, float),
    "securityPolicy": (str,), "tags": (list,), "capabilities": (list,), "inputSchema": (dict,), "outputSchema": (dict,),
}
_TYPE_NAMES = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}


def check_prototype_fields(doc: dict[str, Any]) -> None:
    """One sentence naming the first field whose JSON type is wrong (before anything uses it)."""
    for name, types in _FIELD_TYPES.items():
        value = doc.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or isinstance(value, bool):
            raise UserError(f"the field {name!r} must be {_TYPE_NAMES[types[0]]}, not {type(value).__name__}; "
                            "fix it in the file and import again.")


def from_prototype(doc: dict[str, Any]) -> tuple[ModelSpec, str | None]:
    """(spec, api key or None). Raises UserError for a field of the wrong type, pydantic's
    ValidationError for a value the spec refuses."""
    check_prototype_fields(doc)
    doc = dict(doc)
    api_key = doc.pop("apiKey", None)
    endpoint = doc.get("endpoint") or ""
    model_type = doc.get("modelType") or "llm"
    provider, api = infer_provider(endpoint, model_type)
    model_name = doc.get("model")
    cost = doc.get("costPerToken")
    ident = f"{provider}/{slugify(model_name or doc.get('name') or 'model')}"
    key_ref = None
    if api_key or provider in _KEY_NAMES:
        key_ref = _KEY_NAMES.get(provider) or f"{slugify(doc.get('name') or 'model').upper().replace('-', '_').replace('.', '_')}_KEY"
    spec = ModelSpec(
        id=ident,
        name=doc.get("name") or ident,
        description=doc.get("description") or "",
        provider=provider,
        api=api,
        endpoint=endpoint,
        model=model_name,
        model_type=model_type,
        capabilities=doc.get("capabilities") or _MODEL_TYPE_CAPABILITIES.get(model_type, []),
        owner=doc.get("owner") or "",
        tags=doc.get("tags") or [],
        input_schema=doc.get("inputSchema") or {"type": "object"},
        output_schema=doc.get("outputSchema") or {"type": "object"},
        prices={"input_per_token": cost, "output_per_token": cost} if cost is not None else {},
        latency_ms=doc.get("latency"),
        security_policy=doc.get("securityPolicy") or "public",
        key_ref=key_ref,
    )
    return spec, (api_key or None)
