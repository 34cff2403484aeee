"""One way to read JSON a person or a client hands the studio — files, `@FILE` and inline CLI
input, pasted text, uploads, gateway bodies — with limits, and one sentence for each way it
can go wrong (size, encoding, syntax with line and column, nesting, huge numbers, lone
surrogates) instead of a RecursionError, ValueError or UnicodeError traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.errors import UserError

try:  # NiceGUI brings orjson where it has wheels (see pyproject.toml)
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - platforms without orjson wheels
    _orjson_loads = None

# orjson reads integers past 64 bits as floats; json keeps them exact. A run of 19 digits is
# found by mapping each digit to "0" and looking for 19 zeros: a C loop and a substring search,
# ~8x faster than the regex \d{19} on a stream chunk (0.3 against 2.2 µs), ~15x on 3 KB.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19

MAX_BYTES = 32 << 20  # a pipeline, a registry export or a request body larger than this is a mistake
MAX_DEPTH = 100  # levels of nested arrays/objects


def loads(data: str | bytes, source: str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `data`; `source` names it in messages ("pipeline.json", "the --input value")."""
    if isinstance(data, (bytes, bytearray)):
        if len(data) > max_bytes:
            raise UserError(f"{source} is {len(data):,} bytes, more than the limit of {max_bytes:,}; use a smaller file.")
        value = _fast(data, source, max_depth)
        if value is not _SLOW:
            return value
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise UserError(f"{source} is not UTF-8 text (a bad byte at offset {e.start}); save it as UTF-8 JSON.") from None
    elif len(data) > max_bytes:
        raise UserError(f"{source} is {len(data):,} characters, more than the limit of {max_bytes:,}; send less.")
    try:
        value = json.loads(data)
    except json.JSONDecodeError as e:
        raise UserError(f"{source} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}).") from None
    except RecursionError:
        raise UserError(f"{source} is nested more than {max_depth} levels deep; flatten it.") from None
    except ValueError as e:  # integers past Python's 4,300-digit conversion limit
        if "digits" in str(e):
            raise UserError(f"{source} has a number with more than 4,300 digits; send it as a string.") from None
        raise UserError(f"{source} is not valid JSON ({e}).") from None
    check_shape(value, source, max_depth)
    return value


_SLOW = object()


def loads_as_json_would(data: bytes | str, *, long_integers: bool | None = None) -> Any:
    """`json.loads(data)` read by orjson (~4x faster), or ValueError where the two may differ:
    what orjson refuses (a BOM, NaN, 1e400, lone surrogates, bad syntax) and text with an
    integer of 19+ digits, which orjson makes a float past 64 bits. The caller then asks json.
    `long_integers` is what a caller already knows of that (a stream looks once per read);
    None: look here."""
    if long_integers is None:
        long_integers = has_long_integer(data)
    if _orjson_loads is None or long_integers:
        raise ValueError("not for orjson")
    return _orjson_loads(data)


def has_long_integer(data: bytes | str) -> bool:
    """Whether ASCII digits (the only ones a JSON number has) run 19 or more in a row."""
    if isinstance(data, str):  # UTF-8 turns no other character into an ASCII digit
        data = data.encode("utf-8", "surrogatepass")
    return _NINETEEN_DIGITS in data.translate(_DIGITS_AS_ZERO)


def _fast(data: bytes, source: str, max_depth: int) -> Any:
    """`loads_as_json_would`, or _SLOW where json's path is needed (to read it, or to say what
    is wrong with line and column); orjson reads no lone surrogate, and nesting deeper than
    the brackets in the text is impossible, so the walk runs only where there are more than
    `max_depth`."""
    try:
        value = loads_as_json_would(data)
    except ValueError:
        return _SLOW
    if data.count(b"[") + data.count(b"{") > max_depth:
        check_shape(value, source, max_depth)
    return value


# A lone surrogate ("\ud800") is no character: UTF-8 cannot spell it, so no file, database or
# page can hold it. json reads one from the escape "\\ud800" (orjson refuses it). Text a person
# hands the studio is refused with a sentence (check_shape); text a provider or a stored line
# carries is kept with U+FFFD in its place, since refusing it would lose the rest.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def replace_lone_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so that it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def loads_reply(data: bytes | str) -> Any:
    """`json.loads` for what a provider sent, each lone surrogate in its strings (and keys)
    replaced by U+FFFD; raises ValueError where json does."""
    value = json.loads(data)
    escape = _SURROGATE_ESCAPE if isinstance(data, str) else _SURROGATE_ESCAPE_BYTES
    if escape.search(data) is None:  # a pair of escapes reads as one character: only lone ones matter
        return value
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    stack = [value]  # json.loads made these containers: fixed in place, without recursion
    while stack:
        item = stack.pop()
        pairs = list(item.items()) if isinstance(item, dict) else list(enumerate(item)) if isinstance(item, list) else []
        for key, sub in pairs:
            if isinstance(sub, str):
                item[key] = replace_lone_surrogates(sub)
            elif isinstance(sub, (dict, list)):
                stack.append(sub)
            if isinstance(key, str) and _SURROGATE.search(key):
                item[replace_lone_surrogates(key)] = item.pop(key)
    return value


def check_shape(value: Any, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Nesting within `max_depth`, and text that is valid Unicode (no lone surrogates such as
    "\\ud800", which no file, database or terminal can hold). Iterative: no recursion limit."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, source)
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise UserError(f"{source} is nested more than {max_depth} levels deep; flatten it.")
            if isinstance(item, dict):
                for key, sub in item.items():
                    _check_text(key, source)
                    stack.append((sub, depth + 1))
            else:
                stack.extend((sub, depth + 1) for sub in item)


def _check_text(text: str, source: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise UserError(f"{source} holds text that is not valid Unicode (a lone surrogate "
                            f"{text[e.start]!a}); remove it or send the characters themselves.") from None


def read_file(path: Path | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON file a user named, read within the limits."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UserError(f"{path} is {size:,} bytes, more than the limit of {max_bytes:,}; use a smaller file.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a JSON file.") from None
    except OSError as e:
        raise UserError(f"{path} could not be read ({e.strerror or e}).") from None
    except ValueError:  # a path with a NUL byte
        raise UserError(f"{str(path)!r} is not a usable file name.") from None
    return loads(data, str(path), max_bytes=max_bytes, max_depth=max_depth)


def read_argument(text: str, what: str = "the input") -> Any:
    """A CLI value that is JSON inline or `@FILE`."""
    if text.startswith("@"):
        return read_file(text[1:])
    return loads(text, what)
