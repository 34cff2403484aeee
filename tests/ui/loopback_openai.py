"""A minimal OpenAI-style chat server on 127.0.0.1 for the console tests: streams SSE chunks,
and holds the stream after the first chunk until the test opens `gate`, so a test can see the
first words on the page before the rest arrives (no sleeps, no timing)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIRST = "Hello"
REST = [" from", " the", " loopback."]


class LoopbackOpenAI:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # list-models: what a cheap health probe asks for
                server.headers.append(dict(self.headers))
                data = json.dumps({"object": "list", "data": [{"id": "loop-1", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if not body.get("stream"):
                    reply = {"id": "cmpl-1", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": FIRST + "".join(REST)}}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
                    data = json.dumps(reply).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()

                def chunk(delta: dict, finish=None, usage=None, choices=True):
                    doc = {"id": "cmpl-1", "object": "chat.completion.chunk", "model": body.get("model"),
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
                    if usage:
                        doc["usage"] = usage
                    self.wfile.write(f"data: {json.dumps(doc)}\n\n".encode())
                    self.wfile.flush()

                try:
                    chunk({"role": "assistant", "content": FIRST})
                    server.gate.wait(30)
                    for word in REST:
                        chunk({"content": word})
                    chunk({}, finish="stop")
                    chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}, choices=False)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/chat/completions"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
