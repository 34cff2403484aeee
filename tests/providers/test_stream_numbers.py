"""Stream chunks are read as json reads them: orjson where the two agree, json where a read of
the stream holds an integer past 64 bits (orjson makes it a float) or what orjson refuses."""

import math

import httpx
import pytest

from studio.providers.adapters.base import Exchange
from studio.providers.transport import DirectClient


class _Reads(httpx.AsyncByteStream):
    def __init__(self, reads: list[bytes]):
        self.reads = reads

    async def __aiter__(self):
        for read in self.reads:
            yield read


async def _events(reads: list[bytes]) -> list:
    client = DirectClient(httpx.MockTransport(lambda request: httpx.Response(200, stream=_Reads(reads))), 60.0)

    async def emit(text):
        pass

    exchange = Exchange(spec=None, input={}, params={}, key=None, stream=True, client=client, emit=emit)
    return [data async for batch in exchange.sse_batches("http://fake.test/v1", body={}) for _, data in batch]


BIG = 18446744073709551616  # 2**64


@pytest.mark.parametrize("reads", [
    [b'data: {"n": 18446744073709551616}\n\n', b"data: [DONE]\n\n"],
    [b'data: {"n": 1844674407', b'3709551616}\n\ndata: [DONE]\n\n'],  # the number cut by the network
    [b'data: {"m": 1}\n\n', b'data: {"n": 18446744073709551616}\n\n', b"data: [DONE]\n\n"],
])
async def test_an_integer_past_64_bits_stays_exact(reads):
    events = await _events(reads)
    n = [e["n"] for e in events if isinstance(e, dict) and "n" in e][0]
    assert n == BIG and isinstance(n, int)


async def test_an_event_of_two_data_lines_in_two_reads_keeps_its_integer():
    events = await _events([b'data: {"n": 18446744073709551616,\n', b'data: "m": 1}\n\n', b"data: [DONE]\n\n"])
    assert events[0] == {"n": BIG, "m": 1} and isinstance(events[0]["n"], int)


async def test_nan_and_ordinary_chunks_read_as_json_reads_them():
    events = await _events([b'data: {"x": NaN}\n\n', b'data: {"y": 1.5, "z": [1, "a"]}\n\n', b"data: [DONE]\n\n"])
    assert math.isnan(events[0]["x"])
    assert events[1] == {"y": 1.5, "z": [1, "a"]}
    assert events[2] == "[DONE]"
