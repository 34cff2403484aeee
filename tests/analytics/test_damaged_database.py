"""An analytics database DuckDB will not read (not a database, a block whose checksum fails) is
one sentence saying what to do, in the CLI and to readers; records made meanwhile wait in the
spool and reach the new database once the damaged one is moved aside."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.errors import UserError
from studio.spec.records import CallRecord
from tests.helpers.studio_server import ROOT, cli_env

DAMAGED = "is damaged ("
WHAT_TO_DO = "move it aside (keep it: it holds the history so far), then try again"


def _store_calls(home, ids) -> None:
    store = AnalyticsStore(home)
    for call_id in ids:
        store.record_call(CallRecord(id=call_id, model_id="m/a", provider="p"), {"q": call_id}, {"a": call_id})
    store.close()


def test_a_file_that_is_not_a_database_is_one_sentence_and_the_records_wait_in_the_spool(iom_home):
    (iom_home / "analytics.duckdb").write_bytes(b"not a database at all\n" * 100)
    store = AnalyticsStore(iom_home)
    store.record_call(CallRecord(id="meanwhile", model_id="m/a", provider="p"))
    with pytest.raises(UserError) as refused:
        store.read(q.summary)
    store.close()
    assert DAMAGED in str(refused.value) and WHAT_TO_DO in str(refused.value)
    assert str(iom_home / "analytics.duckdb") in str(refused.value)

    (iom_home / "analytics.duckdb").rename(iom_home / "analytics.duckdb.broken")
    store = AnalyticsStore(iom_home)
    try:
        assert store.read(q.summary)["calls"] == 1  # the call made while it was damaged
    finally:
        store.close()


def test_a_block_whose_checksum_fails_is_one_line_in_the_cli_not_a_traceback(iom_home):
    _store_calls(iom_home, [f"c{i}" for i in range(50)])
    path = iom_home / "analytics.duckdb"
    with open(path, "r+b") as f:  # what a failing disk or a bad copy leaves: a block of other bytes
        f.seek(12288)
        f.write(b"\xa5" * 200_000)
    for args in (["analytics", "--since", "all"], ["analytics", "--since", "all", "--json"]):
        done = subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, env=cli_env(iom_home),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the analytics database ") and "Traceback" not in done.stderr
        assert DAMAGED in lines[0] and WHAT_TO_DO in lines[0]
    assert os.path.getsize(path) > 12288  # nothing was done to the file: it is the person's to keep
