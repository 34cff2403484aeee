"""httpx's client API over aiohttp's connection pool and C HTTP parser.

The adapters speak httpx (requests, streamed responses, its exceptions); only the bytes on the
wire move through aiohttp, which is already installed with NiceGUI. Measured side by side on
loopback (bench/bench_adapters.py, bench/bench_gateway.py): httpcore's pure-Python HTTP/1.1
costs ~150 µs more CPU per call than the whole rest of the hub, and its pool stalls requests
for seconds when many keep-alive connections are in use at concurrency 64. The adapters' two
hot paths (`Exchange.request_json`, `Exchange.line_batches`) go through `open_response`, which
on this transport builds no httpx objects at all: a `StreamReply` has what they read of a reply.

aiohttp's errors become the httpx errors an httpx transport raises in the same situation, so
providers/classify.py reads them unchanged: refused → ConnectError, a reply cut off or a
server that hangs up → RemoteProtocolError / ReadError, timeouts → ConnectTimeout /
ReadTimeout / PoolTimeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import AsyncIterator, Iterator

import aiohttp
import httpx

from studio import jsonwrite


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as e:
        raise httpx.ConnectTimeout(str(e) or "connecting timed out", request=request) from e
    except (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, asyncio.TimeoutError) as e:
        raise httpx.ReadTimeout(str(e) or "reading timed out", request=request) from e
    except aiohttp.ClientConnectorError as e:
        raise httpx.ConnectError(str(e), request=request) from e
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as e:
        raise httpx.RemoteProtocolError(str(e) or type(e).__name__, request=request) from e
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as e:
        raise httpx.UnsupportedProtocol(str(e), request=request) from e
    except (aiohttp.ClientError, ConnectionError) as e:
        raise httpx.ReadError(str(e) or type(e).__name__, request=request) from e


async def _chunks(response: aiohttp.ClientResponse, request: httpx.Request | None) -> AsyncIterator[bytes]:
    """The body a network read at a time, aiohttp's failures as httpx's."""
    with _as_httpx_errors(request):
        async for chunk in response.content.iter_any():
            yield chunk


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request):
        self._response, self._request = response, request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _chunks(self._response, self._request)

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (made on first use, on the loop that uses it) behind an httpx client."""

    def __init__(self, limits: httpx.Limits):
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limits.max_connections or 0, limit_per_host=0,
                                             keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                                             ssl=httpx.create_ssl_context())
            # httpx decodes content-encoding itself; cookies are httpx's business too
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def _send(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout: dict,
                    request: httpx.Request | None) -> aiohttp.ClientResponse:
        with _as_httpx_errors(request):
            return await self._open().request(
                method, url, headers=headers, data=body or None, allow_redirects=False, compress=False,
                timeout=_aiohttp_timeout(timeout.get("pool"), timeout.get("connect"), timeout.get("read")))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._send(
            request.method, str(request.url),
            [(k, v) for k, v in request.headers.multi_items() if k.lower() != "transfer-encoding"],
            await request.aread(), request.extensions.get("timeout", {}), request)
        return _httpx_response(response, request)

    async def open_response(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes,
                            timeout: dict) -> "StreamReply | httpx.Response":
        """A request straight on aiohttp, its reply read by the caller: no httpx.Request built
        and taken apart again, no httpx.Response and its byte-stream layers around the reads (a
        tenth of a streamed gateway call's CPU in the profile). A compressed reply, which httpx
        would decode, gets the httpx.Response that `handle_async_request` makes."""
        response = await self._send(method, url, headers, body, timeout, None)
        if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
            return _httpx_response(response, httpx.Request(method, url, headers=headers, content=body))
        return StreamReply(response)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _httpx_response(response: aiohttp.ClientResponse, request: httpx.Request) -> httpx.Response:
    """aiohttp's response as httpx's, its body read through `_Body` (httpx decodes it)."""
    return httpx.Response(response.status, headers=response.raw_headers, stream=_Body(response, request),
                          request=request, extensions={"http_version": b"HTTP/1.1"})


