"""`iom analytics` and `iom runs` on known data."""

from __future__ import annotations

import json

from studio.analytics import AnalyticsStore
from studio.cli import main
from studio.spec.records import CallRecord, NodeRun, RunRecord
from tests.analytics.data import load_known


def _seed(home):
    store = AnalyticsStore(home)
    load_known(store)
    store.record_run(RunRecord(id="r1", pipeline_id="p1", status="succeeded", inputs={"text": "hi"},
                               nodes={"n": NodeRun(node_id="n", model_id="m/a", status="succeeded", output={"t": "yo"})}))
    store.close()


def test_analytics_summary_text_and_json(iom_home, capsys):
    _seed(iom_home)
    assert main(["analytics", "--since", "all"]) == 0
    out = capsys.readouterr().out
    # one of the seven calls was a cache hit: the rate and the p95 are of the six made
    assert "7 calls, 2 errors (33.3% of 6 calls made), cost $0.3000 + 3 unpriced, p95 latency 375 ms" in out
    # the latency table counts the calls made, the cost table all of them: told apart by name
    headers = [line.split() for line in out.splitlines() if line.upper().startswith("MODEL")]
    assert [h[1:3] for h in headers] == [["CALLS", "MADE"], ["ALL", "CALLS"]], headers
    assert main(["analytics", "--since", "all", "--json", "--model", "m/b"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["calls"] == 3 and data["summary"]["unpriced_calls"] == 2


def test_analytics_money_reads_as_everywhere_else(iom_home, capsys):
    store = AnalyticsStore(iom_home)
    store.record_call(CallRecord(id="c1", model_id="local/text-stats", provider="local", cost_usd=0.0))
    store.close()
    assert main(["analytics", "--since", "all"]) == 0
    out = capsys.readouterr().out
    # "cost $0 … (saved $0.0000)": one sentence, two ways of writing money
    assert "cost $0," in out and "(saved $0)" in out, out


def test_analytics_bad_span_is_one_line(iom_home, capsys):
    assert main(["analytics", "--since", "soon"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a time span" in err


def test_runs_list_and_show(iom_home, capsys):
    _seed(iom_home)
    assert main(["runs", "list"]) == 0
    assert "r1" in capsys.readouterr().out
    assert main(["runs", "show", "r1", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["inputs"] == {"text": "hi"} and run["nodes"][0]["output"] == {"t": "yo"}
    assert main(["runs", "show", "r9"]) == 1
    assert "no run 'r9'" in capsys.readouterr().err


def test_settings_and_retention_from_the_cli(iom_home, capsys):
    _seed(iom_home)  # all of it from January 2026: older than 30 days
    assert main(["analytics", "--set-retention-days", "30", "--set-hashes-only", "on", "--retention",
                 "--since", "all", "--json"]) == 0
    captured = capsys.readouterr()
    assert "retention 30 days, audit hashes only" in captured.err
    # opening the database applied the new setting: the explicit step found nothing, and the
    # sentence said "0 calls rolled up" as the seven went
    assert "retention: 7 calls rolled up into daily totals" in captured.err, captured.err
    data = json.loads(captured.out)
    assert data["summary"]["calls"] == 7 and data["latency"] == []  # totals kept, detail rolled up
    assert json.loads((iom_home / "analytics.json").read_text()) == {"retentionDays": 30, "auditHashesOnly": True,
                                                                          "memoryLimitMb": 256}
    assert main(["analytics", "--set-retention-days", "-1"]) == 1


def test_retention_from_the_cli_beside_the_running_web_app_is_applied_by_it(iom_home):
    """`iom analytics --retention` was refused while the web app ran ("reading it needs that
    process: wait for it to finish or stop it"), though nothing is refused then: the web app,
    which holds the database, applies it now, and nothing recorded is lost."""
    from tests.helpers.faces import iom
    from tests.helpers.studio_server import StudioServer

    _seed(iom_home)  # all of it from January 2026: older than 30 days
    server = StudioServer(iom_home).start()
    try:
        r = iom(iom_home, "analytics", "--set-retention-days", "30", "--retention", "--since", "all", "--json")
        assert r.returncode == 0, r.stderr
        assert "retention: 7 calls rolled up into daily totals" in r.stderr
        data = json.loads(r.stdout)
        assert data["summary"]["calls"] == 7 and data["latency"] == []  # totals kept, detail rolled up
    finally:
        out = server.stop()
    assert "Traceback" not in out, out


def test_runs_show_says_unpriced_for_a_node_without_a_price(iom_home, capsys):
    """A node whose model has no price printed "—", the mark of a node that calls no model;
    the page says "unpriced", and now so does the CLI."""
    store = AnalyticsStore(iom_home)
    store.record_run(RunRecord(id="r2", pipeline_id="p1", status="succeeded", unpriced_calls=1, nodes={
        "in": NodeRun(node_id="in", status="succeeded"),
        "c": NodeRun(node_id="c", model_id="fake/m-unpriced", status="succeeded"),
        "d": NodeRun(node_id="d", model_id="local/text-stats", status="succeeded", cost_usd=0.0),
        "e": NodeRun(node_id="e", model_id="fake/m-priced", status="succeeded", cost_usd=0.0012)}))
    store.close()
    assert main(["runs", "show", "r2"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()[1:]
    at, end = header.index("COST"), header.index("ATTEMPTS")  # the table's cost column
    cost = {row.split()[0]: row[at:end].strip() for row in rows}
    assert (cost["in"], cost["c"], cost["d"], cost["e"]) == ("—", "unpriced", "free", "$0.0012"), cost


def test_retention_reports_what_opening_the_database_rolled_up(iom_home, capsys):
    """With retention already set, `iom analytics --retention` said "0 calls rolled up": opening
    the database had applied it, and the explicit step found nothing left. Told once."""
    (iom_home / "analytics.json").write_text(json.dumps({"retentionDays": 30}))
    _seed(iom_home)  # recorded after its open applied the retention: all of it (January 2026) in detail
    assert main(["analytics", "--retention", "--since", "all"]) == 0
    assert "retention: 7 calls rolled up into daily totals" in capsys.readouterr().err
    assert main(["analytics", "--retention", "--since", "all"]) == 0
    assert "retention: 0 calls rolled up into daily totals" in capsys.readouterr().err

    _seed(iom_home)  # seven more in detail: one store, the open's roll-up reported by its first application only
    store = AnalyticsStore(iom_home)
    try:
        assert store.apply_retention().calls_rolled_up == 7
        assert store.apply_retention().calls_rolled_up == 0
    finally:
        store.close()


def test_percentiles_after_retention_say_they_are_of_the_calls_kept_in_detail(iom_home, capsys):
    """Past the retention only daily totals are kept, so the p95 is of the calls still in detail;
    the page said so ("of the N calls kept in detail"), the CLI gave the figure as if of all."""
    from datetime import datetime, timezone

    _seed(iom_home)  # seven calls from January 2026
    store = AnalyticsStore(iom_home)
    for i, latency in enumerate((100.0, 300.0)):
        store.record_call(CallRecord(id=f"new{i}", time=datetime.now(timezone.utc), model_id="m/a", provider="openai",
                                     latency_ms=latency, cost_usd=0.01))
    store.close()
    assert main(["analytics", "--set-retention-days", "30", "--retention", "--since", "all"]) == 0
    out = capsys.readouterr().out
    assert "9 calls, 2 errors (25.0% of 8 calls made)" in out, out
    assert "p95 latency 290 ms (of the 2 calls kept in detail)," in out, out
    headers = [line.split() for line in out.splitlines() if line.upper().startswith("MODEL")]
    assert [h[1:4] for h in headers][0] == ["CALLS", "IN", "DETAIL"], headers


def test_runs_list_and_show_beside_the_running_web_app(iom_home):
    """Read through the web app, a run's times come back as JSON text, not datetimes: the
    commands that print them to the second must print those too (not fail on them)."""
    from tests.helpers.faces import iom
    from tests.helpers.studio_server import StudioServer

    _seed(iom_home)
    server = StudioServer(iom_home).start()
    try:
        listed = iom(iom_home, "runs", "list")
        shown = iom(iom_home, "runs", "show", "r1")
    finally:
        out = server.stop()
    assert listed.returncode == 0 and shown.returncode == 0, listed.stderr + shown.stderr
    assert "r1" in listed.stdout and "run r1 of p1: succeeded, started 20" in shown.stdout
    assert "Traceback" not in out + listed.stderr + shown.stderr
