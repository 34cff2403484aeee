"""A fake model provider: a real HTTP server on 127.0.0.1 in a thread, scripted per test.

Use it for any wire format (OpenAI, Anthropic, Gemini, HF, Ollama, generic HTTP):

    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", Reply(json={...}))               # a JSON answer
        fake.reply("/v1/chat/completions", Reply(chunks=sse({...}, {...})))  # an SSE stream
        fake.reply("/x", Reply(status=429, json={...}, headers={"retry-after": "3"}))
        fake.reply("/x", Reply(chunks=ndjson({...}), cut=True))             # connection drops mid-stream
        ... call fake.url("/v1/chat/completions") ...
        fake.requests[-1].json["model"], fake.requests[-1].headers["authorization"]

- Replies are kept per path (query string ignored) and used in order; the last one repeats.
  `fake.reply(path, r1, r2)` scripts a sequence. A callable `fn(Recorded) -> Reply` may stand
  in for a Reply. Unscripted paths answer 404 with an OpenAI-style error body.
- `Reply.chunks` streams: each part is written and flushed separately, `delay_s` before each.
  Streams are sent chunked on a kept-alive connection. `cut=True` closes the connection
  without finishing the reply (a stream cut off midway; for a plain reply, fewer bytes than
  its content-length). A stream that simply ends without its end marker: leave out the
  marker (e.g. `sse(..., done=False)`).
- `Reply.raw` sends bytes as they are (malformed JSON).
- Every request is recorded in `fake.requests` (method, path, query, lower-cased headers,
  parsed JSON body or None, raw body bytes).
- `fake.gate` (threading.Event) can hold a stream: put `GATE` among the chunks and the server
  waits there until the test sets the gate.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

GATE = object()


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    raw: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[Any] | None = None
    delay_s: float = 0.0
    cut: bool = False
    content_type: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    body: bytes
    client: tuple[str, int] | None = None  # the caller's (address, port): which process asked


def sse(*docs: Any, done: bool = True) -> list[str]:
    """OpenAI-style SSE: one `data:` event per doc, then `data: [DONE]` unless done=False."""
    parts = [f"data: {json.dumps(d)}\n\n" for d in docs]
    return parts + (["data: [DONE]\n\n"] if done else [])


def sse_events(*events: tuple[str, Any]) -> list[str]:
    """Named SSE events (Anthropic): ("message_start", {...}), ..."""
    return [f"event: {name}\ndata: {json.dumps(doc)}\n\n" for name, doc in events]


def ndjson(*docs: Any) -> list[str]:
    """Newline-delimited JSON (Ollama)."""
    return [json.dumps(d) + "\n" for d in docs]


class FakeProvider:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections: set[tuple[str, int]] = set()  # client addresses seen (connection reuse)
        self.gate = threading.Event()
        self._script: dict[str, list[Reply | Callable[[Recorded], Reply]]] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                fake.connections.add(self.client_address)
                # headers and body go out as separate writes: without this, Nagle plus the
                # client's delayed ACK add ~40 ms to every kept-alive reply
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, parse_qs(parts.query),
                               {k.lower(): v for k, v in self.headers.items()}, parsed, raw,
                               self.client_address)
                with fake._lock:
                    fake.requests.append(rec)
                    queue = fake._script.get(parts.path)
                    item = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else None
                reply = item(rec) if callable(item) else item
                if reply is None:
                    reply = Reply(status=404, json={"error": {"message": f"no route {parts.path}", "type": "not_found"}})
                try:
                    self._send(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, r: Reply):
                self.send_response(r.status)
                for k, v in r.headers.items():
                    self.send_header(k, v)
                if r.chunks is None:
                    data = r.raw if r.raw is not None else json.dumps(r.json).encode()
                    data = data.encode() if isinstance(data, str) else data
                    self.send_header("content-type", r.content_type or "application/json")
                    self.send_header("content-length", str(len(data) + (50 if r.cut else 0)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    if r.cut:
                        self.close_connection = True
                    return
                # streams use chunked transfer encoding on a kept-alive connection, as real
                # providers do; a cut stream stops without the final zero-length chunk
                self.send_header("content-type", r.content_type or "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for chunk in r.chunks:
                    if chunk is GATE:
                        fake.gate.wait(30)
                        continue
                    if r.delay_s:
                        time.sleep(r.delay_s)
                    data = chunk.encode() if isinstance(chunk, str) else chunk
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if r.cut:
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_PATCH = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # (5 by default) a burst of connections is not refused and retried a second later

            def handle_error(self, request, client_address):  # a client hanging up is not news
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "") -> str:
        return self.base + path

    def reply(self, path: str, *replies: Reply | Callable[[Recorded], Reply]) -> None:
        with self._lock:
            self._script[path] = list(replies)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def __enter__(self) -> "FakeProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