@functools.lru_cache(maxsize=64)
def _aiohttp_timeout(pool: float | None, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


class StreamReply:
    """The part of httpx.Response a streamed read uses (status_code, headers, aiter_bytes,
    aread, aclose), over aiohttp's response. `headers` is aiohttp's case-insensitive view;
    transport failures are the httpx errors `_Body` raises (the same `_chunks`)."""

    def __init__(self, response: aiohttp.ClientResponse):
        self._response = response
        self.status_code = response.status
        self.headers = response.headers

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return _chunks(self._response, None)

    async def aread(self) -> bytes:
        with _as_httpx_errors(None):
            return await self._response.read()

    async def aclose(self) -> None:
        self._response.release()


# Endpoints are few and httpx parses a URL in Python (~17 µs a call); httpx.URL is immutable.
_parsed_url = functools.lru_cache(maxsize=1024)(httpx.URL)


@functools.lru_cache(maxsize=1024)
def _wire_url(url: str) -> str:
    """The URL as the httpx path sends it (httpx's normalisation, then aiohttp's)."""
    return str(_parsed_url(url))


@functools.lru_cache(maxsize=64)
def _timeouts(seconds: float) -> dict:
    return httpx.Timeout(seconds).as_dict()


class DirectClient:
    """The four methods of httpx.AsyncClient the adapters use (`build_request`, `send`,
    `request`, `get`), straight onto the transport: httpx.Request in, httpx.Response out.

    The hub's clients need none of what AsyncClient adds around its transport (auth flows,
    redirects — never followed —, cookies, event hooks, env proxies, which AsyncClient ignores
    anyway once given a transport); skipping it saved ~50 µs a call on loopback
    (265 → 212 µs median, alternating, same fake). httpx's default request headers are kept.
    """

    _DEFAULT_HEADERS = httpx.Headers({"accept": "*/*", "accept-encoding": "gzip, deflate",
                                      "user-agent": f"python-httpx/{httpx.__version__}"})
    _DEFAULT_WIRE = {name: (name, value) for name, value in _DEFAULT_HEADERS.items()}  # lower name -> header

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout_s: float):
        self._transport = transport
        self._timeout = httpx.Timeout(timeout_s).as_dict()

    def build_request(self, method: str, url: str, *, json=None, content=None, headers=None,
                      timeout: float | None = None) -> httpx.Request:
        """The request httpx would build (its default headers, then the caller's, then Host and
        Content-Length where the caller set none), made with `stream=`, which leaves the headers
        as given: from `content=` httpx rebuilt its header list four times (~10 µs a call)."""
        parsed = _parsed_url(url)
        merged = self._DEFAULT_HEADERS.copy()
        if json is not None and content is None:  # what httpx's json= sends, written by orjson
            content = jsonwrite.dumps(json)
            merged["content-type"] = "application/json"
        if headers:
            merged.update(headers)
        body = content.encode("utf-8") if isinstance(content, str) else (content or b"")
        raw = merged.raw
        if "host" not in merged:
            raw.insert(0, (b"Host", parsed.netloc))
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in merged:
            raw.append((b"Content-Length", str(len(body)).encode("ascii")))
        request = httpx.Request(method, parsed, headers=raw, stream=httpx.ByteStream(body), extensions={
            "timeout": httpx.Timeout(timeout).as_dict() if timeout is not None else self._timeout})
        request.read()  # `request.content`, as httpx sets it for a body given whole
        return request

    async def open_response(self, method: str, url: str, *, json=None, content=None, headers=None,
                            timeout: float | None = None) -> "StreamReply | httpx.Response":
        """`send(build_request(…), stream=True)`, the same request on the wire; on the aiohttp
        transport without the httpx objects in between (see AiohttpTransport.open_response).
        The caller reads the body (`aiter_bytes` or `aread`) and then `aclose`s it."""
        if not isinstance(self._transport, AiohttpTransport):
            return await self.send(self.build_request(method, url, json=json, content=content, headers=headers,
                                                      timeout=timeout), stream=True)
        wire = dict(self._DEFAULT_WIRE)
        body = content.encode("utf-8") if isinstance(content, str) else (content or b"")
        if json is not None and content is None:
            body = jsonwrite.dumps(json)
            wire["content-type"] = ("content-type", "application/json")
        for name, value in (headers or {}).items():
            wire[name.lower()] = (name, value)
        times = _timeouts(timeout) if timeout is not None else self._timeout
        return await self._transport.open_response(method, _wire_url(url), list(wire.values()), body, times)

    async def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def request(self, method: str, url: str, **options) -> httpx.Response:
        return await self.send(self.build_request(method, url, **options))

    async def get(self, url: str, **options) -> httpx.Response:
        return await self.request("GET", url, **options)

    async def aclose(self) -> None:
        await self._transport.aclose()
