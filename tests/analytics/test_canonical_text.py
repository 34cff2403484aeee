"""The audit trail's canonical text is json's (sorted keys, no spaces, UTF-8) whichever encoder
writes it: every stored address was made from that text, and equal content must keep its
address. orjson writes it where the two agree; these values cover where they do not."""

from __future__ import annotations

import dataclasses
import json
import random
import struct
from datetime import date, datetime, timezone
from uuid import UUID

import pytest

from studio.analytics import rows

JSON_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


@dataclasses.dataclass
class Point:
    x: int


def _floats(n: int) -> list[float]:
    rnd = random.Random(7)
    out = [10 ** rnd.uniform(-30, 30) * rnd.choice((1, -1)) for _ in range(n)]
    out += [struct.unpack("d", rnd.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(n)]
    out += [rnd.randint(0, 10**6) / 10 ** rnd.randint(0, 20) for _ in range(n)]
    return out + [0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 1e16, 1e22, 5e-324, 1.7976931348623157e308,
                  float("nan"), float("inf"), float("-inf")]


EDGES = [
    {"b": 1, "a": [1, 2.5, None, True], "é": "ü", "Z": {"y": "x"}},
    {"text": "a re-run by e-mail at 0.0000 % and null"},  # text that looks like what may differ
    {"n": 2**64, "m": -(2**63) - 1},  # past orjson's 64 bits
    {1: "int key", 2: "another"},
    {"when": datetime(2026, 12, 4, 16, 0, tzinfo=timezone.utc), "day": date(2026, 12, 4)},
    {"id": UUID(int=7), "point": Point(3), "set": {1}},
    {"ctl": "\x00\x1f\x7f\u2028\u2029\"\\/", "emoji": "😀"},
    [], {}, "", None, 0, -1,
]


@pytest.mark.parametrize("value", EDGES, ids=range(len(EDGES)))
def test_edge_values_get_json_text(value):
    assert rows._encode(value) == JSON_TEXT(value)


def test_a_lone_surrogate_is_kept_as_ufffd():
    """json would write it, but UTF-8 cannot spell it: no address could be made from that text,
    and the database refused the batch holding it."""
    assert rows._encode({"s": "lone \ud800 surrogate"}) == '{"s":"lone \ufffd surrogate"}'


def test_every_float_gets_json_spelling():
    floats = _floats(20_000)
    assert [rows._encode({"x": f}) for f in floats] == [JSON_TEXT({"x": f}) for f in floats]
    # the point of the test: orjson spells some of these otherwise (it would fail without the guard)
    import orjson
    assert any(orjson.dumps({"x": f}).decode() != JSON_TEXT({"x": f}) for f in floats)
