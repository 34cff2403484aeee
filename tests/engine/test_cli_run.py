"""`iom run` through a subprocess: the offline samples run end to end with no key; a
pipeline that needs a missing key fails before any call naming the key; dry run; validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from studio.engine.kept_outputs import read_nodes

REVIEW = "Das Hotel war wunderbar, das Personal freundlich und das Frühstück ausgezeichnet. Gerne wieder!"


@pytest.fixture
def iom(iom_home):
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "studio", *args], env=env, capture_output=True, text=True, timeout=120)

    return run


def test_offline_samples_run_end_to_end_with_no_key(iom):
    r = iom("run", "review-triage", "--input", json.dumps({"text": REVIEW}), "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["status"] == "succeeded"
    assert {n["status"] for n in record["nodes"].values()} == {"succeeded"}
    assert record["outputs"]["language"] == "German"
    r = iom("run", "text-insights", "--input", json.dumps({"text": REVIEW}))
    assert r.returncode == 0, r.stderr
    assert "Text insights" in r.stdout and "succeeded" in r.stderr
    again = json.loads(iom("run", "review-triage", "--input", json.dumps({"text": REVIEW}), "--json").stdout)
    assert again["cachedNodes"] == 4  # the local models are deterministic, so the re-run is served from cache


def test_a_missing_key_fails_before_any_call_in_one_sentence(iom):
    r = iom("run", "content-enhancement", "--input", '{"topic": "bees"}')
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0] and "not set" in lines[0] and "Traceback" not in r.stderr


def test_a_failed_run_prints_no_output(iom, tmp_path):
    """A failed run printed `{}` on stdout, which a script read as an empty result."""
    from tests.engine.conftest import OUT, TEXT_IN, pipeline

    broken = pipeline([TEXT_IN, {"id": "t", "kind": "transform", "template": "{{ 1/0 }}"}, OUT],
                      [("e1", "in", "t"), ("e2", "t", "out")], id="broken")
    (tmp_path / "broken.json").write_text(broken.model_dump_json(by_alias=True))
    r = iom("run", str(tmp_path / "broken.json"), "--input", '{"text": "x"}')
    assert r.returncode == 1 and r.stdout == "" and "ZeroDivisionError" in r.stderr, (r.stdout, r.stderr)


def test_dry_run_plans_without_keys(iom):
    r = iom("run", "multi-language-translation", "--input", '{"text": "Good morning"}', "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["layers"] == [["in"], ["fr", "de", "es"], ["merge"], ["out"]]
    assert {q["nodeId"] for q in plan["requests"]} == {"fr", "de", "es"}
    assert plan["requests"][0]["input"]["prompt"].endswith("Good morning")
    assert plan["estimatedCostUsd"] > 0
    r = iom("run", "content-enhancement", "--dry-run", "--json")  # no input at all: placeholders
    assert r.returncode == 0, r.stderr
    assert "⟨input topic⟩" in json.loads(r.stdout)["requests"][0]["input"]["prompt"]


def test_bad_input_and_unknown_node_are_one_line(iom):
    assert "is not valid JSON" in iom("run", "review-triage", "--input", "{oops").stderr
    r = iom("run", "review-triage", "--input", '{"text": "x"}', "--to", "nope")
    assert r.returncode == 1 and "has no node 'nope'" in r.stderr


def test_cache_show_and_clear_one_model_then_only_it_is_called_again(iom):
    """`iom cache`: what the offline sample left cached, per model; clearing one model's
    entries makes the next run call that model alone again; a bad age is one sentence."""
    text = json.dumps({"text": REVIEW})
    assert iom("run", "text-insights", "--input", text).returncode == 0
    shown = json.loads(iom("cache", "show", "--json").stdout)
    cached = {m["model"]: m["entries"] for m in shown["models"]}
    assert shown["entries"] == sum(cached.values()) > 1 and cached.get("local/text-stats") == 1
    plain = iom("cache", "show")
    assert plain.returncode == 0 and "local/text-stats" in plain.stdout and "cached output(s)" in plain.stdout

    cleared = iom("cache", "clear", "--model", "local/text-stats", "--json")
    assert json.loads(cleared.stdout) == {"removed": 1, "remaining": shown["entries"] - 1}
    again = json.loads(iom("run", "text-insights", "--input", text, "--json").stdout)
    called = {n["modelId"] for n in again["nodes"].values() if n.get("modelId") and n["status"] == "succeeded"}
    reused = {n["modelId"] for n in again["nodes"].values() if n["status"] == "cached"}
    assert called == {"local/text-stats"} and reused == set(cached) - {"local/text-stats"}

    bad = iom("cache", "clear", "--older-than", "soon")
    assert bad.returncode == 2 and "'soon' is not a number of days" in bad.stderr and "Traceback" not in bad.stderr
    assert "removed 0 cached output(s) cached more than 30 day(s) ago" in iom("cache", "clear", "--older-than", "30").stdout
    assert json.loads(iom("cache", "clear", "--json").stdout) == {"removed": shown["entries"], "remaining": 0}


def test_from_a_node_with_nothing_kept_runs_every_node_and_says_so(iom):
    """--from reuses the upstream outputs of the pipeline's last run; with none kept it ran them
    all without a word (its summary said "0 cached node(s)")."""
    first = iom("run", "review-triage", "--input", json.dumps({"text": REVIEW}), "--from", "sentiment", "--no-cache")
    assert first.returncode == 0, first.stderr
    assert ("note: every node before 'sentiment' ran again: no earlier run of review-triage kept an output that "
            "fits this run for them" in first.stderr), first.stderr
    again = iom("run", "review-triage", "--input", json.dumps({"text": REVIEW}), "--from", "sentiment", "--no-cache")
    assert again.returncode == 0 and "note:" not in again.stderr, again.stderr


def test_a_run_is_reported_only_once_its_outputs_are_kept_for_run_from(iom_home, monkeypatch, capsys):
    """The outputs a later `iom run --from` reuses were written at exit, after the run was
    printed: a command killed in between reported a run whose outputs were not kept."""
    from studio.cli import main

    monkeypatch.setenv("IOM_HOME", str(iom_home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    assert main(["run", "review-triage", "--input", json.dumps({"text": REVIEW}), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    kept = read_nodes(iom_home / "cache" / "runs" / "review-triage.json")
    assert {"in", "sentiment", "out"} <= kept.keys(), kept


def test_validate_takes_a_saved_pipelines_id_as_run_does(iom, tmp_path):
    """`iom run ID` found a saved pipeline that `iom pipelines validate ID` said did not exist."""
    r = iom("pipelines", "validate", "review-triage")
    assert r.returncode == 0 and r.stdout.startswith("review-triage: valid"), r.stderr
    exported = tmp_path / "p.json"
    assert iom("pipelines", "export", "review-triage", "-o", str(exported)).returncode == 0
    assert iom("pipelines", "validate", str(exported)).stdout.startswith("review-triage: valid")
    missing = iom("pipelines", "validate", "no-such-pipeline")
    assert missing.returncode == 1 and "no-such-pipeline" in missing.stderr and "Traceback" not in missing.stderr


def test_stream_prints_the_answer_once(iom_home, tmp_path):
    """`iom run --stream` wrote the streamed text, then printed the same output again: a script
    piping it got "Hello world\\nHello world\\n"."""
    from studio.registry import ModelRegistry
    from tests.engine.conftest import OUT, TEXT_IN, chat_reply, openai_model, pipeline
    from tests.fakes.provider_server import FakeProvider, Reply, sse
    from tests.providers.conftest import DictKeys

    part = lambda t: {"id": "c", "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}  # noqa: E731
    done = {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               TEST_KEY="sk-test-stream-000000000000")
    with FakeProvider() as fake:
        openai_model(ModelRegistry(iom_home, DictKeys({})), fake, "fake/s", "/v1/chat/completions")
        fake.reply("/v1/chat/completions", lambda rec: Reply(chunks=sse(part("Hello"), part(" world"), done))
                   if rec.json.get("stream") else Reply(json=chat_reply("Hello world")))
        p = pipeline([TEXT_IN, {"id": "m", "kind": "model", "model": "fake/s", "prompt": "{{ text }}"}, OUT],
                     [("e1", "in", "m", "text", "text"), ("e2", "m", "out", "text", "text")], id="streamed")
        (tmp_path / "s.json").write_text(p.model_dump_json(by_alias=True))
        for args in (["--stream"], []):
            r = subprocess.run([sys.executable, "-m", "studio", "run", str(tmp_path / "s.json"), "--input",
                                '{"text": "x"}', "--no-cache", *args], env=env, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0 and r.stdout == "Hello world\n", (args, r.stdout, r.stderr)
            assert "succeeded" in r.stderr


def test_to_a_node_prints_that_nodes_output(iom):
    """`--to keywords` printed `{}`: the output node after it did not run, so the run's outputs
    were empty and the node's output was only in --json."""
    r = iom("run", "text-insights", "--input", json.dumps({"text": REVIEW}), "--to", "keywords")
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    record = json.loads(iom("run", "text-insights", "--input", json.dumps({"text": REVIEW}), "--to", "keywords",
                            "--json").stdout)
    assert printed == record["nodes"]["keywords"]["output"] and printed["keywords"], r.stdout
    assert record["outputs"] == {}  # --json unchanged: the whole record, with the node's output under nodes
