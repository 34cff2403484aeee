"""DirectClient builds its requests itself (httpx.Request with stream=, see transport.py); what
goes on the wire must be what httpx builds from the same arguments (`httpx.Request` with
content= or json=, DirectClient's default headers under the caller's)."""

from __future__ import annotations

import json

import httpx
import pytest

from studio.providers.transport import DirectClient


def _client() -> DirectClient:
    return DirectClient(httpx.MockTransport(lambda r: httpx.Response(200)), 60.0)


def _as_httpx(method: str, url: str, *, headers: dict, **body) -> httpx.Request:
    merged = DirectClient._DEFAULT_HEADERS.copy()
    merged.update(headers)
    return httpx.Request(method, url, headers=merged, **body)


@pytest.mark.parametrize("method, url, options", [
    ("POST", "http://127.0.0.1:9/v1/chat/completions", {"json": {"model": "m", "text": "é"},
                                                       "headers": {"Authorization": "Bearer k"}}),
    ("POST", "https://api.example.com/x?key=1", {"content": "plain é", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "http://127.0.0.1:9/x", {"content": b"", "headers": {"x-api-key": "k"}}),
    ("GET", "http://127.0.0.1:9/v1/models", {"headers": {"Authorization": "Bearer k"}}),
    ("POST", "http://127.0.0.1:9/x", {"json": {"a": 1}, "headers": {"Content-Type": "application/json; charset=utf-8",
                                                                   "Host": "proxy.example"}}),
])
def test_same_headers_and_body_as_httpx(method, url, options):
    ours, theirs = _client().build_request(method, url, **options), _as_httpx(method, url, **options)
    assert ours.method == theirs.method and ours.url == theirs.url
    assert sorted((k.lower(), v) for k, v in ours.headers.raw) == sorted((k.lower(), v) for k, v in theirs.headers.raw)
    if "json" in options:  # orjson's text, not json.dumps': the same value
        assert json.loads(ours.content) == json.loads(theirs.content)
        assert len(ours.content) == len(theirs.content)  # both compact
    else:
        assert ours.content == theirs.content
