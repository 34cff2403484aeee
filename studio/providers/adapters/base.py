"""What every adapter shares: the per-call `Exchange` (spec, input, params, key, client,
the `emit` callback, and `emit_choice` for the other choices' text when n > 1) with helpers
that send JSON, read SSE or NDJSON streams, classify failures, and count the time spent
waiting on the provider (so the hub can report the studio's own overhead). An adapter module
is then just `async def call(x) -> AdapterResult` plus, where the provider lists its models,
`async def probe(x) -> None`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx

from studio.jsonread import has_long_integer, loads_as_json_would, loads_reply
from studio.providers.classify import from_body, from_response, from_transport
from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.transport import DirectClient, StreamReply
from studio.spec.calls import Usage
from studio.spec.model import ModelSpec


@dataclass
class AdapterResult:
    output: dict[str, Any]
    finish_reason: str | None = None
    usage: Usage | None = None  # None: the provider reported none (the hub estimates)
    request_id: str | None = None
    tokens_per_second: float | None = None
    raw_request: dict[str, Any] | None = None
    raw_response: Any = None


@dataclass
class Exchange:
    """One call in flight: everything an adapter needs, and the time it waited."""

    spec: ModelSpec
    input: dict[str, Any]
    params: dict[str, Any]
    key: str | None
    stream: bool
    client: DirectClient | None
    emit: Callable[[str], Awaitable[None]]
    timeout_s: float = 60.0
    # the text of choices after the first (n > 1) as it arrives, for a caller that asked for it
    emit_choice: Callable[[int, str], Awaitable[None]] | None = None
    wait_s: float = 0.0  # time awaiting the provider (network and its compute)
    first_token_at: float | None = None
    text: list[str] = field(default_factory=list)  # streamed so far, kept for partial_text
    # While the lines of one network read are parsed, their text is held and then goes out
    # joined (`release`): one callback, and for the gateway one write, per read, not per token.
    holding: bool = False
    held: list[tuple[int, str]] = field(default_factory=list)  # (choice index, text)
    # A read of the stream had 19+ digits in a row: its chunks from then on are read by json,
    # which keeps integers past 64 bits exact (looked for once a read, not once a chunk).
    long_integers: bool = False
    # Claude's thinking blocks as it streams them ({"type": "start" | "delta" | "stop", …}), for a
    # caller that passes them on (the gateway's /v1/messages); others see them in the output
    emit_block: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # the provider's usage figures so far (Claude says its input tokens first): what a call
    # stopped before its end (a hang-up, a timeout, a cut or an error mid-stream) is recorded and priced with
    usage_so_far: Usage | None = None

    @property
    def partial(self) -> str:
        return "".join(self.text)

    async def send_text(self, text: str) -> None:
        if self.keep_text(text):
            await self.emit(text)

    async def send_block(self, event: dict[str, Any]) -> None:
        """A piece of a thinking block, after the text held before it (the order Claude sent)."""
        if self.emit_block is None:
            return
        if self.held:
            held, self.holding = self.holding, False
            await self.release()
            self.holding = held
        await self.emit_block(event)

    def keep_text(self, text: str) -> bool:
        """`send_text` without its await: True when the text is to be emitted now (it is not
        held for the end of the read). Adapters parsing a token per event call this first."""
        if not text:
            return False
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.text.append(text)
        if self.holding:
            self.held.append((0, text))
            return False
        return True

    def keep_choice_text(self, index: int, text: str) -> bool:
        """Text of choice `index` > 0 (see `StreamedChoices`), as `keep_text` takes the first's."""
        if not text or self.emit_choice is None:
            return False
        if self.holding:
            self.held.append((index, text))
            return False
        return True

    async def release(self) -> None:
        """Stop holding and send what was held, each choice's text joined."""
        self.holding = False
        if not self.held:
            return
        by_choice: dict[int, list[str]] = {}
        for index, text in self.held:
            by_choice.setdefault(index, []).append(text)
        self.held.clear()
        for index, texts in by_choice.items():
            if index == 0:
                await self.emit("".join(texts))
            else:
                await self.emit_choice(index, "".join(texts))

    async def request_json(self, method: str, url: str, *, body: Any = None, headers: dict | None = None,
                           content: str | bytes | None = None) -> tuple[Any, StreamReply | httpx.Response]:
        """Send one request and return (parsed JSON, response); failures raise ProviderError."""
        start = time.perf_counter()
        try:
            resp = await self.client.open_response(method, url, json=body if content is None else None,
                                                   content=content, headers=headers, timeout=self.timeout_s)
            try:
                data = await resp.aread()
            finally:
                await resp.aclose()
        except httpx.HTTPError as e:
            raise from_transport(e) from None
        finally:
            self.wait_s += time.perf_counter() - start
        if resp.status_code >= 400:
            raise from_response(resp.status_code, resp.headers, data.decode("utf-8", "replace"))
        try:  # orjson where it reads as json would; json (which reads UTF-16 and -32 too, and NaN) otherwise
            return loads_as_json_would(data), resp
        except ValueError:
            pass
        try:
            return loads_reply(data), resp
        except ValueError:
            raise ProviderError(ErrorKind.MALFORMED, f"the reply is not JSON: {data[:120].decode('utf-8', 'replace')!r}",
                                status=resp.status_code) from None

    async def line_batches(self, method: str, url: str, *, body: Any, headers: dict | None = None,
                           on_open: Callable[[StreamReply | httpx.Response], None] | None = None) -> AsyncIterator[list[str]]:
        """Stream a reply (SSE, NDJSON) as the complete lines of each network read; an error
        status raises first. Lines are split here, a read at a time, and handed on a read at a
        time: one generator step per line (httpx's aiter_lines, or a line generator under the
        SSE one) was most of a streamed call's parsing. The text the adapter sends while it
        parses one read is held and released before the next wait (see `release`)."""
        start = time.perf_counter()
        try:
            resp = await self.client.open_response(method, url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as e:
            raise from_transport(e) from None
        finally:
            self.wait_s += time.perf_counter() - start
        try:
            if resp.status_code >= 400:
                start = time.perf_counter()
                text = (await resp.aread()).decode("utf-8", "replace")
                self.wait_s += time.perf_counter() - start
                raise from_response(resp.status_code, resp.headers, text)
            if on_open:
                on_open(resp)
            chunks, rest = resp.aiter_bytes().__aiter__(), b""
            while True:
                if self.holding:  # the last read's lines are parsed: its text goes before the next wait
                    await self.release()
                start = time.perf_counter()
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except httpx.HTTPError as e:
                    raise from_transport(e, partial_text=self.partial) from None
                finally:
                    self.wait_s += time.perf_counter() - start
                block = rest + chunk  # a line cut by the last read is whole again here
                if not self.long_integers and has_long_integer(block):
                    self.long_integers = True
                lines, rest = split_lines(block)
                if lines:
                    self.holding = True
                    yield lines
            if rest:
                self.holding = True
                yield [rest.rstrip(b"\r").decode("utf-8", "replace")]
            await self.release()
        finally:
            self.holding = False  # an adapter that stopped reading early: the hub sends what is held
            await resp.aclose()

    async def sse(self, url: str, *, body: Any, headers: dict | None = None,
                  on_open: Callable[[StreamReply | httpx.Response], None] | None = None) -> AsyncIterator[tuple[str, Any]]:
        """Server-sent events as (event name, parsed data); "[DONE]" comes through as a string."""
        async for events in self.sse_batches(url, body=body, headers=headers, on_open=on_open):
            for item in events:
                yield item

    async def sse_batches(self, url: str, *, body: Any, headers: dict | None = None,
                          on_open: Callable[[StreamReply | httpx.Response], None] | None = None
                          ) -> AsyncIterator[list[tuple[str, Any]]]:
        """The events of `sse`, a network read's worth at a time: an adapter that loops over
        each list resumes this generator once per read, not once per token. A server that
        ignored the request for a stream and answered with one JSON document (its content type
        says so, and it does not begin as SSE does) gives one event, named "json": that document."""
        event, data = "message", []
        sniffing = False  # a JSON content type: its first line says which it is
        plain: list[str] | None = None  # the lines of a JSON document, once it is seen to be one

        def opened(resp: StreamReply | httpx.Response) -> None:
            nonlocal sniffing
            sniffing = is_json_type(resp.headers.get("content-type"))
            if on_open:
                on_open(resp)

        async for lines in self.line_batches("POST", url, body=body, headers=headers, on_open=opened):
            if sniffing:
                first = next((line for line in lines if line.strip()), None)
                if first is not None:
                    sniffing = False
                    plain = None if first.startswith(SSE_FIELDS) else []
            if plain is not None:
                plain += lines
                continue
            events = []
            for line in lines:
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif line == "":
                    if data:
                        text = "\n".join(data)
                        try:
                            events.append((event, self._parse(text)))
                        except ProviderError as error:
                            if events:  # the events before it are handled first, as they came
                                yield events
                                error.partial_text = self.partial  # with the text they carried
                            raise
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
            if events:
                yield events
        if plain is not None:
            yield [("json", self._parse("\n".join(plain)))]
        elif data:
            yield [(event, self._parse("\n".join(data)))]

    async def ndjson(self, url: str, *, body: Any, headers: dict | None = None,
                     on_open: Callable[[StreamReply | httpx.Response], None] | None = None) -> AsyncIterator[Any]:
        async for lines in self.line_batches("POST", url, body=body, headers=headers, on_open=on_open):
            for line in lines:
                if line.strip():
                    yield self._parse(line)

    def _parse(self, data: str) -> Any:
        if data.strip() == "[DONE]":
            return "[DONE]"
        try:  # orjson where it reads as json would (~3x faster); json for the rest (NaN, long integers)
            return loads_as_json_would(data, long_integers=self.long_integers)
        except ValueError:
            pass
        try:
            return loads_reply(data)
        except ValueError:
            raise ProviderError(ErrorKind.MALFORMED, f"a stream chunk is not JSON: {data[:120]!r}",
                                partial_text=self.partial) from None

    def stream_error(self, body: Any) -> ProviderError:
        """An error that arrived inside a 200 stream."""
        return from_body(body, default=ErrorKind.SERVER, partial_text=self.partial)

    def cut_off(self, what: str) -> ProviderError:
        """The stream ended cleanly but before its documented end marker."""
        return ProviderError(ErrorKind.MALFORMED, f"the stream ended before {what}", partial_text=self.partial)


# what a line of an event stream begins with (a comment begins with ":")
SSE_FIELDS = ("data:", "event:", "id:", "retry:", ":")


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (application/json, or a +json type)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def chat_output(text: str, finish: str, calls: list[dict[str, Any]],
                logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One choice as the canonical llm output has it (spec/calls.py); `finish` is the
    provider's own word."""
    out: dict[str, Any] = {"text": text, "finishReason": finish}
    if calls:
        out["toolCalls"] = calls
    if logprobs is not None:
        out["logprobs"] = logprobs
    return out


class StreamedChoices:
    """The choices of one streamed answer, which may arrive interleaved (n > 1): the first
    one's text goes out through the exchange's `emit` as it comes (what the console and canvas
    show live), the others' through `emit_choice` (to a caller that asked for it, e.g. the
    gateway's stream) and is kept; each keeps its finish reason and log-probabilities."""

    def __init__(self, x: "Exchange"):
        self.x = x
        self.texts: dict[int, list[str]] = {}
        self.finishes: dict[int, str | None] = {0: None}
        self.logprobs: dict[int, list[dict[str, Any]]] = {}

    async def add(self, index: int, text: str, finish: str | None = None,
                  logprobs: list[dict[str, Any]] | None = None) -> None:
        if self.take(index, text, finish, logprobs):
            await self.emit(index, text)

    async def emit(self, index: int, text: str) -> None:
        await (self.x.emit(text) if index == 0 else self.x.emit_choice(index, text))

    def take(self, index: int, text: str, finish: str | None = None,
             logprobs: list[dict[str, Any]] | None = None) -> bool:
        """`add` without its await (one event of a stream is mostly this): True when the text
        is to be emitted now, which `add` then does."""
        if index == 0:
            now = self.x.keep_text(text)
        else:
            self.texts.setdefault(index, []).append(text)
            now = self.x.keep_choice_text(index, text)
        if logprobs:
            self.logprobs.setdefault(index, []).extend(logprobs)
        self.finishes[index] = finish or self.finishes.get(index)
        return now

    @property
    def finish(self) -> str | None:
        return self.finishes[0]

    def outputs(self, calls_of: Callable[[int], list[dict[str, Any]]], default_finish: str) -> list[dict[str, Any]]:
        return [chat_output(self.x.partial if i == 0 else "".join(self.texts.get(i, [])),
                            self.finishes[i] or default_finish, calls_of(i), self.logprobs.get(i))
                for i in sorted(self.finishes)]


def token_logprob(token: str, logprob: Any, encoded: Any = None) -> dict[str, Any]:
    """One entry of OpenAI's `logprobs.content` (top_logprobs left to the caller); `bytes` is
    the token's UTF-8 when the provider does not send it."""
    return {"token": token, "logprob": float(logprob or 0.0),
            "bytes": encoded if isinstance(encoded, list) else list(token.encode("utf-8", "surrogatepass"))}


def with_choices(choices: list[dict[str, Any]]) -> dict[str, Any]:
    """The canonical output of one or several choices: the first at the top level (what a
    pipeline node reads), all of them under `choices` when there are several."""
    out = dict(choices[0])
    if len(choices) > 1:
        out["choices"] = choices
    return out


def embedding_vectors(vectors: Any, inputs: Any) -> list[list[float]]:
    """An embedding reply's vectors, checked: one per input text, each a list of numbers. A
    short list would pair texts with the wrong vectors, and a base64 string is no vector."""
    count = 1 if isinstance(inputs, str) else len(inputs)
    got = len(vectors) if isinstance(vectors, list) else 0
    if got != count:
        raise ProviderError(ErrorKind.MALFORMED, f"the reply has {_counted(got, 'vector')} for {_counted(count, 'input')}")
    for number, v in enumerate(vectors, 1):
        if not isinstance(v, list) or not v or not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in v):
            raise ProviderError(ErrorKind.MALFORMED, f"vector {number} of the reply is not a list of numbers")
    return vectors


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def listed(model: str, names: set[str]) -> bool:
    """Whether a server's model listing names `model`, allowing for the ways a name that is
    served can differ from its entry: case, Ollama's default tag (llama3 is llama3:latest), and
    a routing suffix after a colon (the HF router's :provider or :fastest, OpenRouter's :nitro)."""
    names = {n.lower() for n in names}
    wanted = model.lower()
    return wanted in names or f"{wanted}:latest" in names or wanted.rsplit(":", 1)[0] in names


def not_listed(model: str, advice: str = "") -> ProviderError:
    """A health probe's verdict when the listing answered whole and the model is not in it."""
    return ProviderError(ErrorKind.NOT_FOUND, f"the server does not list model {model!r}{advice}")


def map_params(params: dict[str, Any], names: dict[str, str | None]) -> dict[str, Any]:
    """Rename canonical params to the provider's names; a None name drops the param;
    params the studio does not know pass through unchanged (provider-specific options)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if key in names:
            if names[key] is not None:
                out[names[key]] = value
        else:
            out[key] = value
    return out


def canonical_messages(input: dict[str, Any], *, system_turns: bool = False) -> tuple[str | None, list[dict[str, Any]]]:
    """(system text, [{"role", "content", "images", "parts", "tool_calls", "tool_call_id", "name"}])
    from an llm input: `prompt` or `messages` (content a string or OpenAI-style parts), an optional
    `system`, and `images` attached to the last user turn. `parts` keeps a turn's text and images
    in the order given ({"type": "text", "text"} | {"type": "image", "url", "detail"?}), for the
    providers that take them so; `content` is its text alone, parts joined by a newline.
    System messages are joined into the system text (one prompt, for the providers that take
    only one); with `system_turns` they stay turns where the caller put them (OpenAI's chat),
    and the system text is the input's `system` alone."""
    system = [joined_text(parts) for parts in _system_groups(input, messages=not system_turns)]
    turns: list[dict[str, Any]] = []
    for m in input.get("messages") or []:
        if m.get("role") == "system" and not system_turns:
            continue
        parts = content_parts(m.get("content"))
        if m.get("image"):
            parts.append({"type": "image", "url": m["image"]})
        turns.append(_turn(m.get("role", "user"), parts, list(m.get("tool_calls") or []), m.get("tool_call_id")))
        if m.get("is_error") is True:  # a tool result that reports a failure (Anthropic's flag)
            turns[-1]["is_error"] = True
        if m.get("thinking") and m.get("role") == "assistant":  # Claude's own blocks, for Claude alone
            turns[-1]["thinking"] = list(m["thinking"])
        if isinstance(m.get("name"), str) and m["name"]:  # the speaker, OpenAI's own field
            turns[-1]["name"] = m["name"]
    if input.get("prompt") is not None:
        turns.append(_turn("user", content_parts(input["prompt"]), [], None))
    if input.get("images"):
        users = [t for t in turns if t["role"] == "user"] or [t for t in turns if t["role"] != "system"]
        if users:
            users[-1]["parts"] = users[-1]["parts"] + [{"type": "image", "url": u} for u in input["images"]]
            users[-1]["images"] = users[-1]["images"] + list(input["images"])
    return ("\n\n".join(system) if system else None), turns


def _turn(role: str, parts: list[dict[str, Any]], tool_calls: list, tool_call_id: Any) -> dict[str, Any]:
    return {"role": role, "content": joined_text(parts), "images": [p["url"] for p in parts if p["type"] == "image"],
            "parts": parts, "tool_calls": tool_calls, "tool_call_id": tool_call_id}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's content (a string, or OpenAI's {"type": "text"|"image_url"} parts) as ordered parts."""
    if not isinstance(content, list):
        return [{"type": "text", "text": content if isinstance(content, str) else json.dumps(content)}] if content else []
    parts: list[dict[str, Any]] = []
    for p in content:
        if not isinstance(p, dict):
            continue
        if p.get("type", "text") == "text":
            if p.get("text"):  # Claude's prompt-cache mark rides along (only its adapter sends it)
                parts.append({"type": "text", "text": p["text"],
                              **({"cache_control": p["cache_control"]} if p.get("cache_control") else {})})
        elif p.get("type") == "image_url":
            image = p.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str):
                detail = image.get("detail") if isinstance(image, dict) else None
                parts.append({"type": "image", "url": url, **({"detail": detail} if detail else {})})
    return parts


def joined_text(parts: list[dict[str, Any]]) -> str:
    """The text parts of a turn as one string, a newline between two (run together, "Context: …"
    and "Question: …" read as one sentence)."""
    return "\n".join(p["text"] for p in parts if p["type"] == "text")


def interleaved(turn: dict[str, Any]) -> bool:
    """Whether a turn needs its parts kept apart: an image, more than one text, or a part marked
    for the prompt cache."""
    return len(turn["parts"]) > 1 or bool(turn["images"]) or any("cache_control" in p for p in turn["parts"])


def _system_groups(input: dict[str, Any], messages: bool = True) -> list[list[dict[str, Any]]]:
    """The system text's sources in order, each as parts: the input's `system`, then (unless
    not `messages`) each system message (canonical_messages joins them a blank line apart)."""
    groups = [content_parts(input["system"])] if input.get("system") else []
    if not messages:
        return groups
    return groups + [content_parts(m.get("content")) for m in input.get("messages") or [] if m.get("role") == "system"]


def system_parts(input: dict[str, Any]) -> list[dict[str, Any]]:
    """The system text as parts, in order, for a provider that keeps their prompt-cache marks
    (Claude); empty when there is none."""
    return [p for parts in _system_groups(input) for p in parts if p["type"] == "text"]


def prompt_text(input: dict[str, Any]) -> str:
    """One prompt string for completion-style endpoints (HF text-generation, Ollama generate)."""
    system, turns = canonical_messages(input)
    if len(turns) == 1 and turns[0]["role"] == "user" and not system:
        return turns[0]["content"]
    parts = [system] if system else []
    parts += [t["content"] if t["role"] == "user" and len(turns) == 1 else f"{t['role']}: {t['content']}" for t in turns]
    return "\n\n".join(parts)


def request_id(resp: StreamReply | httpx.Response, *names: str) -> str | None:
    for name in names or ("x-request-id", "request-id"):
        if resp.headers.get(name):
            return resp.headers[name]
    return None


def split_data_url(url: str) -> tuple[str, str] | None:
    """("image/png", base64 data) for a data: URL, else None."""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return head or "application/octet-stream", data
    return None


def bearer(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def split_lines(data: bytes) -> tuple[list[str], bytes]:
    """The complete lines in `data` (ended by \\n, \\r\\n or \\r, as SSE allows) and the bytes
    after the last one. A \\r at the very end is held back: it may be half of a \\r\\n."""
    held = data.endswith(b"\r")
    if held:
        data = data[:-1]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    cut = data.rfind(b"\n")
    rest = data[cut + 1:] + (b"\r" if held else b"")
    if cut < 0:
        return [], rest
    # one decode for all the lines: a newline is never inside a UTF-8 sequence
    return data[:cut].decode("utf-8", "replace").split("\n"), rest
