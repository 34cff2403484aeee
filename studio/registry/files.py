"""A folder of JSON documents, one per id, read with a cache keyed on mtime and size.

Both the model and the pipeline stores sit on this. A file that cannot be read is reported
as a `CorruptFile` problem and skipped; every other file keeps working.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Generic, TypeVar

from studio.atomic import dumps_stable, file_locked, write_bytes
from studio.errors import ChangedElsewhere, CorruptFile
from studio.spec.base import check_slug

T = TypeVar("T")
ANY_VERSION = object()  # `write(expected=...)` left out: write whatever is there


def fingerprint(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class JsonFolder(Generic[T]):
    def __init__(self, root: Path, parse: Callable[[object], T], kind: str = "document", *,
                 own_id: Callable[[T], str] | None = None):
        self.root = root
        self._parse = parse
        self.kind = kind  # "model", "pipeline": for messages
        # the id a document says it has: one that is not its path's (a hand edit, a copied file)
        # was listed under its own id that no read by id could reach, or twice beside its namesake
        self._own_id = own_id
        # keyed by the path's text: a scan meets every file's path as a string (os.scandir), and
        # building and hashing a Path for each was most of a scan (~4 of its ~6.6 us a file)
        self._cache: dict[str, tuple[tuple[int, int], T | CorruptFile]] = {}
        self._resolved_root: Path | None = None
        self._paths: dict[str, Path] = {}  # id -> its checked path (resolving took ~19 us a call)

    def path_for(self, ident: str) -> Path:
        path = self._paths.get(ident)
        if path is not None:
            return path
        check_slug(ident, "id")  # a ValueError naming the rule: ids must fit file names
        if self._resolved_root is None:  # resolving costs a stat per path part; the root stays put
            self._resolved_root = self.root.resolve()
        path = (self.root / f"{ident}.json").resolve()
        if self._resolved_root not in path.parents:
            raise ValueError(f"id {ident!r} escapes the data folder")
        if len(self._paths) >= 10_000:  # ids come from callers: keep the memo bounded
            self._paths.clear()
        self._paths[ident] = path
        return path

    def ident_of(self, path: Path) -> str:
        return path.relative_to(self.root).with_suffix("").as_posix()

    def scan(self) -> tuple[dict[str, T], list[CorruptFile]]:
        """Every readable document by id, and a problem for each unreadable file. Every run
        reads the registry this way, so the walk is os.scandir's (one stat per file, to see an
        edit) rather than Path.rglob's (about 18 us a file more)."""
        items: dict[str, T] = {}
        problems: list[CorruptFile] = []
        seen: set[str] = set()
        for ident, path, st in self._files():
            seen.add(path)
            result = self._read(path, st)
            if isinstance(result, CorruptFile):
                problems.append(result)
            else:
                items[ident] = result
        for stale in set(self._cache) - seen:
            del self._cache[stale]
        return items, problems

    def _files(self) -> list[tuple[str, str, os.stat_result | None]]:
        """(id, path, stat) of every *.json under the root, in path order, as rglob found them:
        real folders are entered (not links to folders), names starting with a dot are left out."""
        found: list[tuple[tuple[str, ...], str, os.stat_result | None]] = []

        def walk(folder: str, parts: tuple[str, ...]) -> None:
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                return
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    try:
                        st = entry.stat()
                    except OSError:  # gone since the listing: _read says so
                        st = None
                    found.append(((*parts, entry.name), entry.path, st))
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, (*parts, entry.name))

        walk(str(self.root), ())
        found.sort(key=lambda item: item[0])
        return [("/".join(parts)[:-5], path, st) for parts, path, st in found]

    def get(self, ident: str) -> T | None:
        path = self.path_for(ident)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        result = self._read(path, st)
        if isinstance(result, CorruptFile):
            raise result
        return result

    def version(self, ident: str) -> str | None:
        """A fingerprint of the file as it is now; None when there is none. A page that read a
        document saves over it only while it is still this version (`write(expected=)`)."""
        try:
            return fingerprint(self.path_for(ident).read_bytes())
        except FileNotFoundError:
            return None

    def locked(self):
        """An exclusive lock on the folder's `.lock`, shared by every process on the data dir:
        a check of what is on disk and the write that depends on it happen as one step."""
        return file_locked(self.root / ".lock")

    def write(self, ident: str, data: dict, *, durable: bool = True, expected: object = ANY_VERSION,
              before: Callable[[Path], object] | None = None) -> str:
        """Write the document; its new version. With `expected` (a version, or None for "no file
        yet"), refuse with ChangedElsewhere when the file is no longer that; `before(path)` runs
        first (a backup of what is replaced). Both under the folder's lock."""
        path = self.path_for(ident)
        encoded = dumps_stable(data).encode("utf-8")
        if expected is ANY_VERSION and before is None:
            write_bytes(path, encoded, durable=durable)
            return fingerprint(encoded)
        with self.locked():
            if expected is not ANY_VERSION:
                now = self.version(ident)
                if now != expected:
                    raise ChangedElsewhere(self.kind, ident, deleted=now is None and expected is not None)
            if before is not None:
                before(path)
            write_bytes(path, encoded, durable=durable)
        return fingerprint(encoded)

    def delete(self, ident: str) -> bool:
        """False when there is no such file (an id no file can have, "Review-Triage", included)."""
        try:
            path = self.path_for(ident)
        except ValueError:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        self._cache.pop(str(path), None)
        parent = path.parent
        while parent != self.root and parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return True

    def _read(self, path: str | Path, st: os.stat_result | None = None) -> T | CorruptFile:
        key = os.fspath(path)
        try:
            st = st or os.stat(key)
        except FileNotFoundError as e:
            return CorruptFile(Path(key), str(e))
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        path = Path(key)
        try:
            raw = json.loads(path.read_text("utf-8"))
            result: T | CorruptFile = self._parse(raw)
            if self._own_id is not None:
                result = self._id_agrees(path, result)
        except json.JSONDecodeError as e:
            result = CorruptFile(path, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")
        except UnicodeDecodeError:
            result = CorruptFile(path, "not UTF-8 text")
        except Exception as e:  # a shape the parser refuses; the message is the parser's sentence
            result = CorruptFile(path, _fault(e))
        self._cache[key] = (stamp, result)
        return result


    def _id_agrees(self, path: Path, item: T) -> T | CorruptFile:
        """The item, or a problem when the id it holds is not the one its place says."""
        try:
            ident = self.ident_of(path)
        except ValueError:  # a path `get` resolved, under a root reached through a link
            ident = path.relative_to(self.root.resolve()).with_suffix("").as_posix()
        own = self._own_id(item)
        if own == ident:
            return item
        return CorruptFile(path, f"it says its id is {own!r} but its place in the {self.kind}s folder makes it "
                                 f"{ident!r}: set \"id\" to {ident!r}, or move it to {self.root.name}/{own}.json")


def _fault(e: Exception) -> str:
    from pydantic import ValidationError

    from studio.spec.migrations import describe_validation_error

    if isinstance(e, ValidationError):
        return describe_validation_error(e)
    return str(e).rstrip(".")


def ensure_dir(path: Path) -> Path:
    os.makedirs(path, exist_ok=True)
    return path
