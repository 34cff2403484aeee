"""The capability table is keyed by real wire formats, and asks-for-nothing values are never refused."""

from __future__ import annotations

from typing import get_args

from studio.providers import capabilities
from studio.spec.model import Api
from tests.providers.conftest import make_spec


def test_every_table_key_is_a_real_api():
    keys = set(capabilities.TRANSLATED) - {"openai", "hf-router", "ollama-openai", "openai-compatible"}
    assert keys <= set(get_args(Api)), keys - set(get_args(Api))
    assert all(p in capabilities.OPENAI_PARAMS for names in capabilities.TRANSLATED.values() for p in names)


def test_refusal_names_the_parameter_and_the_model():
    spec = make_spec("anthropic-messages", "http://127.0.0.1:9/v1/messages")
    bad = capabilities.unsupported(spec, {"temperature": 0, "seed": 1, "n": 1, "logprobs": False, "logit_bias": {}})
    assert bad == ["seed", "logit_bias"]
    sentence = capabilities.refusal(spec, bad)
    assert "'seed', 'logit_bias' are not supported by test/anthropic-messages" in sentence
    assert "x-iom-drop-params" in sentence


def test_openai_itself_and_compatible_servers_differ():
    assert capabilities.table_key(make_spec("openai-chat", "http://127.0.0.1:9/v1/chat/completions")) == "openai"
    hf = make_spec("openai-chat", "https://router.huggingface.co/v1/chat/completions", provider="huggingface")
    assert capabilities.table_key(hf) == "hf-router"
    assert capabilities.unsupported(hf, {"logit_bias": {"1": 1}, "tools": [], "logprobs": True, "n": 2}) \
        == ["logit_bias", "n"]
    ollama = make_spec("openai-chat", "http://127.0.0.1:11434/v1/chat/completions", provider="ollama")
    vllm = make_spec("openai-chat", "http://10.0.0.5:8000/v1/chat/completions", provider="http")
    assert (capabilities.table_key(ollama), capabilities.table_key(vllm)) == ("ollama-openai", "openai-compatible")
    assert capabilities.unsupported(vllm, {"logprobs": True}) == ["logprobs"]
