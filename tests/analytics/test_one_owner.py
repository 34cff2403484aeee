"""Two stores on one data dir in one process: one writes the database, the other spools.

DuckDB keeps other processes out of its file, but a second connection in the same process
shares the first's database. Two stores both took it, both took in every spool segment, and
each record was written twice (the CI failure behind this: "Conflict on tuple deletion" as two
writers replaced the same run at once)."""

from __future__ import annotations

import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics.store import DatabaseBusy
from studio.spec.records import CallRecord, RunRecord


def _calls_and_runs(cur) -> tuple[int, list[tuple[str, str]]]:
    calls = cur.execute("SELECT count(*) FROM calls").fetchone()[0]
    return calls, cur.execute("SELECT id, status FROM runs ORDER BY id").fetchall()


def test_a_second_store_in_the_process_spools_and_each_record_is_stored_once(iom_home):
    first = AnalyticsStore(iom_home, interval_s=0.05)
    second = AnalyticsStore(iom_home, interval_s=0.05)
    try:
        assert first.start() is True
        assert second.start() is False  # busy, as if it were another process
        for i in range(50):
            first.record_call(CallRecord(id=f"a{i}", model_id="m/a", provider="p"))
            second.record_call(CallRecord(id=f"b{i}", model_id="m/b", provider="p"))
        for status in ("running", "succeeded"):  # a run replaced while both writers run
            first.record_run(RunRecord(id="run-a", pipeline_id="p", status=status))
            second.record_run(RunRecord(id="run-b", pipeline_id="p", status=status))
        with pytest.raises(DatabaseBusy, match="another studio in this process"):
            second.read(q.list_runs)
        assert first.read(_calls_and_runs) == (100, [("run-a", "succeeded"), ("run-b", "succeeded")])
        assert first.write_errors == second.write_errors == 0
    finally:
        first.close()
    # the first let it go: the second takes it (its writer tries each interval) and reads it
    assert second.read(_calls_and_runs) == (100, [("run-a", "succeeded"), ("run-b", "succeeded")])
    second.close()


def test_a_store_closed_and_opened_again_takes_its_database_back(iom_home):
    store = AnalyticsStore(iom_home)
    store.record_call(CallRecord(id="one", model_id="m/a", provider="p"))
    store.close()
    store.record_call(CallRecord(id="two", model_id="m/a", provider="p"))  # starts its writer again
    assert store.read(_calls_and_runs)[0] == 2
    store.close()
    other = AnalyticsStore(iom_home)  # nothing holds the file once both closed
    assert other.read(_calls_and_runs)[0] == 2
    other.close()
