"""Ollama discovery against a loopback server that speaks Ollama's `/api/tags`, through the
module and the real CLI; the registered model is then called through the Ollama adapter."""

import json
import os
import socket
import subprocess
import sys

import pytest

from studio.registry.discover import discover_ollama, ollama_base
from tests.fakes.provider_server import FakeProvider, Reply

TAGS = {"models": [
    {"name": "qwen2.5:7b", "model": "qwen2.5:7b", "size": 4683087332,
     "details": {"format": "gguf", "family": "qwen2", "families": ["qwen2"], "parameter_size": "7.6B",
                 "quantization_level": "Q4_K_M"}},
    {"name": "mxbai-embed-large:latest", "model": "mxbai-embed-large:latest", "size": 274302450,
     "details": {"format": "gguf", "family": "bert", "families": ["bert"], "parameter_size": "137M",
                 "quantization_level": "F16"}},
]}


@pytest.fixture
def ollama():
    with FakeProvider() as fake:
        fake.reply("/api/tags", Reply(json=TAGS))
        yield fake


@pytest.fixture
def iom(iom_home):
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("OLLAMA_HOST", None)

    def run(*args, extra_env=None):
        return subprocess.run([sys.executable, "-m", "studio", *args], env={**env, **(extra_env or {})},
                              capture_output=True, text=True)

    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_module_maps_tags_to_specs(ollama):
    registered = next(f for f in discover_ollama(ollama.base, []) if f.name == "qwen2.5:7b").spec  # as registered
    found = discover_ollama(ollama.base, [registered])
    assert ollama.last.method == "GET" and ollama.last.path == "/api/tags"
    by_name = {f.name: f for f in found}
    chat, embed = by_name["qwen2.5:7b"], by_name["mxbai-embed-large:latest"]
    assert chat.registered and not embed.registered
    assert (chat.size_bytes, chat.family, chat.parameter_size, chat.quantization) == (4683087332, "qwen2", "7.6B", "Q4_K_M")
    assert chat.spec.api == "ollama-chat" and chat.spec.endpoint == ollama.base + "/api/chat" and chat.spec.model == "qwen2.5:7b"
    assert embed.spec.id == "ollama/mxbai-embed-large" and embed.spec.api == "ollama-embed" and embed.spec.model_type == "embedding"


