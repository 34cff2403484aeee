"""The analytics store: a DuckDB file under IOM_HOME that implements the `Recorder` protocol.

Durable before reported: `record_call`/`record_run` first append the record, redacted, to this
process's spool segment (studio/analytics/spool.py) and only then return, so a caller that
prints "succeeded" afterwards never loses the record, whatever kills the process next.

One process at a time holds the database (DuckDB's file lock): the owner. The owner's writer
thread, with its own cursor, commits every `interval_s` (≤ 1 s) or as soon as `batch_size`
calls wait: the records this process queued in memory, and the new lines of every other
process's segment (the CLI beside a running web app, crashed processes), with how far each
segment was read, in one transaction (at most a chunk of each file, 8 MB; while DuckDB's memory
limit cannot take a round, less, and of the lines queued in memory too: `_write_less`). A
process that cannot get the database (the web app holds it) only spools, and its writer keeps
trying to become the owner. Readers call
`read(fn)`; where another process owns the database that raises `DatabaseBusy`, and the CLI
asks the running web app instead (studio/analytics/remote.py).
Nothing is opened or imported until first use, so building a Studio stays cheap.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, TypeVar

from studio.analytics import handover, owners, rollup, spool
from studio.analytics.lookups import marks, parts
from studio.analytics.lines import CALL_PREFIX, RUN_PREFIX, call_line, decode, decode_run, latest_runs, run_line
from studio.analytics.rows import call_columns, content_text, run_rows
from studio.analytics.schema import CALL_COLUMNS, migrate
from studio.analytics.settings import FILE_NAME, AnalyticsSettings, load_settings, save_settings
from studio.errors import UserError
from studio.spec.records import CallRecord, RunRecord

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_FILE = "analytics.duckdb"
MIN_CHUNK = 64 << 10  # the fewest bytes of a segment one write takes when memory is short (a longer line: whole)
INTERRUPTED = ("interrupted: the process running it ended before the run did (killed, crashed, or its end could "
               "not be recorded); the calls it finished are recorded")
GROW_AFTER = 20  # writes that fit before a chunk halved for memory is tried at twice its size
# DuckDB's memory limit in a process that records (a command, a batch) until a query or a write
# needs more, then the setting (memory_limit_mb). DuckDB keeps what it writes cached up to its
# limit, and its checkpoints take more as the database grows: a 100k-row batch peaked ~200 MB
# higher than at 1k rows at 256 MB, ~50 MB higher at this (bench_batch.py --memory-curve). The
# web app keeps the setting from the start: that cache is what keeps its dashboard quick.
CLOSE_WAIT_S = 10.0  # how long a close waits for reads still running before it stops them
LEAN_LIMIT_MB = 32
# A round of spool lines bigger than a quarter of the lean limit (a backlog, a burst) gets the
# setting before it is written: at the lean limit it would run out of memory once and be
# written again.
LEAN_ROUND_BYTES = LEAN_LIMIT_MB * 2**20 // 4
ROTATE_BYTES = 8 << 20  # our spool segment's size, once taken in, past which a new one replaces it

_ARROW_TYPES = {"VARCHAR": "string", "TIMESTAMP": "timestamp[us]", "DOUBLE": "float64", "BIGINT": "int64", "BOOLEAN": "bool"}


class _OutOfMemory(Exception):
    """DuckDB's memory limit, not the records, refused a write."""


def _out_of_memory(e: BaseException) -> bool:
    import duckdb

    return isinstance(e, duckdb.OutOfMemoryException)


def save_progress(cur, progress: dict[str, int]) -> None:
    """How far each segment is read, in the caller's transaction: its row deleted and inserted
    again, never updated. DuckDB does not checkpoint a commit that updated rows while another
    transaction is open (a read in flight: a page, a capability node's latency figures), so the
    update every commit made let the write-ahead log, and the memory behind it, grow for as long
    as reads overlapped the writer (tests/analytics/test_retention_and_migrations.py)."""
    names = list(progress)
    cur.execute(f"DELETE FROM spool_progress WHERE segment IN ({marks(names)})", names)
    cur.execute(f"INSERT INTO spool_progress VALUES {', '.join(['(?, ?)'] * len(names))}",
                [v for name in names for v in (name, progress[name])])


def damaged(e: BaseException) -> bool:
    """Whether DuckDB refused the file itself: not a database, or a block whose checksum fails."""
    import duckdb

    text = str(e).lower()
    return isinstance(e, duckdb.Error) and ("corrupt" in text or "not a valid duckdb" in text or "checksum" in text)


