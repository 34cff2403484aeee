"""Export of call detail as CSV or Parquet, written a batch of rows at a time: a million calls
are 214 MB of CSV, which were built whole in memory (618 MB at the peak) and sent through the
page's websocket. The page's download is a file the server writes and then serves."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from studio.analytics.queries import Filters
from studio.analytics.schema import CALL_COLUMNS
from studio.arrow_write import write_batches

FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
EXPORT_BATCH_ROWS = 50_000  # rows DuckDB hands over at a time: the export's memory, whatever the table's size
EXPORTS_DIR = "exports"  # under IOM_HOME: files made for a download, removed once it is served
EXPORT_KEPT_S = 600  # a download's file left behind (the server stopped before it was removed) goes after this


def write_calls(cur, f: Filters, fmt: str, sink) -> int:
    """Every call column (error messages were redacted on the way in), oldest first, to `sink`
    (a path or a binary file) as CSV or Parquet; returns how many calls were written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}")
    where, params = f.where()
    cols = ", ".join(name for name, _ in CALL_COLUMNS)
    reader = cur.sql(f"SELECT {cols} FROM calls{where} ORDER BY time, id", params=params).to_arrow_reader(EXPORT_BATCH_ROWS)
    return write_batches(reader, reader.schema, fmt, sink)


def export_file(cur, f: Filters, fmt: str, home: Path) -> Path:
    """The export written to a new file under IOM_HOME/exports/ (for the web app to serve);
    files there older than EXPORT_KEPT_S are removed first."""
    folder = Path(home) / EXPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        try:
            if time.time() - old.stat().st_mtime > EXPORT_KEPT_S:
                old.unlink()
        except OSError:
            pass  # (removed by another page's sweep meanwhile)
    path = folder / f"calls-{secrets.token_hex(8)}.{fmt}"
    try:
        write_calls(cur, f, fmt, str(path))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
