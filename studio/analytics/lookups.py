"""Finding what a write replaces or already has, without reading the whole table each time.

The writer checks every batch against what is stored: the runs it replaces, the audit texts
already kept. A semi-join on a text column decodes and hashes every stored value, so each
write cost more as the database grew (about 100 ms per write at a million audit texts, 75 ms
for the runs). So:
- runs are looked up by a list of parameters on their primary key, which uses its index;
- audit texts carry `key`, the first 124 bits of their sha256 as a HUGEINT (schema version 6):
  a semi-join on it reads one integer column (12 ms against 92 ms for the hashes at two
  million texts). Two texts with the same key are taken as one, as two with the same sha256
  are: such a pair among even a billion texts has less than a chance in 10^19.
"""

from __future__ import annotations

from typing import Iterator

# The audit text's key, from its sha256 in hex (NULL if that were ever not hex: never matched).
KEY_SQL = "TRY_CAST('0x' || left({column}, 31) AS HUGEINT)"


def parts(ids: list, size: int = 500) -> Iterator[list]:
    """`ids` a few hundred at a time: a list of parameters costs more the longer it is."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def marks(part: list) -> str:
    """The `?, ?, …` of a list of parameters."""
    return ", ".join("?" * len(part))
