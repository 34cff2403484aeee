"""CSV or Parquet written from Arrow record batches one at a time, so an export's memory is a
batch's, whatever the table's size (the analytics export, a batch's rows). pyarrow is imported
on first use: it is ~110 ms the studio's start does not pay."""

from __future__ import annotations

from typing import Iterable


def table_writer(fmt: str, sink, schema):
    """Arrow's writer for `fmt` ("csv" or "parquet") into `sink` (a path or a binary file)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(sink, schema)
    import pyarrow.csv as pacsv

    return pacsv.CSVWriter(sink, schema)


def write_batches(batches: Iterable, schema, fmt: str, sink) -> int:
    """Write every record batch to `sink` as `fmt`; returns how many rows were written."""
    count = 0
    with table_writer(fmt, sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            count += batch.num_rows
    return count
