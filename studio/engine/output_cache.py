"""Cached node outputs in one SQLite file, IOM_HOME/cache/outputs.sqlite3, bounded.

Every deterministic call (temperature 0, a seed, every built-in model) is cached, so a batch
of 10,000 rows leaves 10,000 entries, and every experiment more. They used to be one JSON
file each, written through a temporary file and a rename (~8 % of an offline batch's time)
and never removed. Here an entry is a row: the web app, the CLI and batch runs share the file
(WAL, so readers never wait for a writer), and once it holds more than MAX_ENTRIES or
MAX_BYTES (the file's pages in use) the least recently used go. A cache may lose entries but
never answers wrongly: an answer is kept exactly as the model gave it, or not at all (one
holding a key, or anything the audit trail would mask, is not kept: a masked copy would
answer differently, a plain one would leave the key on disk); a file that is not a readable
database, or turns out damaged at any use (a torn page), is set aside and started again; a
read or write that fails otherwise (another process holding the file too long, IOM_HOME/cache
not a folder) is a miss, or a put left out. A remote model's entry is reused for a week by default
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
from studio.paths import file_in_the_way
from studio.secrets.redact import MASK, redactor

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
        self.set_aside: Path | None = None  # where a damaged file went, the last time one was
        self._said: set[str] = set()  # the warnings already logged: a batch of 10,000 misses says each once

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise NotAFolder(f"output cache: {self.path.parent} is a file, not a folder, so no output is "
                                 "cached; move it away or delete it")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as e:
                if isinstance(e, sqlite3.OperationalError) and not _damaged(e):  # busy or locked: not a bad file
                    raise
                self._start_again(e)  # not a database (a torn or foreign file)
                self._db = self._open()
            _forget_file_cache(self.path.parent / "outputs")
        return self._db

    def _start_again(self, error: sqlite3.DatabaseError) -> None:
        """Set a damaged file aside (with its write-ahead log, which belongs to it; a person may
        look at them or delete them) and let the next use make an empty one. Said once in the log:
        every later use finds the new file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(self.path.name + f".unreadable-{int(time.time())}")
        for suffix in ("", "-wal"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.replace(aside.with_name(aside.name + suffix))
        self.path.with_name(self.path.name + "-shm").unlink(missing_ok=True)
        self.set_aside = aside
        log.warning("output cache %s was damaged (%s); set aside as %s and started again",
                    self.path, error, aside.name)

    def _recover(self, error: sqlite3.DatabaseError) -> bool:
        """After `error` from a use of the file: True when the file was damaged and is now set
        aside (the next use starts a new one). Called with the lock held."""
        if not _damaged(error):
            return False
        try:
            self._start_again(error)
        except OSError as e:
            self._say(f"output cache {self.path} is damaged and could not be set aside ({e.strerror or e}); "
                      "delete it")
            return False
        return True

    def _say(self, message: str) -> None:
        """A warning, logged the first time only."""
        if message not in self._said:
            self._said.add(message)
            log.warning("%s", message)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut may lose the last puts, never the file
            db.executescript(_SCHEMA)
            _add_columns(db)
            _drop_what_redaction_masks(db)
        except BaseException:
            db.close()
            raise
        return db

    def get(self, key: str, *, built_in: bool = False) -> dict | None:
        """The entry for `key`, or None. A remote model's entry older than the remote max age
        (cache_settings.py) is a miss: the call is made again and its answer replaces it."""
        max_age_s = None if built_in else self.remote_max_age.seconds()
        with self._lock:
            try:
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
            except NotAFolder as e:
                self._say(str(e))
                return None
            except OSError as e:
                self._say(f"output cache: could not open {self.path} ({e.strerror or e}), so no output is cached; "
                          "check the folder's permissions and free space")
                return None
            except sqlite3.DatabaseError as e:
                if not self._recover(e):
                    log.warning("output cache: could not read an entry; treated as a miss", exc_info=True)
                return None
        try:
            return json.loads(row[0])
        except ValueError:
            log.warning("output cache: could not read an entry; treated as a miss", exc_info=True)
            return None

    def put(self, key: str, entry: dict, *, model: str | None = None) -> None:
        """Store an answer exactly, or not at all: one holding anything the audit trail would mask
        (a key a provider echoed, anything shaped like a key, a secret-named field) is not kept.
        Masked, a hit would answer differently from the model; plain, the key would sit on disk."""
        text = json.dumps(entry, ensure_ascii=False, default=str)
        if not redactor.is_clean(text):  # (~10 µs for an 800-character answer)
            return
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            # a lone surrogate (a provider's "\\ud800"), which SQLite's UTF-8 cannot hold: json's
            # escape for it keeps the entry exact
            text = json.dumps(entry, default=str)
            size = len(text)
        with self._lock:
            for _ in range(2):  # a damaged file is set aside, and the entry goes in the new one
                try:
                    db = self._connection()
                    now = self.clock()
                    db.execute("INSERT OR REPLACE INTO outputs (key, entry, size, used, model, created) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (key, text, size, now, model, now))
                    if self._puts % self.PRUNE_EVERY == 0:  # the first put of a process, then every PRUNE_EVERY
                        self._prune(db)
                    self._puts += 1
                    return
                except NotAFolder as e:
                    self._say(str(e))
                    return
                except OSError as e:
                    self._say(f"output cache: could not open {self.path} ({e.strerror or e}), so no output is "
                              "cached; check the folder's permissions and free space")
                    return
                except sqlite3.DatabaseError as e:
                    if not self._recover(e):
                        log.warning("output cache: could not store an entry; left out", exc_info=True)
                        return

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
        entry of each (seconds since the epoch), the file's size and the bounds. The file's pages
        are checked as well (as long again as reading the entries, ~0.1 s for 150 MB): a damaged
        file is set aside here, not left to look fine while every lookup fails (`setAside`)."""
        rows, self.set_aside = [], None
        with self._lock:
            if not self._empty():
                db = self._ask("open", self._connection)
                rows = self._ask("read", lambda: _checked(db).execute(
                    "SELECT model, count(*), sum(size), min(coalesce(created, used)), max(coalesce(created, used)) "
                    "FROM outputs GROUP BY model ORDER BY count(*) DESC, model").fetchall(), [])
        on_disk = sum(p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal"))
                      if p.exists())
        models = [{"model": model, "entries": count, "bytes": size, "oldest": oldest, "newest": newest}
                  for model, count, size, oldest, newest in rows]
        blocker = file_in_the_way(self.path)
        return {"path": str(self.path), "entries": sum(m["entries"] for m in models),
                "bytes": sum(m["bytes"] for m in models), "fileBytes": on_disk, "models": models,
                "maxEntries": self.MAX_ENTRIES, "maxBytes": self.MAX_BYTES,
                "setAside": None if self.set_aside is None else str(self.set_aside),
                # only the log said it: the page showed an empty cache and no why
                "notAFolder": None if blocker is None else not_a_folder_sentence(blocker)}

    def clear(self, *, model: str | None = None, older_than_s: float | None = None) -> int:
        """Drop entries (all; or only `model`'s; or only those made more than `older_than_s`
        ago) and give the file's space back; returns how many went. A damaged file is set
        aside whole (`set_aside`; 0 returned: what it held cannot be counted) and a new one begun."""
        where, args = [], []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if older_than_s is not None:
            where.append("coalesce(created, used) < ?")
            args.append(self.clock() - older_than_s)
        sql = "DELETE FROM outputs" + (" WHERE " + " AND ".join(where) if where else "")
        self.set_aside = None
        with self._lock:
            if self._empty():
                return 0
            db = self._ask("open", self._connection)
            removed = self._ask("clear", lambda: db.execute(sql, args).rowcount, 0)
            if removed and self.set_aside is None:
                try:  # the space back to the disk; another process reading it now only defers that
                    db.execute("VACUUM")  # (in WAL mode the compacted file goes through the WAL first)
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as e:
                    if not (isinstance(e, sqlite3.DatabaseError) and self._recover(e)):
                        log.info("output cache: not compacted now (in use elsewhere)", exc_info=True)
        return removed

    def _ask(self, what: str, question, if_damaged=None):
        """`question()`, its failure as one sentence for a person (summary and clear); a damaged
        file is set aside and the answer is `if_damaged` (the new file's)."""
        try:
            return question()
        except OSError as e:
            raise UserError(f"could not {what} the output cache {self.path} ({e.strerror or e}); "
                            "check the folder's permissions and free space.") from None
        except sqlite3.Error as e:
            if isinstance(e, sqlite3.DatabaseError) and self._recover(e):
                return if_damaged
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


def set_aside_files(path: Path) -> list[Path]:
    """The damaged files set aside beside the cache at `path` (by any process, at any start) and
    not deleted yet, oldest first: the log said so once, the Settings page says so while they are there."""
    try:
        found = [p for p in path.parent.glob(path.name + ".unreadable-*") if not p.name.endswith("-wal")]
    except OSError:
        return []
    return sorted(found, key=lambda p: (len(p.name), p.name))


def not_a_folder_sentence(blocker: Path) -> str:
    """Why nothing is cached when a file stands where the cache's folder goes, and what to do."""
    return (f"No output can be cached: {blocker} is a file, not a folder; move it away or delete it "
            "(until then every call is made again).")


class NotAFolder(OSError):
    """IOM_HOME/cache is a file: nothing can be cached until a person moves it away."""


def _damaged(error: sqlite3.DatabaseError) -> bool:
    """SQLite's words for a file whose pages are not a database (a torn write, a foreign file)."""
    text = str(error)
    return "malformed" in text or "not a database" in text


def _checked(db: sqlite3.Connection) -> sqlite3.Connection:
    """`db`, its pages checked first: raises SQLite's "malformed" where one is damaged (a page
    no lookup has reached yet would otherwise pass unseen)."""
    verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    if verdict != "ok":
        raise sqlite3.DatabaseError("database disk image is malformed: " + " ".join(verdict.split()))
    return db


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


def _drop_what_redaction_masks(db: sqlite3.Connection) -> None:
    """Once per file (its user_version then 1): drop the entries an earlier version kept that
    the cache no longer keeps, a masked answer ("••••" where the model had said a key: a hit
    would answer differently) or a key-shaped string in plain, their bytes zeroed on disk
    (~1 s for 150 MB, once)."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= 1:
        return
    drop = [(key,) for key, entry in db.execute("SELECT key, entry FROM outputs") if MASK in entry or not redactor.is_clean(entry)]
    if drop:
        db.execute("PRAGMA secure_delete = ON")
        db.executemany("DELETE FROM outputs WHERE key = ?", drop)
        db.execute("PRAGMA secure_delete = OFF")
    db.execute("PRAGMA user_version = 1")


def _forget_file_cache(folder: Path) -> None:
    """Remove the one-file-per-entry cache of earlier versions (its keys no longer match: the
    model's version in the key changed with this store), in a thread: it may be large."""
    if folder.is_dir():
        threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True},
                         name="remove old output cache", daemon=True).start()
