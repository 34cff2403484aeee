"""StreamedAnswer on its own, driven as an ASGI app: what is written when, and what a client
that leaves does to the call. (The SDK tests drive it through the real server.)"""

from __future__ import annotations

import asyncio

import pytest
from starlette.responses import PlainTextResponse

from studio.gateway.errors import GatewayError
from studio.gateway.streaming import Reply, StreamedAnswer
from studio.providers.errors import ErrorKind, ProviderError


class Frames:
    def opening(self) -> str:
        return "<"

    def text(self, index: int, text: str) -> str:
        return f"{index}:{text};"

    def closing(self, reply: Reply) -> str:
        return f"end({reply.finish})>"

    def failure(self, error: GatewayError) -> str:
        return f"error({error.status})>"

    def refusal(self, error: GatewayError):
        return PlainTextResponse(error.message, status_code=error.status)


class Client:
    """The ASGI side: records what was sent; `leave` makes receive() report a disconnect."""

    def __init__(self, fail_on_body: int | None = None):
        self.sent: list[dict] = []
        self.left = asyncio.Event()
        self.fail_on_body = fail_on_body

    async def receive(self) -> dict:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.body":
            bodies = sum(m["type"] == "http.response.body" for m in self.sent)
            if self.fail_on_body is not None and bodies >= self.fail_on_body:
                raise ConnectionResetError("the client has gone")
        self.sent.append(message)

    @property
    def status(self) -> int:
        return self.sent[0]["status"]

    @property
    def bodies(self) -> list[tuple[str, bool]]:
        return [(m["body"].decode(), m.get("more_body", False)) for m in self.sent if m["type"] == "http.response.body"]


async def answer(run, client: Client) -> None:
    await StreamedAnswer(run, Frames())({"type": "http"}, client.receive, client.send)


async def test_text_of_one_read_goes_out_with_the_end_in_one_write():
    async def run(on_text):
        await on_text("Hel")
        await on_text("lo")
        return Reply("Hello", "length")

    client = Client()
    await answer(run, client)
    assert client.status == 200
    assert client.bodies == [("<0:Hel;0:lo;end(length)>", False)]


async def test_held_text_goes_out_as_soon_as_the_call_waits():
    async def run(on_text):
        await on_text("Hel")
        await asyncio.sleep(0.01)  # the provider's next read
        assert client.bodies == [("<0:Hel;", True)]
        await on_text("lo")
        await asyncio.sleep(0.01)
        return Reply("Hello", "length")

    client = Client()
    await answer(run, client)
    assert client.status == 200
    assert client.bodies == [("<0:Hel;", True), ("0:lo;", True), ("end(length)>", False)]


async def test_writes_stay_in_order_when_the_server_is_slow_to_take_them():
    """The held text is written by another task; while the server makes it wait, the call's
    next text waits its turn."""
    class SlowClient(Client):
        async def send(self, message: dict) -> None:
            await asyncio.sleep(0.005)
            await super().send(message)

    async def run(on_text):
        await on_text("a")
        await asyncio.sleep(0.001)  # the held text's write starts, and is slow
        await on_text("b")
        return Reply("ab")

    client = SlowClient()
    await answer(run, client)
    assert client.sent[0]["type"] == "http.response.start"
    assert client.bodies == [("<0:a;", True), ("0:b;", True), ("end(stop)>", False)]


async def test_an_answer_with_no_text_before_its_end_goes_out_whole():
    async def run(on_text):
        return Reply("", "tool_calls")

    client = Client()
    await answer(run, client)
    assert client.status == 200 and client.bodies == [("<end(tool_calls)>", False)]


async def test_a_failure_before_the_first_text_is_answered_with_its_status():
    async def run(on_text):
        raise ProviderError(ErrorKind.RATE_LIMITED, "slow down")

    client = Client()
    await answer(run, client)
    assert client.status == 429 and "slow down" in client.bodies[0][0]


async def test_a_failure_after_the_first_text_ends_the_stream_with_an_error():
    async def run(on_text):
        await on_text("Hel")
        await asyncio.sleep(0.01)
        raise ProviderError(ErrorKind.SERVER, "broke")

    client = Client()
    await answer(run, client)
    assert client.status == 200 and client.bodies == [("<0:Hel;", True), ("error(502)>", False)]


async def test_a_failure_after_held_text_still_sends_that_text():
    async def run(on_text):
        await on_text("Hel")
        raise ProviderError(ErrorKind.SERVER, "broke")

    client = Client()
    await answer(run, client)
    assert client.status == 200 and client.bodies == [("<0:Hel;error(502)>", False)]


@pytest.mark.parametrize("how", ["disconnect", "send raises"])
async def test_a_client_that_leaves_cancels_the_call(how):
    cancelled = asyncio.Event()
    client = Client(fail_on_body=1 if how == "send raises" else None)

    async def run(on_text):
        await on_text("Hel")
        await asyncio.sleep(0.01)  # the provider's next read: "Hel" is written meanwhile
        try:
            if how == "disconnect":
                client.left.set()
            await on_text("lo")
            await asyncio.sleep(5)  # a provider still sending
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Reply("Hello")

    await asyncio.wait_for(answer(run, client), 2)
    assert cancelled.is_set()
    assert client.bodies[0] == ("<0:Hel;", True) and not any(not more for _, more in client.bodies)


@pytest.mark.parametrize("text", ["Hello", "", 'quote " and \\ and \n', "ü 漢字 😀", "lone \ud800", "\0"])
def test_a_text_frame_of_the_first_choice_is_the_chunk_openai_sends(text):
    """ChunkFrames.text writes the first choice's pieces into a frame built once; each must be
    what its general `chunk` writes for the same delta (and a second choice's still opens with
    its role)."""
    import json

    from studio.gateway.openai_api import ChunkFrames

    frames = ChunkFrames("model/with \0 in it", include_usage=False)
    assert frames.text(0, text) == frames.chunk({"content": text})
    second = json.loads(frames.text(1, text)[len("data: "):])
    assert second["choices"] == [{"index": 1, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]
