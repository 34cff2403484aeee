"""The analytics store: a DuckDB file under IOM_HOME that implements the `Recorder` protocol.

`record_call`/`record_run` only append to a list and return; a dedicated writer thread with
its own cursor flushes every `interval_s` (≤ 1 s) or as soon as `batch_size` calls wait, one
transaction per flush (DuckDB's WAL makes a committed flush survive a hard kill). `close()`
drains everything. Readers call `read(fn)`, which gives `fn` a cursor of its own.
Nothing is opened or imported until first use, so building a Studio stays cheap.
"""

from __future__ import annotations

import atexit
import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, TypeVar

from studio.analytics.rows import call_columns, run_rows
from studio.analytics.schema import CALL_COLUMNS, migrate
from studio.analytics.settings import AnalyticsSettings, load_settings, save_settings
from studio.errors import UserError
from studio.spec.records import CallRecord, RunRecord

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_FILE = "analytics.duckdb"

_ARROW_TYPES = {"VARCHAR": "string", "TIMESTAMP": "timestamp[us]", "DOUBLE": "float64", "BIGINT": "int64", "BOOLEAN": "bool"}


class AnalyticsStore:
    def __init__(self, home: Path, *, interval_s: float = 0.5, batch_size: int = 5000):
        if not 0 < interval_s <= 1.0:
            raise ValueError("interval_s must be in (0, 1]")
        self.home = Path(home)
        self.path = self.home / DB_FILE
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.write_errors = 0
        self.committed_calls = 0  # calls committed by this store (tests and the bench watch it)
        self._settings: AnalyticsSettings | None = None
        self._db = None
        self._open_lock = threading.Lock()
        self._lock = threading.Lock()
        self._calls: list[tuple[CallRecord, Any, Any]] = []
        self._runs: list[RunRecord] = []
        self._commands: list[tuple[Callable, Future]] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ---- settings -------------------------------------------------------------------------
    @property
    def settings(self) -> AnalyticsSettings:
        if self._settings is None:
            self._settings = load_settings(self.home)
        return self._settings

    def update_settings(self, **changes) -> AnalyticsSettings:
        new = self.settings.model_copy(update=changes)
        new = AnalyticsSettings.model_validate(new.model_dump())
        save_settings(self.home, new)
        self._settings = new
        return new

    # ---- connection -----------------------------------------------------------------------
    def _connection(self):
        with self._open_lock:
            if self._db is None:
                import duckdb

                try:
                    db = duckdb.connect(str(self.path))
                except duckdb.IOException as e:
                    if "lock" in str(e).lower():
                        raise UserError(
                            f"the analytics database {self.path} is in use by another IoM Studio process; "
                            "stop that process (or ask it through its gateway) and try again."
                        ) from None
                    raise UserError(f"could not open the analytics database {self.path}: {e}") from None
                migrate(db)
                from studio.analytics.retention import apply_retention

                apply_retention(db, self.settings.retention_days)
                self._db = db
                atexit.register(self.close)
        return self._db

    def read(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run `fn(cursor, …)` on a cursor of its own (safe from any thread)."""
        cur = self._connection().cursor()
        try:
            return fn(cur, *args, **kwargs)
        finally:
            cur.close()

    # ---- Recorder ---------------------------------------------------------------------------
    def record_call(self, record: CallRecord, input: Any = None, output: Any = None) -> None:
        with self._lock:
            self._calls.append((record, input, output))
            waiting = len(self._calls)
            self._ensure_writer()
        if waiting >= self.batch_size:
            self._wake.set()

    def record_run(self, run: RunRecord) -> None:
        with self._lock:
            self._runs.append(run.model_copy(deep=True))  # the engine keeps mutating its copy
            self._ensure_writer()

    # ---- writer -----------------------------------------------------------------------------
    def _ensure_writer(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run_writer, name="analytics-writer", daemon=True)
            self._thread.start()

    def _run_writer(self) -> None:
        try:
            cur = self._connection().cursor()
        except Exception:
            log.exception("analytics writer could not open %s; records stay queued", self.path)
            return
        try:
            while True:
                self._wake.wait(self.interval_s)
                self._wake.clear()
                stopping = self._stopping
                self._drain(cur)
                if stopping:
                    break
        finally:
            cur.close()

    def _drain(self, cur) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
            runs, self._runs = self._runs, []
            commands, self._commands = self._commands, []
        for start in range(0, len(calls), self.batch_size * 4):
            self._write(cur, calls[start:start + self.batch_size * 4], [])
        if runs:
            self._write(cur, [], runs)
        for fn, future in commands:
            try:
                future.set_result(fn(cur))
            except BaseException as e:  # handed to the waiting caller
                future.set_exception(e)

    def _write(self, cur, calls, runs) -> None:
        try:
            hashes_only = self.settings.audit_hashes_only
            cur.execute("BEGIN TRANSACTION")
            if calls:
                self._insert_calls(cur, calls, hashes_only)
            if runs:
                self._insert_runs(cur, runs, hashes_only)
            cur.execute("COMMIT")
            self.committed_calls += len(calls)
        except Exception:
            self.write_errors += 1
            log.exception("analytics: a batch of %d calls and %d runs could not be written", len(calls), len(runs))
            try:
                cur.execute("ROLLBACK")
            except Exception:
                pass

    def _insert_calls(self, cur, calls, hashes_only: bool) -> None:
        import pyarrow as pa

        blobs: dict[str, str] = {}
        columns = call_columns(calls, blobs)
        table = pa.table({
            name: pa.array(columns[k], type=pa.type_for_alias(_ARROW_TYPES[sql.split()[0]]))
            for k, (name, sql) in enumerate(CALL_COLUMNS)
        })
        cur.register("calls_batch", table)
        cur.execute("INSERT INTO calls SELECT * FROM calls_batch")
        cur.unregister("calls_batch")
        if blobs:
            hashes = list(blobs)
            blob_table = pa.table({
                "sha256": pa.array(hashes, pa.string()),
                "body": pa.array([None if hashes_only else blobs[h] for h in hashes], pa.string()),
                "size": pa.array([len(blobs[h].encode("utf-8")) for h in hashes], pa.int64()),
            })
            cur.register("blobs_batch", blob_table)
            cur.execute("INSERT INTO audit_blobs SELECT sha256, body, size, CAST(now() AS TIMESTAMP) FROM blobs_batch "
                        "WHERE sha256 NOT IN (SELECT sha256 FROM audit_blobs)")
            cur.unregister("blobs_batch")

    def _insert_runs(self, cur, runs: list[RunRecord], hashes_only: bool) -> None:
        latest = {run.id: run for run in runs}  # a run recorded twice in one batch: keep the last
        for run in latest.values():
            run_row, node_rows = run_rows(run, hashes_only)
            cur.execute("DELETE FROM run_nodes WHERE run_id = ?", [run.id])
            cur.execute("DELETE FROM runs WHERE id = ?", [run.id])
            cur.execute(f"INSERT INTO runs VALUES ({','.join('?' * len(run_row))})", list(run_row))
            if node_rows:
                cur.executemany(f"INSERT INTO run_nodes VALUES ({','.join('?' * len(node_rows[0]))})",
                                [list(r) for r in node_rows])

    def submit(self, fn: Callable[[Any], T], timeout: float | None = 60) -> T:
        """Run `fn(cursor)` on the writer thread after everything queued so far is written."""
        future: Future = Future()
        with self._lock:
            self._commands.append((fn, future))
            self._ensure_writer()
        self._wake.set()
        return future.result(timeout)

    def flush(self, timeout: float | None = 60) -> None:
        """Block until everything recorded so far is committed."""
        self.submit(lambda cur: None, timeout)

    def apply_retention(self):
        from studio.analytics.retention import apply_retention

        days = self.settings.retention_days
        return self.submit(lambda cur: apply_retention(cur, days))

    def close(self) -> None:
        """Write everything queued, stop the writer, close the database. Safe to call twice."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._stopping = True
            self._wake.set()
            thread.join()
        self._thread = None
        if self._calls or self._runs or self._commands:  # writer never got the database open
            try:
                cur = self._connection().cursor()
                self._drain(cur)
                cur.close()
            except Exception:
                log.exception("analytics: records queued at close could not be written")
        with self._open_lock:
            if self._db is not None:
                self._db.close()
                self._db = None
                atexit.unregister(self.close)
