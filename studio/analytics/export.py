"""Export of call detail as CSV or Parquet bytes (for downloads and scripts)."""

from __future__ import annotations

import io

from studio.analytics.queries import Filters
from studio.analytics.schema import CALL_COLUMNS

FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


def export_calls(cur, f: Filters = Filters(), fmt: str = "csv") -> bytes:
    """Every call column (error messages were redacted on the way in), oldest first."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}")
    where, params = f.where()
    cols = ", ".join(name for name, _ in CALL_COLUMNS)
    table = cur.sql(f"SELECT {cols} FROM calls{where} ORDER BY time, id", params=params).to_arrow_table()
    buf = io.BytesIO()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, buf)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, buf)
    return buf.getvalue()
