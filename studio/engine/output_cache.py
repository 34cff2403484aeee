"""Cached node outputs in one SQLite file, IOM_HOME/cache/outputs.sqlite3, bounded.

Every deterministic call (temperature 0, a seed, every built-in model) is cached, so a batch
of 10,000 rows leaves 10,000 entries, and every experiment more. They used to be one JSON
file each, written through a temporary file and a rename (~8 % of an offline batch's time)
and never removed. Here an entry is a row: the web app, the CLI and batch runs share the file
(WAL, so readers never wait for a writer), and once it holds more than MAX_ENTRIES or
MAX_BYTES (the file's pages in use) the least recently used go. A cache may lose entries but
never answers wrongly: a file that is not a readable database is set aside and started
again, and a read or write that fails (another process holding the file too long) is a
miss, or a put left out. A remote model's entry is reused for a week by default
(cache_settings.py: its provider may serve something else under the id by then). Each row
names the model that gave it and when, so a person can see what is kept (`summary`) and
drop it, all of it or one model's or the older entries (`clear`: `iom cache`, the Settings
page).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from studio.engine.cache_settings import RemoteMaxAge
from studio.errors import UserError
from studio.secrets.redact import redactor

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS outputs (
    key TEXT PRIMARY KEY, entry TEXT NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL,
    model TEXT, created REAL);
CREATE INDEX IF NOT EXISTS outputs_by_use ON outputs(used);"""
# Columns added after the first version of the file: (name, type, the value older rows get).
_ADDED = (("model", "TEXT", "json_extract(entry, '$.modelId')"), ("created", "REAL", "used"))


def cache_path(home: Path) -> Path:
    return Path(home) / "cache" / "outputs.sqlite3"


