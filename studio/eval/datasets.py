"""Datasets: CSV, JSONL and Parquet files imported into `IOM_HOME/datasets/<id>/`.

The file is kept byte for byte as given (so a user can always find their data again) next to
a small `meta.json` with its schema, row count and column mapping. Rows are read back with
the standard library (CSV, JSONL: so a bad row is named by its line) or pyarrow (Parquet).
No NiceGUI here; the UI and the CLI call these functions (from a thread in the UI).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from studio.atomic import file_locked, fsync_path, write_json
from studio.errors import ChangedElsewhere, UserError, named_twice
from studio.jsonread import check_shape
from studio.paths import left_out, read_each
from studio.spec.base import utcnow

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
# Datasets shipped with the studio (labelled, offline): the Evaluate page offers them, and a
# command naming one that is not imported yet is told where it is.
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "datasets"
SAMPLE = SAMPLES / "reviews.csv"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CELL_LIMIT = 64 * 1024 * 1024  # characters in one CSV cell: a long document fits, a runaway quote stops


@dataclass
class Dataset:
    id: str
    format: str
    file: str
    rows: int
    columns: list[dict[str, str]]  # [{"name": …, "type": …}] in file order
    inputs: dict[str, str] = field(default_factory=dict)  # pipeline input -> column
    expected: dict[str, str] = field(default_factory=dict)  # expected-value name -> column
    source: str = ""
    created: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "format": self.format, "file": self.file, "rows": self.rows,
                "columns": self.columns, "inputs": self.inputs, "expected": self.expected,
                "source": self.source, "created": self.created}

    @classmethod
    def from_json(cls, data: dict) -> "Dataset":
        return cls(**{k: data[k] for k in ("id", "format", "file", "rows", "columns")},
                   inputs=data.get("inputs") or {}, expected=data.get("expected") or {},
                   source=data.get("source", ""), created=data.get("created", ""))


def datasets_root(home: Path) -> Path:
    return home / "datasets"


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (s or "dataset")[:64]


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path.name} is not a CSV, JSONL or Parquet file (by its extension); "
                        "rename it to .csv, .jsonl or .parquet.")
    return fmt


# -- reading ---------------------------------------------------------------------------------

def read_rows(path: Path, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """The file's rows as dicts; raises UserError naming the row (and column) of a bad one."""
    fmt = fmt or format_of(path)
    _require_file(path)
    if fmt == "csv":
        return _csv_rows(path)
    if fmt == "jsonl":
        return _jsonl_rows(path)
    return _parquet_rows(path)


def _require_file(path: Path) -> None:
    """A data file that is there: a folder (even one named x.csv) or nothing is one sentence."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the path of a CSV, JSONL or Parquet file.")
    if not path.is_file():
        raise UserError(f"{path} does not exist; give the path of a CSV, JSONL or Parquet file.")


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Read as it goes (the whole text in memory, as a StringIO holds it, was five times the
    file: 790 MB for a 150 MB CSV, to show its first rows)."""
    f = path.open(encoding="utf-8-sig")  # line ends read as "\n", inside quoted values too, as before
    csv.field_size_limit(CELL_LIMIT)  # (the csv module's own is 128 KB: one long document in a cell)
    reader = csv.reader(f, delimiter=_delimiter(path))
    try:
        header = _csv_header(path, reader)
    except BaseException:
        f.close()
        raise

    def rows():
        with f:
            row = 0
            try:
                for values in reader:
                    if not values:
                        continue
                    row += 1
                    line_no = reader.line_num  # (the row's last line: a quoted value may hold line ends)
                    if len(values) != len(header):
                        col = header[len(values)] if len(values) < len(header) else f"#{len(header) + 1} (no header)"
                        what = "is missing" if len(values) < len(header) else "is extra"
                        unclosed = len(values) < len(header) and "\n" in values[-1]  # a quote ran to the end
                        hint = ("a quote opened in it is not closed" if unclosed
                                else "quote values that contain commas")
                        raise UserError(f"{path.name}: row {row} (line {line_no}) has {len(values)} values "
                                        f"for {len(header)} columns; column {col} {what}. Fix that row ({hint}).")
                    yield dict(zip(header, values))
            except UnicodeDecodeError:
                raise UserError(_not_utf8(path)) from None
            except csv.Error as e:  # a cell past CELL_LIMIT, a NUL in strict mode…: the row, not a bug
                raise UserError(f"{path.name}: row {row + 1} (near line {reader.line_num}) cannot be read as CSV "
                                f"({e}); fix that row and import the file again.") from None
    return rows()


