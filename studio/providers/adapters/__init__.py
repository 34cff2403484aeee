"""One adapter module per wire format (`ModelSpec.api`); the hub picks one by name and
imports it on first use, so starting the studio stays cheap."""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "openai-chat": "openai_chat",
    "openai-embeddings": "openai_embeddings",
    "anthropic-messages": "anthropic",
    "gemini": "gemini",
    "hf-text-generation": "huggingface",
    "hf-feature-extraction": "huggingface",
    "hf-text-classification": "huggingface",
    "hf-translation": "huggingface",
    "ollama-chat": "ollama",
    "ollama-generate": "ollama",
    "ollama-embed": "ollama",
    "http": "generic_http",
    "local": "local",
}


def adapter_for(api: str) -> ModuleType:
    return importlib.import_module(f"studio.providers.adapters.{MODULES[api]}")
