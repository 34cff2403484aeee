"""The dry run's wire preview: each provider's own adapter builds the request a call would
send, nothing leaves the machine, and the key is a placeholder (never read)."""

from __future__ import annotations

import asyncio

import pytest

from studio.core import Studio
from studio.providers.preview import wire_request


@pytest.mark.parametrize("model_id, url, key_header", [
    ("openai/gpt-4o-mini", "https://api.openai.com/v1/chat/completions", ("authorization", "Bearer <OPENAI_API_KEY>")),
    ("anthropic/claude-haiku-4-5", "https://api.anthropic.com/v1/messages", ("x-api-key", "<ANTHROPIC_API_KEY>")),
    ("google/gemini-2.5-flash", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
     ("x-goog-api-key", "<GEMINI_API_KEY>")),
])
def test_each_adapter_builds_the_request_with_the_key_as_a_placeholder(model_id, url, key_header, monkeypatch):
    spec = Studio().models.get(model_id)
    monkeypatch.setenv(spec.key_ref, "sk-real-secret-value")  # set, yet never read
    wire = asyncio.run(wire_request(spec, {"text": "Hello there"}, {"temperature": 0.5}))
    assert wire["method"] == "POST" and wire["url"] == url
    assert wire["headers"][key_header[0]] == key_header[1]
    assert "sk-real-secret-value" not in repr(wire)
    assert "Hello there" in repr(wire["body"]) and "0.5" in repr(wire["body"])


def test_a_built_in_model_sends_nothing():
    spec = Studio().models.get("local/sentiment-vader")
    assert asyncio.run(wire_request(spec, {"text": "fine"}, {})) is None