def _delimiter(path: Path) -> str:
    """',' unless the header row has none and separates with ';' (a spreadsheet saved where the
    decimal mark is a comma) or a tab: such a file was read as one column named 'text;label'."""
    try:
        with path.open("rb") as f:
            head = f.readline(65536)
    except OSError:
        return ","
    for mark in (b",", b";", b"\t"):
        if mark in head:
            return mark.decode()
    return ","


def _csv_header(path: Path, reader) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise UserError(f"{path.name} is empty; a CSV needs a header row and at least one row.") from None
    except UnicodeDecodeError:
        raise UserError(_not_utf8(path)) from None
    header = [h.strip() for h in header]
    for i, name in enumerate(header):
        if not name:
            raise UserError(f"{path.name}: column {i + 1} of the header row has no name; name every column.")
    twice = named_twice(header)
    if twice is not None:
        raise UserError(f"{path.name}: the header names column {twice!r} twice; give each column its own name.")
    return header


def _not_utf8(path: Path) -> str:
    """The sentence for a file that does not decode, naming the line it fails on: the reader
    decodes ahead of the rows it hands out, so the line is found again, in bytes, here."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as e:
                where = "its header row" if line_no == 1 else f"line {line_no}"
                return (f"{path.name} is not UTF-8 text ({where}, byte {e.start + 1} of the line); save it as UTF-8 "
                        "and import it again.")
    return f"{path.name} is not UTF-8 text; save it as UTF-8 and import it again."


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    def rows():
        with path.open("rb") as f:
            n = 0
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                n += 1
                where = f"{path.name}: row {n} (line {line_no})"
                try:
                    line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise UserError(f"{where} is not UTF-8 text (byte {e.start} of the line); "
                                    "save the file as UTF-8 and import it again.") from None
                try:
                    value = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
                except ValueError as e:
                    why = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else str(e)
                    raise UserError(f"{where} is not valid JSON ({why}); "
                                    "each line must be one JSON object.") from None
                if not isinstance(value, dict):
                    raise UserError(f"{where} is a JSON {type(value).__name__}, "
                                    "not an object; each line must be one JSON object such as {\"text\": \"…\"}.")
                for column, cell in value.items():  # a lone surrogate ("\ud800"): no file or database holds one
                    check_shape(cell, f"{where}, column {column!r},")
                yield value
    return rows()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object naming a key twice: json keeps the last, silently; refused instead."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError(f"it names {named_twice(k for k, _ in pairs)!r} twice")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise UserError(f"{path.name} is not a readable Parquet file ({str(e).splitlines()[0]}); export it again.") from None

    twice = named_twice(pf.schema_arrow.names)
    if twice is not None:  # rows as dicts would keep one of them, silently
        raise UserError(f"{path.name} names column {twice!r} twice; give each column its own name.")

    def rows():
        done = 0
        try:
            for batch in pf.iter_batches(batch_size=2048):
                yield from batch.to_pylist()
                done += batch.num_rows
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid/ArrowIOError: a page damaged inside
            raise UserError(f"{path.name} is not a readable Parquet file after row {done:,} "
                            f"({str(e).splitlines()[0][:200]}); export it again.") from None
    return rows()


def _type_name(values: list[Any]) -> str:
    kinds = {type(v).__name__ for v in values if v is not None and v != ""}
    if not kinds:
        return "empty"
    if kinds <= {"int"}:
        return "integer"
    if kinds <= {"int", "float"}:
        return "number"
    if kinds <= {"bool"}:
        return "boolean"
    if kinds <= {"str"}:
        return "string"
    return "mixed" if len(kinds) > 1 else next(iter(kinds))


def _schema(path: Path, fmt: str) -> tuple[list[dict[str, str]], int]:
    """Column names (in order) and types, and the row count; reads the whole file once so
    a bad row is found at import, not halfway through a batch."""
    names: list[str] = []
    samples: dict[str, list[Any]] = {}
    count = 0
    for row in read_rows(path, fmt):
        count += 1
        for k, v in row.items():
            if k not in samples:
                names.append(k)
                samples[k] = []
            if len(samples[k]) < 200:
                samples[k].append(v)
    if count == 0:
        raise UserError(f"{path.name} has no rows; a dataset needs at least one.")
    return [{"name": n, "type": _type_name(samples[n])} for n in names], count


# -- the store ---------------------------------------------------------------------------------

def import_dataset(home: Path, file: str | Path, dataset_id: str | None = None, source: str | None = None) -> Dataset:
    """Check the file, then copy it in as given with its meta.json (`source`: where it came from,
    the file's path unless said). Nothing is kept on error."""
    path = Path(file)
    fmt = format_of(path)
    _require_file(path)
    ident = dataset_id or slug(path.stem)
    if not ID_RE.match(ident):
        raise UserError(f"{ident!r} is not a usable dataset id; use lower-case letters, digits, '.', '_' or '-'.")
    folder = datasets_root(home) / ident
    if (folder / "meta.json").exists():
        raise UserError(f"a dataset {ident!r} exists already; pick another id with --id or delete it first.")
    columns, count = _schema(path, fmt)
    tmp = datasets_root(home) / f".{ident}.importing"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        shutil.copyfile(path, tmp / path.name)
        fsync_path(tmp / path.name)  # on the disk before meta.json (written durably) says it is there
        ds = Dataset(id=ident, format=fmt, file=path.name, rows=count, columns=columns,
                     source=source or str(path), created=utcnow().isoformat())
        write_json(tmp / "meta.json", ds.to_json())
        tmp.rename(folder)
        fsync_path(folder.parent)  # the rename itself
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ds


class DamagedDataset(UserError):
    """A dataset folder whose meta.json cannot be read: it can be deleted, nothing else."""


def damaged_datasets(home: Path, listed: list[Dataset]) -> list[str]:
    """The ids of dataset folders whose meta.json cannot be read (`list_datasets`, which gave
    `listed`, leaves them out)."""
    return left_out(datasets_root(home), "*/meta.json", (d.id for d in listed), lambda p: p.parent.name)


def list_datasets(home: Path) -> list[Dataset]:
    def read(meta: Path) -> Dataset:
        return Dataset.from_json(json.loads(meta.read_text("utf-8")))
    return read_each(datasets_root(home), "*/meta.json", read, (ValueError, KeyError, TypeError))


def get_dataset(home: Path, dataset_id: str) -> Dataset:
    if not ID_RE.match(dataset_id):  # a path ("/tmp/x.csv", "../x") is no id: never joined onto the folder
        raise UserError(f"there is no file {dataset_id!r} and no dataset of that id; 'iom datasets list' shows "
                        f"the imported ones.")
    meta = datasets_root(home) / dataset_id / "meta.json"
    try:
        return Dataset.from_json(json.loads(meta.read_text("utf-8")))
    except FileNotFoundError:
        raise UserError(missing_dataset(dataset_id)) from None
    except (ValueError, KeyError, TypeError):
        raise DamagedDataset(f"the dataset {dataset_id!r} has a damaged meta.json; 'iom datasets delete "
                             f"{dataset_id}' removes it, then import its file again.") from None


def delete_dataset(home: Path, dataset_id: str) -> tuple[Dataset, list[str]]:
    """Remove an imported dataset (its folder: the file as given and its meta.json); returns it
    and the batches that ran over it, which keep their rows but cannot go on without it. A batch
    running over it is a refusal: it reads the file as it goes, and its resume would find nothing.
    The removal holds the dataset's lock exclusively, so a batch cannot start in between."""
    from studio.eval.batch import BatchLock, batch_dir, batch_plans  # (batch.py reads datasets: imported here)

    if not ID_RE.match(dataset_id):
        raise UserError(f"{dataset_id!r} is not a dataset id; 'iom datasets list' shows the imported ones.")
    try:
        ds = get_dataset(home, dataset_id)
    except DamagedDataset:  # what it held cannot be read; the folder can still go
        ds = Dataset(id=dataset_id, format="", file="", rows=0, columns=[])
    lock = DatasetLock(home, dataset_id)
    try:
        used = [plan.id for plan in batch_plans(home) if plan.dataset_id == dataset_id]  # (their plans, not their rows)
        if not lock.take(exclusive=True):  # a batch reads it; its lock names which, when its plan is written
            running = [batch_id for batch_id in used if BatchLock(batch_dir(home, batch_id), batch_id).is_held()]
            raise UserError(f"the dataset {dataset_id!r} is being read by "
                            f"{f'batch {running[0]}' if running else 'a batch'}, which is running; "
                            "wait for it to end (or stop it), then delete the dataset.")
        shutil.rmtree(datasets_root(home) / dataset_id)
    finally:
        lock.release()
    return ds, used


class DatasetLock:
    """A `flock` on the dataset folder's `.lock`: shared while a batch reads the dataset (from
    its start to its end), exclusive while the dataset is deleted. Checking for running batches
    and then removing left a window in which a batch could start and lose its file."""

    FILE = ".lock"  # (no importable data file has that name: imports need a known suffix)

    def __init__(self, home: Path, dataset_id: str):
        self.dataset_id = dataset_id
        self.path = datasets_root(home) / dataset_id / self.FILE
        self._fd: int | None = None

    def take(self, *, exclusive: bool) -> bool:
        """Open the lock file and try the lock, without waiting; False when a lock that excludes
        it is held (the file stays open until `release`). A dataset removed meanwhile is a
        UserError."""
        import fcntl

        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            raise UserError(missing_dataset(self.dataset_id)) from None
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if os.fstat(self._fd).st_nlink == 0:  # deleted between our open and our lock
            self.release()
            raise UserError(missing_dataset(self.dataset_id))
        return True

    def hold_for_reading(self) -> None:
        """A batch's shared hold, or a UserError when the dataset is gone or being deleted."""
        if not self.take(exclusive=False):
            self.release()
            raise UserError(f"the dataset {self.dataset_id!r} is being deleted; import it again, "
                            "then run the batch again.")

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def deleted_note(ds: Dataset, batches: list[str]) -> str:
    """What `iom datasets delete` and the Evaluate page say once a dataset is gone."""
    kept = (f"; {len(batches)} batch(es) over it keep their rows but cannot go on without it ({', '.join(batches[:3])}"
            f"{', …' if len(batches) > 3 else ''})" if batches else "")
    return f"Deleted dataset {ds.id} ({ds.rows:,} rows){kept}."


def missing_dataset(dataset_id: str) -> str:
    """The sentence for an id that is not imported: where the shipped sample of that name is."""
    shipped = [p for p in sorted(SAMPLES.glob("*")) if p.suffix.lower() in FORMATS and slug(p.stem) == dataset_id]
    if shipped:
        return (f"no dataset {dataset_id!r} is imported yet; the studio ships one by that name: import it with "
                f"'iom datasets import {shipped[0]}' (or give that file as --data).")
    return f"no dataset {dataset_id!r}; 'iom datasets list' shows the imported ones, 'iom datasets import FILE' adds one."


def empty_hint() -> str:
    """What `iom datasets list` says when nothing is imported."""
    return (f"no datasets yet; import a CSV, JSONL or Parquet file with 'iom datasets import FILE' "
            f"(the shipped sample, 197 labelled reviews: {SAMPLE}).")


def dataset_file(home: Path, ds: Dataset) -> Path:
    return datasets_root(home) / ds.id / ds.file


def rows_of(home: Path, ds: Dataset, limit: int | None = None) -> list[dict[str, Any]]:
    return list(itertools.islice(read_rows(dataset_file(home, ds), ds.format), limit))


class MappingChanged(ChangedElsewhere):
    """A save of a mapping that was changed elsewhere since the page showed it; `now` is the
    dataset as it is, so the page can tell what changed and save over it when asked again."""

    def __init__(self, now: Dataset):
        super().__init__("dataset", now.id, deleted=False)
        self.now = now
        self.args = (f"the mapping of dataset {now.id!r} was changed elsewhere (the command line, another tab) "
                     f"since this page showed it: it is now inputs {mapping_text(now.inputs) or '(none)'}, expected "
                     f"{mapping_text(now.expected) or '(none)'}; nothing was saved: put what you want in both fields "
                     f"and save again to save yours over it.",)


def mapping_text(pairs: dict[str, str]) -> str:
    """A mapping as the Evaluate page's fields show it and `parse_pairs` reads it: "text=review, …"."""
    return ", ".join(f"{k}={v}" for k, v in pairs.items())


def save_mapping(home: Path, ds: Dataset, inputs: dict[str, str] | None, expected: dict[str, str] | None, *,
                 drawn: Dataset | None = None) -> Dataset:
    """Save the dataset's input and/or expected mapping (None: keep that one as it is saved). The
    saved dataset is read again under a lock shared by every process, so a save changes only what
    it is given; with `drawn` (the dataset as a page showed it), a mapping changed since is refused
    with MappingChanged rather than silently undone."""
    with file_locked(datasets_root(home) / ".mapping.lock"):
        now = get_dataset(home, ds.id)
        if drawn is not None and (now.inputs, now.expected) != (drawn.inputs, drawn.expected):
            raise MappingChanged(now)
        for col in [*(inputs or {}).values(), *(expected or {}).values()]:
            if col not in now.column_names:
                raise UserError(f"the dataset {now.id!r} has no column {col!r}; its columns are "
                                f"{', '.join(now.column_names)}.")
        if inputs is not None:
            now.inputs = dict(inputs)
        if expected is not None:
            now.expected = dict(expected)
        write_json(datasets_root(home) / now.id / "meta.json", now.to_json())
    return now


def describe(home: Path, ref: str, rows: int = 5) -> tuple[Dataset, list[dict[str, Any]]]:
    """A dataset (or a data file given by path, described as one) and its first `rows` rows:
    what `iom datasets show` and the Evaluate page's preview show."""
    ds, path, fmt = resolve(home, ref)
    if ds is None:
        columns, count = _schema(path, fmt)
        ds = Dataset(id="", format=fmt, file=path.name, rows=count, columns=columns, source=str(path))
    return ds, list(itertools.islice(read_rows(path, fmt), rows))


def parse_pairs(items: list[str], what: str) -> dict[str, str]:
    """NAME=COLUMN items (`iom datasets map --input`, the Evaluate page's mapping) as a dict."""
    out = {}
    for item in items:
        name, sep, col = item.partition("=")
        if not sep or not name.strip() or not col.strip():
            raise UserError(f"{what}: {item!r} must look like NAME=COLUMN, e.g. text=review.")
        if name.strip() in out and out[name.strip()] != col.strip():  # the last one won, without a word
            raise UserError(f"{what}: {name.strip()!r} is mapped twice ({out[name.strip()]!r} and {col.strip()!r}); "
                            f"keep one.")
        out[name.strip()] = col.strip()
    return out


def free_id(home: Path, name: str) -> str:
    """A dataset id from a file name that no imported dataset has: `reviews`, else `reviews-2`…"""
    base = slug(Path(name).stem)
    ident, n = base, 2
    while (datasets_root(home) / ident / "meta.json").exists():
        ident, n = f"{base[:60]}-{n}", n + 1
    return ident


def resolve(home: Path, ref: str) -> tuple[Dataset | None, Path, str]:
    """A dataset id or a file path -> (dataset or None, file, format)."""
    path = Path(ref)
    if path.is_file() and (path.suffix.lower() in FORMATS or not (datasets_root(home) / ref).is_dir()):
        return None, path, format_of(path)  # which says so when the extension is not one it reads
    if path.is_dir() and path.suffix.lower() in FORMATS:  # a folder named like a data file
        _require_file(path)
    ds = get_dataset(home, ref)
    return ds, dataset_file(home, ds), ds.format


def default_mapping(columns: list[str], input_names: list[str], saved: dict[str, str] | None = None,
                    expected: dict[str, str] | None = None, scored: set[str] | frozenset = frozenset()
                    ) -> tuple[dict[str, str], dict[str, str]]:
    """Inputs map to the column of the same name unless a saved mapping says otherwise; every
    other column is an expected value under its own name. A column being scored is never fed
    in as an input by name (that would hand the model its answer)."""
    inputs = {name: col for name, col in (saved or {}).items() if col in columns}
    for name in input_names:
        if name not in inputs and name in columns and name not in scored:
            inputs[name] = name
    exp = dict(expected or {}) or {c: c for c in columns if c not in inputs.values()}
    return inputs, exp