def not_opened(path: Path, e: BaseException) -> UserError:
    """One sentence for a database DuckDB will not open or read, with what to do about it."""
    fault = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if damaged(e):
        return UserError(f"the analytics database {path} is damaged ({fault}): move it aside (keep it: it holds the "
                         "history so far), then try again: a new one is made, and the records waiting in the spool go "
                         "into it.")
    return UserError(f"could not open the analytics database {path} ({fault}): free space on its disk or make it "
                     "writable; if DuckDB says it is from another version, upgrade IoM Studio or move the file aside; "
                     "then try again.")


REFUSED_FILE = "analytics-refused.jsonl"


def refused_file(home: Path) -> Path:
    """Where records the database refuses are kept, as their spool lines: not stored, not lost."""
    return Path(home) / REFUSED_FILE


def keep_refused(home: Path, lines: list[bytes]) -> None:
    from studio.atomic import append_whole

    try:
        fd = os.open(refused_file(home), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            append_whole(fd, b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines),
                         os.fstat(fd).st_size)
        finally:
            os.close(fd)
    except OSError:
        log.exception("analytics: the refused records could not be kept in %s either", refused_file(home))


def refused_count(home: Path) -> int:
    """How many records the database refused (kept in `refused_file`); 0 when none."""
    try:
        with refused_file(home).open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def refused_sentence(home: Path) -> str | None:
    n = refused_count(home)
    if not n:
        return None
    return (f"{n:,} record{'s' if n != 1 else ''} the analytics database refused (a value it cannot hold) "
            f"{'are' if n != 1 else 'is'} not counted here; kept as given in {refused_file(home)}.")


class DatabaseBusy(UserError):
    """Another IoM Studio process holds analytics.duckdb (its records still reach it via the spool)."""


