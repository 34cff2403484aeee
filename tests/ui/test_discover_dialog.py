"""The registry's "Discover Ollama models" dialog against a loopback server speaking
Ollama's /api/tags: installed models listed, one click registers, no server is one sentence."""

from __future__ import annotations

import socket

from nicegui.testing import User

from studio.ui.app import get_studio
from tests.fakes.provider_server import FakeProvider, Reply
from tests.foundation.test_discover import TAGS
from tests.ui.util import all_by_testid, by_testid, element, settle, table_rows, wait_until


async def test_discovered_model_registers_with_one_click(user: User, monkeypatch):
    with FakeProvider() as ollama:
        ollama.reply("/api/tags", Reply(json=TAGS))
        monkeypatch.setenv("OLLAMA_HOST", ollama.base)
        await user.open("/registry")
        by_testid(user, "discover").click()
        await wait_until(lambda: all_by_testid(user, "register-qwen2.5:7b"), "the discovered models")
        assert element(user, "discover-status").text == f"2 model(s) installed at {ollama.base}"
        await user.should_see("4.7 GB · qwen2 · 7.6B · Q4_K_M")
        by_testid(user, "register-qwen2.5:7b").click()
        await wait_until(lambda: get_studio().models.find("ollama/qwen2.5-7b") is not None, "the registered model")
        spec = get_studio().models.get("ollama/qwen2.5-7b")
        assert spec.endpoint == ollama.base + "/api/chat" and spec.model == "qwen2.5:7b"
        await wait_until(lambda: not all_by_testid(user, "register-qwen2.5:7b"), "the row marked registered")
        await wait_until(lambda: any(r["id"] == "ollama/qwen2.5-7b" for r in table_rows(user, "models-table")),
                         "the new model in the table")


async def test_no_server_is_one_sentence(user: User, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("OLLAMA_HOST", url)
    await user.open("/registry")
    by_testid(user, "discover").click()
    await wait_until(lambda: element(user, "discover-status").text.startswith("no Ollama server"), "the refusal")
    said = element(user, "discover-status").text
    assert said.startswith(f"no Ollama server answers at {url}")
    assert "--url" not in said and "Ollama server field" in said  # this page's field, not the CLI's flag
    await settle()
