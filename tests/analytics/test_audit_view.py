"""The audit trail read back: `iom calls show` finds one call — by its id, by the provider's
request id, by a gateway answer's x-request-id beside the running web app — with its input and
output (they were stored and never shown), and `iom runs show` says a node's retries and
fallbacks, its whole time and that its failed attempts are unpriced."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from studio import formats
from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.cli import main
from studio.registry import ModelRegistry
from tests.analytics.audit_setup import (ANSWER, ATTEMPTS, KEY, PROVIDER_REQUEST_ID, QUESTION, loopback_models,
                                         retrying_pipeline_file)
from tests.fakes.provider_server import FakeProvider
from tests.providers.conftest import DictKeys


@pytest.fixture
def fake(iom_home, monkeypatch):
    with FakeProvider() as server:
        loopback_models(ModelRegistry(iom_home, DictKeys({})), server, monkeypatch)
        yield server


def _call_ids(home) -> list[str]:
    store = AnalyticsStore(home)
    try:
        return [c["id"] for c in store.read(q.recent_calls, q.Filters(), 100)]
    finally:
        store.close()


def test_a_call_is_shown_with_its_input_and_output_by_call_id_and_by_request_id(iom_home, fake, capsys):
    assert main(["invoke", "loop/ok", "--input", json.dumps({"prompt": QUESTION}), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["requestId"] == PROVIDER_REQUEST_ID
    [call_id] = _call_ids(iom_home)
    for ident in (call_id, PROVIDER_REQUEST_ID):
        assert main(["calls", "show", ident]) == 0
        out = capsys.readouterr().out
        assert f"call {call_id} at " in out and "answered by: loop/ok (openai)" in out
        assert f"provider request id {PROVIDER_REQUEST_ID}" in out and "12 → 6 tokens" in out
        assert QUESTION in out.split("input:")[1].split("output:")[0]
        assert ANSWER in out.split("output:")[1]
        assert KEY not in out
    assert main(["calls", "show", call_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["input"]["kept"] == "content" and json.loads(shown["input"]["text"]) == {"prompt": QUESTION}
    assert json.loads(shown["output"]["text"])["text"] == ANSWER


def test_a_call_kept_as_hashes_only_says_so_and_an_unknown_id_is_one_sentence(iom_home, fake, capsys):
    assert main(["analytics", "--set-hashes-only", "on"]) == 0
    assert main(["invoke", "loop/ok", "--input", json.dumps({"prompt": QUESTION})]) == 0
    capsys.readouterr()
    assert main(["calls", "show", PROVIDER_REQUEST_ID]) == 0
    out = capsys.readouterr().out
    assert "the input's content was not kept: the audit setting 'hashes only' stored only its sha256" in out
    assert QUESTION not in out and ANSWER not in out
    assert main(["calls", "show", "no-such-call"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no call 'no-such-call' is recorded" in err and "Traceback" not in err


def test_a_gateway_call_is_shown_by_its_x_request_id_beside_the_running_web_app(iom_home, fake):
    import httpx

    from tests.helpers.faces import iom
    from tests.helpers.studio_server import TOKEN, StudioServer

    server = StudioServer(iom_home).start()
    try:
        answer = httpx.post(server.url + "/v1/chat/completions", headers={"authorization": f"Bearer {TOKEN}"},
                            json={"model": "loop/ok", "messages": [{"role": "user", "content": QUESTION}]}, timeout=60)
        assert answer.status_code == 200, answer.text
        request_id = answer.headers["x-request-id"]
        r = iom(iom_home, "calls", "show", request_id)  # the web app holds the database: it answers
        assert r.returncode == 0, r.stderr
        assert f"call {request_id} at " in r.stdout and QUESTION in r.stdout and ANSWER in r.stdout
    finally:
        out = server.stop()
    assert "Traceback" not in out, out


def test_runs_show_says_a_nodes_retries_fallback_wall_time_and_unpriced_attempts(iom_home, fake, tmp_path, capsys):
    assert main(["run", str(retrying_pipeline_file(tmp_path)), "--input", '{"text": "hi"}', "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["runs", "show", run_id, "--json"]) == 0
    node = next(n for n in json.loads(capsys.readouterr().out)["nodes"] if n["node_id"] == "a")
    wall = (datetime.fromisoformat(node["ended"]) - datetime.fromisoformat(node["started"])).total_seconds() * 1000
    assert wall > node["latency_ms"]  # the answering call's time is not the node's
    assert main(["runs", "show", run_id]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("a "))
    assert ATTEMPTS in line, line
    assert f" {formats.latency(wall)} " in line and f" {formats.latency(node['latency_ms'])} " not in line, line
