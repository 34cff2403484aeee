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


CASES = [
    ("POST", "/v1/chat/completions", {"json": {"model": "m", "text": "é"}, "headers": {"Authorization": "Bearer k"}}),
    ("POST", "/x?key=1", {"content": "plain é", "headers": {"Content-Type": "text/plain"}}),
    ("POST", "/x", {"content": b"", "headers": {"x-api-key": "k"}}),
    ("GET", "/v1/models", {"headers": {"Authorization": "Bearer k"}}),
    ("POST", "/x", {"json": {"a": 1}, "headers": {"Content-Type": "application/json; charset=utf-8", "Host": "proxy.example"}}),
]


@pytest.mark.parametrize("method, path, options", CASES)
async def test_the_aiohttp_fast_path_sends_what_the_httpx_path_sends(method, path, options):
    """`open_response` on the aiohttp transport skips httpx.Request and httpx.Response; the
    loopback server must receive the same request line, headers and body either way."""
    import httpx as _httpx

    from studio.providers.transport import AiohttpTransport, StreamReply
    from tests.fakes.provider_server import FakeProvider, Reply

    with FakeProvider() as fake:
        fake.reply(path.split("?")[0], Reply(json={"ok": True}))
        client = DirectClient(AiohttpTransport(_httpx.Limits(max_connections=4)), 60.0)
        try:
            plain = await client.request(method, fake.url(path), **options)
            fast = await client.open_response(method, fake.url(path), **options)
            assert isinstance(fast, StreamReply) and fast.status_code == plain.status_code == 200
            assert await fast.aread() == plain.content and fast.headers["content-type"] == plain.headers["content-type"]
            await fast.aclose()
        finally:
            await client.aclose()
    first, second = fake.requests
    assert (first.method, first.path, first.query, first.body) == (second.method, second.path, second.query, second.body)
    drop = {"connection"}  # keep-alive bookkeeping may differ between a new and a reused connection
    assert {k: v for k, v in first.headers.items() if k not in drop} == \
        {k: v for k, v in second.headers.items() if k not in drop}


async def test_a_compressed_reply_on_the_fast_path_is_decoded_as_httpx_would():
    import gzip

    import httpx as _httpx

    from studio.providers.transport import AiohttpTransport
    from tests.fakes.provider_server import FakeProvider, Reply

    body = json.dumps({"text": "squeezed " * 50}).encode()
    with FakeProvider() as fake:
        fake.reply("/x", Reply(raw=gzip.compress(body), headers={"content-encoding": "gzip"}))
        client = DirectClient(AiohttpTransport(_httpx.Limits(max_connections=4)), 60.0)
        try:
            reply = await client.open_response("POST", fake.url("/x"), json={"q": 1})
            assert await reply.aread() == body
            await reply.aclose()
        finally:
            await client.aclose()
