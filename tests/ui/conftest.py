"""Fixtures of the simulated page tests: a registry model served by the loopback OpenAI-style
server (tests/ui/loopback_openai.py), its key in the in-memory keyring."""

from __future__ import annotations

import pytest

from studio.spec.calls import CANONICAL_SCHEMAS
from tests.ui.loopback_openai import LoopbackOpenAI

KEY = "sk-loopback-secret-0123456789abcdef"


@pytest.fixture
def loopback_model(memory_keyring):
    """A model pointing at the loopback server, its key in the (in-memory) keyring."""
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    from studio.ui import services

    studio = get_studio()
    if not services.can_call(studio):
        pytest.fail("the provider hub (studio/providers/hub.py, built by Studio as studio.providers) is not in "
                    "this build; these tests run once it is merged", pytrace=False)
    with LoopbackOpenAI() as server:
        studio.keys.set("LOOP_KEY", KEY)
        studio.models.save(ModelSpec(
            id="loop/chat", name="Loopback chat", provider="openai", api="openai-chat", endpoint=server.url,
            model="loop-1", key_ref="LOOP_KEY", prices={"input_per_token": 1e-6, "output_per_token": 2e-6},
            input_schema=CANONICAL_SCHEMAS["llm"][0], output_schema=CANONICAL_SCHEMAS["llm"][1]))
        yield server
