"""Models on the loopback fake provider for the audit-trail tests (tests/analytics/test_audit_view.py,
tests/ui/test_analytics_audit.py): one that answers, one that always fails with HTTP 500, one to
fall back to; and a pipeline whose node retries the failing one, then falls back."""

from __future__ import annotations

import json
from pathlib import Path

from studio.registry import ModelRegistry
from studio.spec import ModelSpec
from studio.spec.calls import CANONICAL_SCHEMAS
from tests.fakes.provider_server import FakeProvider, Reply

KEY_NAME = "LOOP_AUDIT_API_KEY"  # read from the environment (a name that says it is a key)
KEY = "sk-loop-audit-0123456789abcdef"
PROVIDER_REQUEST_ID = "chatcmpl-audit-4711"
QUESTION = "What is the capital of France?"
ANSWER = "Paris, on the Seine."


def answer(text: str, request_id: str = PROVIDER_REQUEST_ID) -> Reply:
    return Reply(json={"id": request_id, "object": "chat.completion", "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}})


def loopback_models(registry: ModelRegistry, fake: FakeProvider, monkeypatch) -> None:
    monkeypatch.setenv(KEY_NAME, KEY)
    for model_id, path in (("loop/ok", "/ok/v1/chat/completions"), ("loop/500", "/500/v1/chat/completions"),
                           ("loop/fb", "/fb/v1/chat/completions")):
        registry.save(ModelSpec.model_validate({
            "id": model_id, "name": model_id, "provider": "openai", "api": "openai-chat", "endpoint": fake.url(path),
            "model": "m", "keyRef": KEY_NAME, "inputSchema": CANONICAL_SCHEMAS["llm"][0],
            "outputSchema": CANONICAL_SCHEMAS["llm"][1], "prices": {"inputPerToken": 1e-6, "outputPerToken": 2e-6}}))
    fake.reply("/ok/v1/chat/completions", answer(ANSWER))
    fake.reply("/500/v1/chat/completions",
               Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    fake.reply("/fb/v1/chat/completions", answer("fallback answer", "chatcmpl-fb"))


RETRYING = {"format": "iom.pipeline", "version": 1, "id": "audit-retry", "name": "Audit retry",
            "nodes": [{"id": "in", "kind": "input",
                       "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                      {"id": "a", "kind": "model", "model": "loop/500",
                       "policy": {"retries": 1, "fallback": ["loop/fb"]}},
                      {"id": "out", "kind": "output"}],
            "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "a", "targetPort": "text"},
                      {"id": "e2", "source": "a", "sourcePort": "out", "target": "out", "targetPort": "in"}]}

# what the node's line says of its three calls
ATTEMPTS = ("3 attempts: 2 failed (HTTP 500), then answered by loop/fb after falling back from loop/500; "
            "the 2 failed attempts are unpriced")


def retrying_pipeline_file(directory: Path) -> Path:
    path = directory / "audit-retry.json"
    path.write_text(json.dumps(RETRYING))
    return path
