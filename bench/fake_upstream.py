"""A loopback OpenAI-style chat endpoint for the benches, in a process of its own.

    with FakeUpstream(PLAIN_BODY, stream_events=[...], delay_s=0.2) as base_url: ...

Bare asyncio HTTP/1.1 with keep-alive, answering every POST: the JSON body, or — when the
request asks for `"stream": true` — the SSE events, each written on its own, chunked. It runs
in its own process, as a real upstream does: in a thread of the bench it shares the client's
GIL, and the figures measure two event loops taking turns (the thread-per-connection test fake
capped the gateway bench's client at ~400 req/s). uvicorn stalled some kept-alive requests
under 64 connections until its keep-alive timeout, which measured the fake, not the studio.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeUpstream:
    def __init__(self, body: dict, *, stream_events: list[dict] | None = None, delay_s: float = 0.0):
        self.config = {"body": body, "events": stream_events or [], "delay_s": delay_s}

    def __enter__(self) -> str:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.port), json.dumps(self.config)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return f"http://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("the fake upstream did not start within 30 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def serve(port: int, config: dict) -> None:
    payload = json.dumps(config["body"]).encode()
    plain = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
             + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    stream_head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    events = [_chunk(b"data: " + json.dumps(e).encode() + b"\n\n") for e in config["events"]]
    events += [_chunk(b"data: [DONE]\n\n"), b"0\r\n\r\n"]
    delay_s = config["delay_s"]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if delay_s:
                    await asyncio.sleep(delay_s)
                if b'"stream":true' in body.replace(b" ", b""):
                    writer.write(stream_head)
                    for event in events:  # one write each, as a provider sends tokens
                        writer.write(event)
                        await writer.drain()
                else:
                    writer.write(plain)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    serve(int(sys.argv[1]), json.loads(sys.argv[2]))
