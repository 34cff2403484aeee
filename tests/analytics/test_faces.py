"""No face loses a record: with the web app running and the gateway under steady load, `iom run`
and `iom invoke` from the terminal (several at once) exit 0 without a traceback, `iom runs list`
and `iom analytics` work beside the web app and show what was just recorded, and afterwards the
database holds every CLI run and call and every gateway call exactly once."""

from __future__ import annotations

import json
import os

from tests.helpers.faces import GatewayLoad, cli_load, count_records, iom
from tests.helpers.studio_server import StudioServer

N = int(os.environ.get("IOM_FACES_N", "12"))  # bench/bench_faces.py runs 100 of each


def test_cli_and_gateway_beside_the_web_app_lose_nothing(iom_home):
    server = StudioServer(iom_home).start()
    try:
        with GatewayLoad(server) as load:
            result = cli_load(iom_home, runs=N, invokes=N)
            listed = iom(iom_home, "runs", "list", "--json", "--limit", "10000")
            summary = iom(iom_home, "analytics", "--since", "all", "--json")
        assert not result.failures, "\n".join(result.failures)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert set(result.run_ids) <= {r["id"] for r in json.loads(listed.stdout)}  # recorded a moment ago
        assert summary.returncode == 0, summary.stderr
        assert json.loads(summary.stdout)["summary"]["calls"] >= 2 * N
        assert load.ok > 0 and load.failed == 0
    finally:
        out = server.stop()
    assert "Traceback" not in out, out
    got = count_records(iom_home)
    assert got["runs"] == got["distinct_runs"] == N + load.ok  # CLI runs + one run per gateway call
    assert set(result.run_ids) <= got["run_ids"]
    assert got["invokes"] == N
    assert got["calls"] == got["distinct_calls"]


def test_a_server_killed_under_load_loses_no_answered_call(iom_home):
    import time

    server = StudioServer(iom_home).start()
    with GatewayLoad(server) as load:
        time.sleep(2)
        deadline = time.monotonic() + 60  # a loaded machine may answer none in the first two seconds
        while load.ok == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.kill()  # SIGKILL: no shutdown, no flush
    assert load.ok > 0
    listed = iom(iom_home, "runs", "list", "--json", "--limit", "100000")  # takes the database and the spool
    assert listed.returncode == 0, listed.stderr
    succeeded = sum(1 for r in json.loads(listed.stdout) if r["status"] == "succeeded")
    assert succeeded >= load.ok  # every call the gateway answered 200 has its run recorded
    assert iom(iom_home, "models", "list", "--json").returncode == 0  # the registry loads