def test_base_from_env(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9999")
    assert ollama_base(None) == "http://127.0.0.1:9999"
    monkeypatch.delenv("OLLAMA_HOST")
    assert ollama_base(None) == "http://127.0.0.1:11434"
    assert ollama_base("http://[::1]:1234/") == "http://[::1]:1234"


def test_cli_lists_adds_and_the_model_answers(ollama, iom):
    r = iom("models", "discover", "ollama", "--url", ollama.base)
    assert r.returncode == 0, r.stderr
    assert "qwen2.5:7b" in r.stdout and "4.7 GB" in r.stdout and "Q4_K_M" in r.stdout
    r = iom("models", "discover", "ollama", "--add", "qwen2.5:7b", "--json", extra_env={"OLLAMA_HOST": ollama.base})
    assert r.returncode == 0, r.stderr
    listed = {m["name"]: m for m in json.loads(r.stdout)}
    assert listed["qwen2.5:7b"]["registered"] and not listed["mxbai-embed-large:latest"]["registered"]
    # the registered model really calls the Ollama server through the adapter
    ollama.reply("/api/chat", Reply(json={"model": "qwen2.5:7b", "message": {"role": "assistant", "content": "hi there"},
                                           "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2}))
    r = iom("invoke", "ollama/qwen2.5-7b", "--input", '{"prompt": "hello"}')
    assert r.returncode == 0 and "hi there" in r.stdout, (r.stdout, r.stderr)
    assert ollama.last.path == "/api/chat" and ollama.last.json["model"] == "qwen2.5:7b"
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--all", "--json")
    assert all(m["registered"] for m in json.loads(r.stdout))
    assert "registered ollama/mxbai-embed-large" in r.stderr and "qwen2.5" not in r.stderr


def test_a_same_named_model_of_another_server_is_not_this_one(ollama, iom):
    """The sample ollama/llama3.2 (localhost:11434) made the same name on another server show as
    'registered', and --add said 'registered already': that server's model could not be added."""
    ollama.reply("/api/tags", Reply(json={"models": [{"name": "llama3.2:latest", "size": 1}, *TAGS["models"]]}))
    assert iom("models", "show", "ollama/llama3.2").returncode == 0  # the sample, at localhost:11434
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--json")
    listed = {m["name"]: m for m in json.loads(r.stdout)}
    here = "ollama/llama3.2-127.0.0.1-" + str(ollama.base.rsplit(":", 1)[1])
    assert listed["llama3.2:latest"] == {**listed["llama3.2:latest"], "registered": False, "id": here}
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--add", "llama3.2:latest")
    assert r.returncode == 0 and f"registered {here}" in r.stderr, r.stderr
    shown = json.loads(iom("models", "show", here, "--json").stdout)
    assert shown["endpoint"] == ollama.base + "/api/chat" and shown["model"] == "llama3.2:latest"
    assert json.loads(iom("models", "show", "ollama/llama3.2", "--json").stdout)["endpoint"].startswith("http://localhost:11434")
    # now it is registered at this server, under the id it got
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--json")
    assert {m["name"]: m for m in json.loads(r.stdout)}["llama3.2:latest"] == {**listed["llama3.2:latest"], "registered": True}
    # a model registered at this server is that one, however its address is written
    at_localhost = next(f for f in discover_ollama(ollama.base, []) if f.name == "qwen2.5:7b").spec.model_copy(
        update={"id": "my/qwen", "endpoint": ollama.base.replace("127.0.0.1", "localhost") + "/api/chat"})
    found = {f.name: f for f in discover_ollama(ollama.base, [at_localhost])}
    assert found["qwen2.5:7b"].registered and found["qwen2.5:7b"].spec.id == "my/qwen"


def _one_line_error(r):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_no_server_and_unknown_name_are_one_sentence(ollama, iom):
    url = f"http://127.0.0.1:{_free_port()}"
    assert f"no Ollama server answers at {url}" in _one_line_error(iom("models", "discover", "ollama", "--url", url))
    assert "has no model 'nope'" in _one_line_error(iom("models", "discover", "ollama", "--url", ollama.base, "--add", "nope"))
    ollama.reply("/api/tags", Reply(status=404, json={"error": "not found"}))
    assert "did not answer like Ollama" in _one_line_error(iom("models", "discover", "ollama", "--url", ollama.base))


def test_fields_of_an_unexpected_shape_are_unknown_not_a_crash(ollama, iom):
    """"4.7GB" as the size (ValueError), a list as the family (unhashable) and a negative size
    crashed the listing or showed "-5 bytes"."""
    ollama.reply("/api/tags", Reply(json={"models": [
        {"name": "llama3:8b", "size": "4.7GB", "details": {"family": ["llama"], "families": [["x"]], "parameter_size": 8}},
        {"name": "m1", "size": -5.5, "details": {"family": "llama", "quantization_level": {"q": 4}}}]}))
    found = {f.name: f for f in discover_ollama(ollama.base, [])}
    assert (found["llama3:8b"].size_bytes, found["llama3:8b"].family, found["llama3:8b"].parameter_size) == (0, "", "")
    assert found["m1"].family == "llama" and found["m1"].quantization == "" and found["m1"].size_label == "unknown"
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--all")
    assert r.returncode == 0, r.stderr
    assert "unknown" in r.stdout and "bytes" not in r.stdout
    assert "registered ollama/llama3-8b" in r.stderr and "registered ollama/m1" in r.stderr


def test_every_name_gets_its_own_valid_id_and_all_are_registered(ollama, iom):
    """Three names that slug alike shared one id (--all failed half-way with "exists already"),
    and a 300-character name made an id too long to save."""
    names = ["llama3:8b", "llama3-8b", "Llama3:8B", "x" * 300, "y" * 300]
    ollama.reply("/api/tags", Reply(json={"models": [{"name": n, "size": 1} for n in names]}))
    ids = {f.name: f.spec.id for f in discover_ollama(ollama.base, [])}
    assert len(set(ids.values())) == len(names) and ids["llama3-8b"] == "ollama/llama3-8b"
    assert all(len(i.split("/")[1]) <= 100 for i in ids.values())
    assert {f.name: f.spec.id for f in discover_ollama(ollama.base, [])} == ids  # the same on every run
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--all", "--json")
    assert r.returncode == 0, r.stderr
    assert all(m["registered"] for m in json.loads(r.stdout)) and r.stderr.count("registered ollama/") == len(names)
    listed = json.loads(iom("models", "list", "--provider", "ollama", "--json").stdout)
    assert set(ids.values()) <= {m["id"] for m in listed}
    assert {m["model"] for m in listed if m["id"] in ids.values()} == set(names)
    # a second --all has nothing left to do, and fails on nothing
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--all")
    assert r.returncode == 0 and "registered" not in r.stderr, r.stderr


def test_names_that_cannot_be_models_are_refused_with_a_warning(ollama, iom):
    """A NUL or line break was printed raw and registered; '::::' became 'ollama/model'."""
    ollama.reply("/api/tags", Reply(json={"models": [
        {"name": "bad\u0000name", "size": 1}, {"name": "ev\nil", "size": 1}, {"name": "::::", "size": 1},
        {"name": ["x"]}, {"name": "good:1b", "size": 1}]}))
    r = iom("models", "discover", "ollama", "--url", ollama.base, "--all")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4 and "'bad\\x00name'" in r.stderr and "'ev\\nil'" in r.stderr and "'::::'" in r.stderr
    assert "\x00" not in r.stdout + r.stderr and "ev\nil" not in r.stdout
    assert "registered ollama/good-1b" in r.stderr and r.stderr.count("registered ollama/") == 1
