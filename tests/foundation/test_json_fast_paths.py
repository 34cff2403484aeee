"""orjson reads and writes the studio's JSON where it gives what json gives; these are the
values where it would not, or refuses, and the studio must still answer as json would."""

from __future__ import annotations

import json

import pytest

from studio import jsonread, jsonwrite
from studio.errors import UserError


@pytest.mark.parametrize("text", [
    b'{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}',
    b'[18446744073709551616, -9223372036854775809, 12345678901234567890123]',  # orjson: floats
    b'\xef\xbb\xbf{"bom": true}',
    b'[NaN, Infinity, -Infinity, 1e400]',
    b'{"a": 1, "a": 2}',
    '{"é": "ü 😀"}'.encode(),
])
def test_read_gives_what_json_gives(text):
    got, want = jsonread.loads(text, "x"), json.loads(text.decode("utf-8-sig"))
    assert json.dumps(got) == json.dumps(want)  # NaN-safe equality, types included (int stays int)
    assert [type(v) for v in (got if isinstance(got, list) else [])] == \
        [type(v) for v in (want if isinstance(want, list) else [])]


@pytest.mark.parametrize("text, says", [
    (b'["\\ud800"]', "lone surrogate"),
    (b"[" * 101 + b"]" * 101, "nested more than 100 levels"),
    (b'{"a": [1,', "not valid JSON (line 1"),
])
def test_read_refuses_with_one_sentence(text, says):
    with pytest.raises(UserError, match=says.replace("(", r"\(")):
        jsonread.loads(text, "x")


def test_deep_but_allowed_nesting_passes():
    assert jsonread.loads(b"[" * 100 + b"]" * 100, "x") is not None


@pytest.mark.parametrize("value", [
    {"n": 2**64, "s": "x"},  # past orjson's 64 bits
    {"s": "lone \ud800"},
    {1: "int key"},
    {"é": "ü", "list": [1, 2.5, None, True]},
])
def test_write_round_trips_what_orjson_refuses(value):
    body = jsonwrite.dumps(value)
    body.decode("utf-8")  # valid UTF-8 even for a lone surrogate (escaped)
    assert json.loads(body) == json.loads(json.dumps(value))


def test_write_spells_nan_as_null():
    assert json.loads(jsonwrite.dumps({"x": float("nan")})) == {"x": None}


def test_loads_as_json_would_leaves_long_integers_to_json():
    assert jsonread.loads_as_json_would(b'{"n": 123456789012345678}') == {"n": 123456789012345678}
    with pytest.raises(ValueError):
        jsonread.loads_as_json_would(b'{"n": 18446744073709551616}')
    with pytest.raises(ValueError):
        jsonread.loads_as_json_would(b"[NaN]")


def test_loads_as_json_would_reads_text_with_the_same_guard():
    assert jsonread.loads_as_json_would('{"n": 123456789012345678}') == {"n": 123456789012345678}
    with pytest.raises(ValueError):
        jsonread.loads_as_json_would('{"n": 18446744073709551616}')


@pytest.mark.parametrize("text, to_json", [
    ('{"n": 1234567890123456789}', True),  # 19 digits: may pass 2**63, json's path
    ('{"n": 123456789012345678}', False),  # 18 digits always fit
    ('{"n": 12345678901234567.5}', False),  # 17 digits, a fraction
    ('{"n": -99999999999999999999}', True),
    ('{"s": "\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666\\u0667\\u0668\\u0669\\u0660\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666\\u0667\\u0668\\u0669"}', False),
    ('{"s": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩"}', False),  # digits of another script, inside a string
    ('{"a": [123456789, 1234567890]}', False),  # digits apart
    ('{"s": "\\ud800 0000000000000000000"}', True),  # 19 zeros in a string: json's path, same value
])
def test_the_long_integer_guard_finds_nineteen_ascii_digits_in_a_row(text, to_json):
    for data in (text, text.encode("utf-8")):
        if to_json:
            with pytest.raises(ValueError):
                jsonread.loads_as_json_would(data)
        else:
            assert jsonread.loads_as_json_would(data) == json.loads(text)