class OutputCache:
    MAX_ENTRIES = 100_000
    MAX_BYTES = 256_000_000
    PRUNE_EVERY = 500  # puts between two checks of the bounds (and the first put of each process: `iom run`)
    TOUCH_AFTER_S = 60.0  # a hit renews an entry's "last used" at most this often (a write)

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection, used from the event loop and worker threads
        self._puts = 0
        self.clock = time.time  # what "last used" is measured in (a test sets its own)
        self.remote_max_age = RemoteMaxAge(self.path.parent.parent)  # the cache lives in IOM_HOME/cache/

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.OperationalError:  # busy or locked by another process: not a bad file
                raise
            except sqlite3.DatabaseError:  # not a database (a torn or foreign file): start again
                aside = self.path.with_name(self.path.name + f".unreadable-{int(time.time())}")
                self.path.replace(aside)
                log.warning("output cache %s was unreadable; set aside as %s", self.path, aside.name)
                self._db = self._open()
            _forget_file_cache(self.path.parent / "outputs")
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut may lose the last puts, never the file
            db.executescript(_SCHEMA)
            _add_columns(db)
        except BaseException:
            db.close()
            raise
        return db

    def get(self, key: str, *, built_in: bool = False) -> dict | None:
        """The entry for `key`, or None. A remote model's entry older than the remote max age
        (cache_settings.py) is a miss: the call is made again and its answer replaces it."""
        max_age_s = None if built_in else self.remote_max_age.seconds()
        try:
            with self._lock:
                db = self._connection()
                row = db.execute("SELECT entry, used, coalesce(created, used) FROM outputs WHERE key = ?",
                                 (key,)).fetchone()
                if row is None:
                    return None
                now = self.clock()
                if max_age_s is not None and now - row[2] > max_age_s:
                    return None
                if now - row[1] > self.TOUCH_AFTER_S:
                    db.execute("UPDATE outputs SET used = ? WHERE key = ?", (now, key))
            return json.loads(row[0])
        except (sqlite3.Error, ValueError):
            log.warning("output cache: could not read an entry; treated as a miss", exc_info=True)
            return None

    def put(self, key: str, entry: dict, *, model: str | None = None) -> None:
        """Store an answer; a key it holds (a provider that echoed it) is masked, as the audit trail masks it."""
        text = json.dumps(entry, ensure_ascii=False, default=str)
        if redactor.holds_known(text):
            entry = redactor.data(entry)
            text = json.dumps(entry, ensure_ascii=False, default=str)
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # a lone surrogate (a provider's "\\ud800"), which SQLite's UTF-8 cannot hold: json's
            # escape for it keeps the entry exact
            text = json.dumps(entry, default=str)
            size = len(text)
        try:
            with self._lock:
                db = self._connection()
                now = self.clock()
                db.execute("INSERT OR REPLACE INTO outputs (key, entry, size, used, model, created) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (key, text, size, now, model, now))
                if self._puts % self.PRUNE_EVERY == 0:  # the first put of a process, then every PRUNE_EVERY
                    self._prune(db)
                self._puts += 1
        except sqlite3.Error:
            log.warning("output cache: could not store an entry; left out", exc_info=True)

    def _prune(self, db: sqlite3.Connection) -> None:
        """Past either bound, drop the least recently used entries, down to a tenth below it.
        The size is the file's pages in use (known without reading the entries), and the entries
        to drop for it are counted at the file's average bytes an entry."""
        count = db.execute("SELECT count(*) FROM outputs").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]
        size = pages * db.execute("PRAGMA page_size").fetchone()[0]
        if count == 0 or (count <= self.MAX_ENTRIES and size <= self.MAX_BYTES):
            return
        for_count = count - int(self.MAX_ENTRIES * 0.9)
        for_bytes = math.ceil((size - self.MAX_BYTES * 0.9) / (size / count))  # at the average entry's bytes
        drop = max(for_count, for_bytes, 1)
        db.execute("DELETE FROM outputs WHERE key IN (SELECT key FROM outputs ORDER BY used LIMIT ?)", (drop,))

    def _empty(self) -> bool:
        """Nothing cached yet, and no file: a question about it needs no file made to answer."""
        return self._db is None and not self.path.exists()

    def summary(self) -> dict:
        """What the cache holds: entries and bytes in all and per model, the oldest and newest
        entry of each (seconds since the epoch), the file's size and the bounds."""
        rows = []
        with self._lock:
            if not self._empty():
                db = self._ask("open", self._connection)
                rows = self._ask("read", lambda: db.execute(
                    "SELECT model, count(*), sum(size), min(coalesce(created, used)), max(coalesce(created, used)) "
                    "FROM outputs GROUP BY model ORDER BY count(*) DESC, model").fetchall())
        on_disk = sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal"))
                      if p.exists())
        models = [{"model": model, "entries": count, "bytes": size, "oldest": oldest, "newest": newest}
                  for model, count, size, oldest, newest in rows]
        return {"path": str(self.path), "entries": sum(m["entries"] for m in models),
                "bytes": sum(m["bytes"] for m in models), "fileBytes": on_disk, "models": models,
                "maxEntries": self.MAX_ENTRIES, "maxBytes": self.MAX_BYTES}

    def clear(self, *, model: str | None = None, older_than_s: float | None = None) -> int:
        """Drop entries (all; or only `model`'s; or only those made more than `older_than_s`
        ago) and give the file's space back; returns how many went."""
        where, args = [], []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if older_than_s is not None:
            where.append("coalesce(created, used) < ?")
            args.append(self.clock() - older_than_s)
        sql = "DELETE FROM outputs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            if self._empty():
                return 0
            db = self._ask("open", self._connection)
            removed = self._ask("clear", lambda: db.execute(sql, args).rowcount)
            if removed:
                try:  # the space back to the disk; another process reading it now only defers that
                    db.execute("VACUUM")  # (in WAL mode the compacted file goes through the WAL first)
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    log.info("output cache: not compacted now (in use elsewhere)", exc_info=True)
        return removed

    def _ask(self, what: str, question):
        """`question()`, its failure as one sentence for a person (summary and clear)."""
        try:
            return question()
        except OSError as e:
            raise UserError(f"could not {what} the output cache {self.path} ({e.strerror or e}); "
                            "check the folder's permissions and free space.") from None
        except sqlite3.Error as e:
            if "locked" in str(e) or "busy" in str(e):
                raise UserError(f"could not {what} the output cache: another studio process is writing to it; "
                                "try again in a moment.") from None
            raise UserError(f"could not {what} the output cache {self.path} ({e}).") from None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> "OutputCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _add_columns(db: sqlite3.Connection) -> None:
    """Bring a file made by an earlier version up to the schema; rows it holds get what can be
    known of them. Two processes may try at once: a column the other just added is fine."""
    present = {row[1] for row in db.execute("PRAGMA table_info(outputs)")}
    for name, kind, value in _ADDED:
        if name in present:
            continue
        try:
            db.execute(f"ALTER TABLE outputs ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as e:
            if "duplicate column" not in str(e):
                raise
            continue
        try:
            db.execute(f"UPDATE outputs SET {name} = {value} WHERE {name} IS NULL")
        except sqlite3.OperationalError:  # an SQLite without JSON functions: left unknown
            pass


def _forget_file_cache(folder: Path) -> None:
    """Remove the one-file-per-entry cache of earlier versions (its keys no longer match: the
    model's version in the key changed with this store), in a thread: it may be large."""
    if folder.is_dir():
        threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True},
                         name="remove old output cache", daemon=True).start()
