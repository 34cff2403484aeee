"""Stream bytes into lines, a network read at a time (SSE allows \\n, \\r\\n and \\r)."""

from studio.providers.adapters.base import split_lines


def _feed(reads: list[bytes]) -> list[str]:
    lines, rest = [], b""
    for chunk in reads:
        got, rest = split_lines(rest + chunk)
        lines += got
    return lines + ([rest.decode("utf-8", "replace")] if rest else [])


def test_lines_are_the_same_however_the_bytes_are_cut():
    text = "data: {\"a\": \"héllo ✓\"}\r\n\r\nevent: x\rdata: 1\n\n".encode() + b"data: \xff\n"  # one invalid byte
    whole = _feed([text])
    assert whole == ['data: {"a": "héllo ✓"}', "", "event: x", "data: 1", "", "data: \ufffd"]
    for size in (1, 2, 3, 5, 7):
        assert _feed([text[i:i + size] for i in range(0, len(text), size)]) == whole


def test_a_carriage_return_at_the_end_waits_for_a_possible_newline():
    assert split_lines(b"a\r") == ([], b"a\r")
    assert split_lines(b"a\r" + b"\nb") == (["a"], b"b")
    assert split_lines(b"no newline yet") == ([], b"no newline yet")