class AnalyticsStore:
    def __init__(self, home: Path, *, interval_s: float = 0.5, batch_size: int = 5000):
        if not 0 < interval_s <= 1.0:
            raise ValueError("interval_s must be in (0, 1]")
        self.home = Path(home)
        self.path = self.home / DB_FILE
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.write_errors = 0
        self.refused_records = 0  # calls and runs left out because the database refuses them
        self.committed_calls = 0  # calls committed by this store (tests and the bench watch it)
        self._settings: AnalyticsSettings | None = None
        self._settings_stamp: tuple[int, int] | None = None  # analytics.json's (mtime, size) when read
        self._db = None
        self._open_lock = threading.Lock()
        self._lock = threading.Lock()
        self._segment = spool.SpoolSegment(self.home)
        self._request = handover.Request(self.home)  # the web app's, while a command holds the database
        # Own records are also queued in memory once we own the database (no re-reading our own
        # file); lines written before that, or in a batch that failed, are read back from the file.
        self._in_memory = False
        self._file_until = 0  # own-segment lines before this offset are not in memory
        self._queued_until = 0  # own-segment offset just past the last record queued in memory
        self._queued_bytes = 0  # of the lines queued in memory
        # Bytes of spool lines one transaction takes (of each segment; of the queue in memory too
        # once lowered): halved when DuckDB runs out of its memory limit writing them, doubled
        # again after GROW_AFTER writes that fit.
        self._chunk = spool.READ_CHUNK
        self._fitted = 0  # writes in a row that fitted, since the chunk was last changed
        self._told_out_of_memory = False
        # What opening the database rolled up (it applies the retention setting), until an
        # explicit `apply_retention` reports it: that one alone found nothing left to do.
        self._retention_untold = None
        self._lean = True  # start DuckDB at LEAN_LIMIT_MB (not the web app: `start(serving_pages=True)`)
        self._limit_mb = 0  # DuckDB's memory limit now: lean, or the setting
        self._told_not_opened = ""  # the last reason logged for a database that would not open
        self._progress: dict[str, int] = {}  # segment -> bytes committed (owner only)
        self._hourly_rows = 0  # hourly_calls rows after the last compaction, and added since
        self._hourly_added = 0
        self._calls: list[bytes] = []  # the spool lines of queued calls (call_batch parses them)
        self._runs: list[bytes] = []  # spool lines of runs, decoded by the writer
        # runs this process recorded as started and not yet as ended: their latest line, carried
        # into a new segment when ours is rotated (a crash then still finds them unended)
        self._unended: dict[str, bytes] = {}
        self._commands: list[tuple[Callable, Future]] = []
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._writer_running = False  # set when the writer starts, cleared by the writer as it ends

    # ---- settings -------------------------------------------------------------------------
    @property
    def settings(self) -> AnalyticsSettings:
        """analytics.json as it is now: read again when the file changes (a stat a round), so
        `iom analytics --set-hashes-only on` holds in the running app's writer at once. A
        file damaged meanwhile keeps the settings read before (the writer must not stop)."""
        try:
            st = os.stat(self.home / FILE_NAME)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._settings is None or stamp != self._settings_stamp:
            try:
                self._settings = load_settings(self.home)
            except UserError:
                if self._settings is None:
                    raise
                log.warning("%s could not be read; the settings read before are kept", self.home / FILE_NAME)
            self._settings_stamp = stamp
        return self._settings

    def update_settings(self, **changes) -> AnalyticsSettings:
        new = self.settings.model_copy(update=changes)  # (over the file as it is now)
        new = AnalyticsSettings.model_validate(new.model_dump())
        save_settings(self.home, new)
        self._settings, self._settings_stamp = None, None  # read back, with the file's new stamp
        return new

    # ---- ownership ------------------------------------------------------------------------
    @property
    def is_owner(self) -> bool:
        return self._db is not None

    def start(self, *, take_over: bool = False, serving_pages: bool = False) -> bool:
        """Take the database now if we can (the web app does at start, so that CLI commands
        beside it spool instead of racing it for the file) and start the writer. With
        `take_over` (the web app), ask a command that holds it to let it go
        (studio/analytics/handover.py); the writer takes it once it is free. `serving_pages`
        (the web app): DuckDB gets the setting's memory from the start, not LEAN_LIMIT_MB."""
        if serving_pages:
            self._lean = False  # for every later opening: a busy database is taken by the writer
        try:
            db = self._connection()
            if serving_pages:  # a page's read may have opened it lean, even while we got here
                cur = db.cursor()
                try:
                    self._allow_more_memory(cur)
                finally:
                    cur.close()
        except DatabaseBusy:
            if take_over:
                self._request.make()
        with self._lock:
            self._ensure_writer()
        return self.is_owner

    def take_over(self, timeout_s: float) -> bool:
        """Ask the process that holds the database to let it go and take it (a read beside a
        batch, with no web app running); False when it is still held after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                self._request.make()  # (again if another reader's request stood when we asked)
                try:
                    self._connection()
                    return True
                except DatabaseBusy:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(0.05)
        finally:
            self._request.withdraw()  # (done already once the database is ours)

    def _connection(self):
        with self._open_lock:
            if self._db is None:
                if not self._request.held and handover.requested(self.home):
                    raise DatabaseBusy(  # the web app asked for it: we spool until it has it
                        f"the analytics database {self.path} is being handed to the running IoM Studio web app; "
                        "records still reach it, and the web app answers reads of it: try again in a moment.")
                if not owners.claim(self.path, self):  # DuckDB's file lock keeps out other processes only
                    raise DatabaseBusy(
                        f"the analytics database {self.path} is held by another studio in this process; "
                        "records still reach it: read it there, or close that one first.")
                try:
                    db = self._open()
                except BaseException:
                    owners.release(self.path, self)
                    raise
                with self._lock:
                    self._in_memory = True
                    self._file_until = self._segment.size
                    self._queued_until = self._segment.size
                self._db = db
                atexit.register(self.close)
                self._request.withdraw()
        return self._db

    def _open(self):
        """The database connected, limited and migrated (the caller has claimed its file)."""
        import duckdb

        try:
            db = duckdb.connect(str(self.path))
        except duckdb.Error as e:
            if isinstance(e, duckdb.IOException) and "lock" in str(e).lower():
                raise DatabaseBusy(
                    f"the analytics database {self.path} is in use by another IoM Studio process; "
                    "records still reach it, but reading it needs that process: wait for it to finish "
                    "or stop it, then try again."
                ) from None
            raise not_opened(self.path, e) from None
        try:
            cap = self.settings.memory_limit_mb
            self._limit_mb = min(LEAN_LIMIT_MB, cap) if self._lean else cap
            db.execute(f"SET memory_limit = '{self._limit_mb}MB'")
            self._with_memory(db, migrate)  # one transaction a step: run again, it goes on
            from studio.analytics.retention import apply_retention

            opened = self._with_memory(db, apply_retention, self.settings.retention_days)
            if opened.calls_rolled_up or opened.runs_trimmed or opened.blobs_deleted:
                untold = self._retention_untold
                self._retention_untold = opened.plus(untold) if untold else opened
            self._progress = dict(db.execute("SELECT segment, byte_offset FROM spool_progress").fetchall())
        except duckdb.Error as e:
            db.close()
            raise not_opened(self.path, e) from None
        except BaseException:
            db.close()
            raise
        return db

    def read(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run `fn(cursor, …)` on a cursor of its own (safe from any thread), after everything
        recorded so far — here and in every process's spool — is committed, so a read shows what
        was recorded a moment ago (and, in a process that just took the database, what a killed
        one left spooled). Raises `DatabaseBusy` when another process owns the database."""
        self._connection()
        if threading.current_thread() is not self._thread:
            self.flush()
        return self.read_committed(fn, *args, **kwargs)

    def read_committed(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """`read` without waiting for what is still queued or spooled: what is committed now
        (at most an interval behind). For figures that hold for minutes, such as the recent
        latency capability nodes route by, where waiting on the writer would hold up runs."""
        cur = self._connection().cursor()
        try:
            return self._with_memory(cur, fn, *args, **kwargs)
        except Exception as e:
            if damaged(e):  # a block found broken only when a query reads it
                raise not_opened(self.path, e) from None
            raise
        finally:
            cur.close()

    # ---- Recorder ---------------------------------------------------------------------------
    def record_call(self, record: CallRecord, input: Any = None, output: Any = None) -> None:
        line = call_line(record, content_text(input), content_text(output))
        with self._lock:
            end = self._segment.append(line, "call")
            if self._in_memory:
                self._calls.append(line)
                self._queued_until = end
                self._queued_bytes += len(line)
            full = len(self._calls) >= self.batch_size or self._queued_bytes >= self._short_of_memory()
            self._ensure_writer()
        if full and not self._wake.is_set():
            self._wake.set()

    def record_run(self, run: RunRecord) -> None:
        line = run_line(run)
        with self._lock:
            end = self._segment.append(line, "run")
            if run.status == "running":
                self._unended[run.id] = line
            else:
                self._unended.pop(run.id, None)
            if self._in_memory:
                # the line, not the object: a snapshot the engine cannot mutate (it keeps changing
                # its record), redacted like the spool's, decoded by the writer off the event loop
                self._runs.append(line)
                self._queued_until = end
                self._queued_bytes += len(line)
            self._ensure_writer()

    # ---- writer -----------------------------------------------------------------------------
    def _ensure_writer(self) -> None:
        """Called under the lock on every record: a flag, not Thread.is_alive() (which takes a
        lock of its own: 8% of record_call in the profile)."""
        if not self._writer_running:
            self._writer_running = True
            self._stopping = False
            self._thread = threading.Thread(target=self._run_writer, name="analytics-writer", daemon=True)
            self._thread.start()

    def _run_writer(self) -> None:
        cur = None
        try:
            while True:
                self._wake.wait(self.interval_s)
                self._wake.clear()
                stopping = self._stopping
                try:
                    self._segment.sync()  # what a power cut could lose is at most one interval
                except OSError:
                    log.exception("analytics: could not sync the spool segment %s", self._segment.path)
                if cur is None:
                    try:
                        cur = self._connection().cursor()
                    except DatabaseBusy as busy:  # another process owns it; our lines wait in the spool
                        self._refuse_commands(busy)
                    except UserError as e:  # damaged, or refused by the disk: said once, tried again each interval
                        self._tell_not_opened(e)
                    except Exception:
                        log.exception("analytics writer could not open %s; records stay in the spool", self.path)
                if cur is not None:  # commands are only queued once we own the database (submit)
                    if stopping or not handover.requested(self.home):
                        self._drain(cur, final=stopping)
                    else:  # the web app asks for it: what is queued is written, then it is let go
                        self._let_go(cur)
                        cur = None
                if stopping:
                    break
        finally:
            try:
                if cur is not None:
                    cur.close()
            finally:
                self._writer_running = False

    def _tell_not_opened(self, e: UserError) -> None:
        """Why the database would not open, logged once per reason (the writer tries each interval)."""
        if str(e) != self._told_not_opened:
            self._told_not_opened = str(e)
            log.error("analytics: %s Until then records stay in the spool.", e)

    def _let_go(self, cur) -> None:
        """Close the database for the web app that asked for it. From the switch on, records go
        to the file only; what was queued in memory before it is written first, so the web app
        takes in the file from where this process's last write stopped."""
        with self._open_lock:  # no other thread gets the database from here on
            with self._lock:
                self._in_memory = False
            self._drain(cur)
            cur.close()
            self._close_db()
        log.info("analytics: handed %s to the web app; this process spools its records from now on", self.path)

    def _close_db(self) -> None:
        """Close the database and let its file go (to another store of this process, too). A read
        still running on a cursor of it (a page's, as the web app stops on a busy machine) is let
        finish: DuckDB refuses to close a connection in use, and the close raised."""
        import duckdb

        deadline = time.monotonic() + CLOSE_WAIT_S
        while True:
            try:
                self._db.close()
                break
            except duckdb.ResourceInUseException:
                if time.monotonic() >= deadline:
                    self._db.interrupt()  # a read that long is stopped; the records are all written
                    deadline = float("inf")
                time.sleep(0.02)
        self._db = None
        owners.release(self.path, self)
        atexit.unregister(self.close)

    def _refuse_commands(self, busy: DatabaseBusy) -> None:
        """Commands queued just before the database was let go: their callers read elsewhere
        (studio/analytics/remote.py) instead of waiting for a writer that cannot run them."""
        with self._lock:
            commands, self._commands = self._commands, []
        for _, future in commands:
            future.set_exception(busy)

    def _drain(self, cur, *, final: bool = False) -> None:
        """Commit what is queued here and every segment's new lines, round after round while a
        round's read stopped short of what a segment held (one round reads at most READ_CHUNK
        of each), then run the waiting commands: a read after `flush()` sees everything recorded
        before it. Not until the spool is idle: beside a batch that spools without a pause,
        every round finds new lines, and a read waited for the whole batch."""
        with self._lock:
            calls, self._calls = self._calls, []
            run_lines, self._runs = self._runs, []
            commands, self._commands = self._commands, []
            queued_until = self._queued_until
            queued_bytes, self._queued_bytes = self._queued_bytes, 0
        if queued_bytes > self._short_of_memory():  # more than a write takes now: read from the file, in chunks
            with self._lock:
                self._file_until = max(self._file_until, queued_until)
            calls, run_lines = [], []
        while True:
            more, written = self._take_in(cur, calls, run_lines, queued_until)
            calls, run_lines = [], []
            if not more or not written:
                break
        self._collect_finished(cur, final=final)
        for fn, future in commands:
            try:
                future.set_result(self._with_memory(cur, fn))
            except BaseException as e:  # handed to the waiting caller
                future.set_exception(e)

    def _take_in(self, cur, calls: list[bytes], runs: list[bytes], queued_until: int) -> tuple[bool, bool]:
        """One round: (whether a segment holds more than was read, whether the round was committed).
        `calls` and `runs` are the lines queued in memory, after what the files hold."""
        with self._lock:
            file_until = self._file_until
        own = self._segment.name
        backlogs: list[spool.Backlog] = []
        done = self._progress.get(own, 0)
        if done < file_until:  # own lines written before we owned the database, or from a failed batch
            mine = spool.read_from(self._segment.path, done, until=file_until, chunk=self._chunk)
            backlogs.append(mine)
            if mine.end < file_until and (calls or runs):
                # A long backlog of our own: what is queued in memory is in the file too, after it.
                with self._lock:
                    self._file_until = max(self._file_until, queued_until)
                calls, runs = [], []
        for path in spool.segments(self.home):
            if path.name != own:
                backlogs.append(spool.read_from(path, self._progress.get(path.name, 0), chunk=self._chunk))
        call_lines, run_lines, other_runs = [], [], []
        for backlog in backlogs:
            for line in backlog.lines:
                if line.startswith(CALL_PREFIX):
                    call_lines.append(line)
                    continue
                if line.startswith(RUN_PREFIX):
                    run_lines.append(line)
                    continue
                try:
                    kind, item = decode(line)
                except Exception:
                    log.warning("analytics: skipped an unreadable line in spool segment %s", backlog.name)
                    continue
                if kind == "call":
                    call_lines.append(line)
                else:
                    other_runs.append(item)
        progress = {b.name: b.end for b in backlogs if b.end != self._progress.get(b.name, 0)}
        if calls or runs:
            progress[own] = max(queued_until, progress.get(own, 0))
        all_calls = call_lines + calls
        all_runs = other_runs + self._decode_runs(latest_runs(run_lines + runs))
        more = not all(b.at_end for b in backlogs)
        if not (all_calls or all_runs or progress):
            return more, True
        if self._limit_mb < self.settings.memory_limit_mb and \
                sum(map(len, all_calls)) + sum(map(len, run_lines)) + sum(map(len, runs)) > LEAN_ROUND_BYTES:
            self._allow_more_memory(cur)
        if self._write(cur, all_calls, all_runs, progress):
            self._progress.update(progress)
            return more, True
        if calls or runs:
            with self._lock:  # they are in our file: read them back from there next time
                self._file_until = max(self._file_until, queued_until)
        return more, False

    def _collect_finished(self, cur, *, final: bool) -> None:
        """Delete segments that are read to their end and whose writer is gone (ours on close)."""
        finished = []
        for path in spool.segments(self.home):
            mine = path.name == self._segment.name
            if mine and not final:
                self._rotate_if_big(cur)
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if self._progress.get(path.name, 0) < size:
                continue
            if mine:
                with self._lock:
                    if self._segment.size != size or self._calls or self._runs:
                        continue
                    left_running = set(self._unended)
                if not self._interrupted(cur, left_running):
                    continue
                with self._lock:
                    if self._segment.size != size:
                        continue
                    self._segment.close(delete=True)
            elif spool.writer_gone(path):
                if not self._interrupted(cur, spool.runs_left_running(path)):
                    continue
                path.unlink(missing_ok=True)  # the file first: a stale progress row is harmless
            else:
                continue
            finished.append(path.name)
        if finished:
            try:
                cur.execute(f"DELETE FROM spool_progress WHERE segment IN ({marks(finished)})", finished)
            except Exception:
                log.exception("analytics: could not forget finished spool segments")
            for name in finished:
                self._progress.pop(name, None)

    def _rotate_if_big(self, cur) -> None:
        """Our segment, once ROTATE_BYTES long and wholly in the database, is replaced by a new
        one and deleted: it grew for as long as the process lived (a web app: ~12 MB per 1,000
        pipeline calls), and after a kill the next start read it all again. The runs still
        going start the new segment, so a crash after this still finds them unended."""
        with self._lock:
            old = self._segment
            size = old.size
            if size < ROTATE_BYTES or self._progress.get(old.name, 0) < size or self._calls or self._runs:
                return
            new = spool.SpoolSegment(self.home)
            try:
                for line in self._unended.values():
                    new.append(line, "run")
            except spool.NotRecorded:  # a full disk: keep the old one, try again later
                new.close(delete=True)
                return
            self._segment = new
            self._file_until = self._queued_until = new.size  # the carried lines are read back from the file
        try:
            old.close(delete=True)
            cur.execute("DELETE FROM spool_progress WHERE segment = ?", [old.name])
        except Exception:  # a segment left behind is read to its end and collected like any other
            log.exception("analytics: could not remove the rotated spool segment %s", old.path)
        self._progress.pop(old.name, None)

    @staticmethod
    def _interrupted(cur, run_ids: set[str]) -> bool:
        """Store the runs a finished segment left running as failed, saying why: nothing will
        ever record their end, and a run shown as running for good misleads the audit trail.
        False when the database refused (the segment is then kept, to try again)."""
        if not run_ids:
            return True
        try:
            for part in parts(sorted(run_ids)):
                cur.execute(f"UPDATE runs SET status = 'failed', error = ? WHERE status = 'running' AND id IN ({marks(part)})",
                            [INTERRUPTED, *part])
        except Exception:
            log.exception("analytics: could not mark %d runs as interrupted; trying again later", len(run_ids))
            return False
        return True

    def _write(self, cur, call_lines: list[bytes], runs, progress: dict[str, int], *, by_rows: bool = False) -> bool:
        from studio.analytics import call_batch  # pyarrow: ~110 ms of import, kept off the studio's start

        table = None
        try:
            hashes_only = self.settings.audit_hashes_only
            table = None if by_rows else call_batch.parse_calls(call_lines)
            calls = None if table is not None else self._decode_calls(call_lines)
            cur.execute("BEGIN TRANSACTION")
            if table is not None:
                self._insert_call_table(cur, table, hashes_only)
            elif calls:
                self._insert_calls(cur, calls, hashes_only)
            if runs:
                self._insert_runs(cur, runs, hashes_only)
            if progress:
                save_progress(cur, progress)
            compacted = self._hourly_added > max(10_000, self._hourly_rows)  # amortised: the table at most doubles
            if compacted:
                rows = rollup.compact(cur)
            cur.execute("COMMIT")
            if compacted:
                self._hourly_rows, self._hourly_added = rows, 0
            self.committed_calls += table.num_rows if table is not None else len(calls)
            self._told_out_of_memory = False
            self._fitted += 1
            if self._fitted >= GROW_AFTER and self._chunk < spool.READ_CHUNK:
                self._chunk, self._fitted = min(spool.READ_CHUNK, self._chunk * 2), 0
            return True
        except Exception as e:
            self.write_errors += 1
            if _out_of_memory(e):
                self._rollback(cur)
                if not self._allow_more_memory(cur):
                    self._write_less(len(call_lines), len(runs))
                return False  # the records wait in the spool; the next round has more memory or takes fewer
            log.exception("analytics: a batch of %d calls and %d runs could not be written (%s)",
                          len(call_lines), len(runs), str(e).splitlines()[0] if str(e) else type(e).__name__)
            self._rollback(cur)
            if not by_rows:  # the Arrow path failed (reading the lines or inserting them): try the row-by-row one
                return self._write(cur, call_lines, runs, progress, by_rows=True)
            try:
                bad_calls, bad_runs = self._refused(cur, call_lines, runs)
            except _OutOfMemory:  # no record is refused for want of memory
                if not self._allow_more_memory(cur):
                    self._write_less(len(call_lines), len(runs))
                return False
            if not (bad_calls or bad_runs):
                return False  # not the records (the disk?): the whole batch waits for the next round
            log.error("analytics: left out %d calls and %d runs that the database refuses; the rest is stored, "
                      "and those kept in %s", len(bad_calls), len(bad_runs), refused_file(self.home))
            self.refused_records += len(bad_calls) + len(bad_runs)
            keep_refused(self.home, [call_lines[i] for i in sorted(bad_calls)] + [run_line(runs[i]) for i in sorted(bad_runs)])
            return self._write(cur, [line for i, line in enumerate(call_lines) if i not in bad_calls],
                               [run for i, run in enumerate(runs) if i not in bad_runs], progress, by_rows=True)

    def _short_of_memory(self) -> float:
        """The bytes of queued lines one write takes while DuckDB's memory limit is short (its
        chunk); unbounded while it is not, as one transaction for all costs least."""
        return self._chunk if self._chunk < spool.READ_CHUNK else float("inf")

    def _with_memory(self, cur, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(cur, …)`, run again with the setting's memory if it ran out of the lean limit: a
        read, or work in transactions (migrations, retention) that running out of memory rolled back."""
        try:
            return fn(cur, *args, **kwargs)
        except Exception as e:
            if not (_out_of_memory(e) and self._allow_more_memory(cur)):
                raise
        return fn(cur, *args, **kwargs)

    def _allow_more_memory(self, cur) -> bool:
        """Raise DuckDB's memory limit from the lean one to the setting, for as long as the
        database stays open: a query or a write needed more, or the web app serves pages. False
        when it is the setting already."""
        cap = self.settings.memory_limit_mb
        if self._limit_mb >= cap:
            return False
        self._limit_mb = cap
        cur.execute(f"SET memory_limit = '{cap}MB'")
        log.info("analytics: DuckDB's memory limit is now the setting, %d MB (it was %d MB)", cap, LEAN_LIMIT_MB)
        return True

    @staticmethod
    def _rollback(cur) -> None:
        try:
            cur.execute("ROLLBACK")
        except Exception:
            pass

    def _write_less(self, calls: int, runs: int) -> None:
        """DuckDB ran out of its memory limit writing one round's records (long texts, a limit set
        low): the next rounds take half as many bytes of each segment, down to a few lines; only
        when even that does not fit is the person told, once, what to change."""
        self._fitted = 0
        if self._chunk > MIN_CHUNK:
            self._chunk = max(MIN_CHUNK, self._chunk // 2)
            log.info("analytics: %d calls and %d runs did not fit DuckDB's memory limit in one write; "
                     "taking %d KiB of each spool segment at a time", calls, runs, self._chunk >> 10)
        elif not self._told_out_of_memory:
            self._told_out_of_memory = True
            log.error("analytics: the analytics database's memory limit (memoryLimitMb = %d in %s) is too small "
                      "to write even a few records; they wait in the spool: raise it, then start the studio "
                      "(or the command) again", self.settings.memory_limit_mb, self.home / FILE_NAME)

    def _refused(self, cur, call_lines: list[bytes], runs: list[RunRecord]) -> tuple[set[int], set[int]]:
        """The calls and runs the database refuses, found by halving: a part of the batch is
        tried in a transaction that is rolled back, and only a part it refuses is split again
        (a few dozen tries for one bad record in 5,000). One such record (a token count past 64
        bits) used to make every later batch fail, for good: it was read back with them each
        time. A batch refused for another reason has none, and is kept for the next round."""
        hashes_only = self.settings.audit_hashes_only
        hourly_added = self._hourly_added

        def refused(part: list[tuple[int, Any]], insert: Callable[[list], None]) -> set[int]:
            if not part:
                return set()
            try:
                cur.execute("BEGIN TRANSACTION")
                insert([item for _, item in part])
                return set()
            except Exception as e:
                if _out_of_memory(e):
                    raise _OutOfMemory from e
                if len(part) == 1:
                    return {part[0][0]}
            finally:
                try:
                    cur.execute("ROLLBACK")
                except Exception:
                    pass
            half = len(part) // 2
            return refused(part[:half], insert) | refused(part[half:], insert)
        calls = [(i, call) for i, line in enumerate(call_lines) for call in self._decode_calls([line])]
        bad_calls = refused(calls, lambda part: self._insert_calls(cur, part, hashes_only))
        bad_runs = refused(list(enumerate(runs)), lambda part: self._insert_runs(cur, part, hashes_only))
        self._hourly_added = hourly_added
        return bad_calls, bad_runs

    @staticmethod
    def _decode_runs(lines: list[bytes]) -> list[RunRecord]:
        runs = []
        for line in lines:
            try:
                runs.append(decode_run(line))
            except Exception:
                log.warning("analytics: skipped an unreadable run line in the spool")
        return runs

    @staticmethod
    def _decode_calls(lines: list[bytes]) -> list[tuple[CallRecord, str | None, str | None]]:
        """Lines `call_batch` would not take, one by one, validated; unreadable ones are skipped."""
        calls = []
        for line in lines:
            try:
                kind, item = decode(line)
                if kind != "call":
                    raise ValueError(f"{kind} line among the calls")
            except Exception:
                log.warning("analytics: skipped an unreadable call line in the spool")
                continue
            calls.append(item)
        return calls

    def _insert_call_table(self, cur, table, hashes_only: bool) -> None:
        from studio.analytics import call_batch

        cur.register("calls_batch", table)
        cur.execute(call_batch.INSERT_CALLS.format(table="calls_batch"))
        self._hourly_added += rollup.add(cur, "calls_batch")
        call_batch.insert_new_blobs(cur, call_batch.CALL_BLOBS.format(table="calls_batch"), hashes_only=hashes_only)
        # Not in a `finally`: after a failed statement the transaction refuses this too, and its
        # error would hide the one that matters. A view left registered is replaced next time.
        cur.unregister("calls_batch")

    def _insert_calls(self, cur, calls, hashes_only: bool) -> None:
        import pyarrow as pa

        from studio.analytics import call_batch

        blobs: dict[str, str] = {}
        columns = call_columns(calls, blobs)
        table = pa.table({
            name: pa.array(columns[k], type=pa.type_for_alias(_ARROW_TYPES[sql.split()[0]]))
            for k, (name, sql) in enumerate(CALL_COLUMNS)
        })
        cur.register("calls_batch", table)
        cur.execute("INSERT INTO calls SELECT * FROM calls_batch")
        self._hourly_added += rollup.add(cur, "calls_batch")
        cur.unregister("calls_batch")
        if blobs:
            hashes = list(blobs)
            blob_table = pa.table({
                "sha256": pa.array(hashes, pa.string()),
                "body": pa.array([blobs[h] for h in hashes], pa.string()),
                "size": pa.array([len(blobs[h].encode("utf-8", "surrogatepass")) for h in hashes], pa.int64()),
            })
            cur.register("blobs_batch", blob_table)
            call_batch.insert_new_blobs(cur, "SELECT sha256, body, size FROM blobs_batch", hashes_only=hashes_only)
            cur.unregister("blobs_batch")

    def _insert_runs(self, cur, runs: list[RunRecord], hashes_only: bool) -> None:
        """A run recorded again replaces its rows. A run is recorded when it starts and when it
        ends; the first is only a `runs` row (`run_rows`), so the rows to replace are found
        through the runs' primary key (studio/analytics/lookups.py)."""
        import pyarrow as pa

        latest = {run.id: run for run in runs}  # a run recorded twice in one batch: keep the last
        run_rows_, node_rows = [], []
        for run in latest.values():
            run_row, nodes = run_rows(run, hashes_only)
            run_rows_.append(run_row)
            node_rows.extend(nodes)
        replaced: dict[str, str] = {}  # id -> the status it was stored with
        for part in parts(list(latest)):
            deleted = cur.execute(f"DELETE FROM runs WHERE id IN ({marks(part)}) RETURNING id, status", part)
            replaced.update(deleted.fetchall())
        for part in parts([run_id for run_id, status in replaced.items() if status != "running"]):
            cur.execute(f"DELETE FROM run_nodes WHERE run_id IN ({marks(part)})", part)  # rare: a scan
        for table, rows in (("runs", run_rows_), ("run_nodes", node_rows)):
            if rows:
                cur.register("rows_batch", pa.table({f"c{i}": pa.array(list(col)) for i, col in enumerate(zip(*rows))}))
                cur.execute(f"INSERT INTO {table} SELECT * FROM rows_batch")
                cur.unregister("rows_batch")

    def submit(self, fn: Callable[[Any], T], timeout: float | None = 60) -> T:
        """Run `fn(cursor)` on the writer thread after everything recorded so far, here and in
        the spool, is written. Raises `DatabaseBusy` when another process owns the database."""
        self._connection()
        future: Future = Future()
        with self._lock:
            self._commands.append((fn, future))
            self._ensure_writer()
        self._wake.set()
        return future.result(timeout)

    def flush(self, timeout: float | None = 60) -> None:
        """Block until everything recorded so far (and every other process's spool) is committed."""
        self.submit(lambda cur: None, timeout)

    def apply_retention(self):
        """The retention setting applied now; the report includes what opening the database
        applied in this process and no report has told yet ("0 calls rolled up" was said right
        after the open had rolled them up and deleted their detail)."""
        from studio.analytics.retention import apply_retention

        days = self.settings.retention_days

        def apply(cur):
            report = apply_retention(cur, days)
            opened, self._retention_untold = self._retention_untold, None
            return report.plus(opened) if opened else report
        return self.submit(apply)

    def close(self) -> None:
        """Write everything queued, stop the writer, close the database. Safe to call twice.
        A process that never got the database leaves its records in its spool segment, synced,
        for the owner to take in."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._stopping = True
            self._wake.set()
            thread.join()
        self._thread = None
        if self._db is None and self._segment.opened:
            try:  # a short-lived command: take the database now if it is free, and hand over
                cur = self._connection().cursor()
                self._drain(cur, final=True)
                cur.close()
            except DatabaseBusy:
                pass
            except UserError as e:
                self._tell_not_opened(e)
            except Exception:
                log.exception("analytics: could not take the spool in at close; it stays for the next start")
        self._segment.close()
        self._request.withdraw()
        with self._open_lock:
            if self._db is not None:
                self._close_db()
