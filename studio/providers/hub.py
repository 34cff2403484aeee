"""The provider hub: one way of calling every model in the registry.

`ProviderHub.call(spec, request, on_text=, on_choice_text=, context=)` validates the input
against the spec's input schema, finds the key, runs the adapter for `spec.api` (streaming
text deltas to `on_text`; with several choices (n > 1), the other choices' deltas to
`on_choice_text(index, text)` where the adapter streams them), validates the output,
computes usage and cost, and records exactly one CallRecord per call through the Recorder —
failures too. It makes ONE attempt: retries and fallback belong to the engine.
`check(spec)` probes a model's health cheaply.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx
from pydantic import ValidationError

from studio.errors import UserError
from studio.jsonread import check_shape
from studio.providers import faults as fault_injection
from studio.providers.adapters import adapter_for
from studio.providers.adapters.base import Exchange
from studio.providers.classify import from_transport
from studio.providers.errors import DEADLINE_CANCEL, ErrorKind, ProviderError
from studio.providers.local import default_params_problem, defaults_fix
from studio.providers.transport import AiohttpTransport, DirectClient
from studio.providers.usage import cost, final_usage
from studio.recording import MemoryRecorder, Recorder
from studio.secrets import read_keys, redact, redactor
from studio.spec.base import utcnow, utcnow_exact
from studio.spec.calls import CallRequest, CallResult, Usage
from studio.spec.chat import example_sentence, expand_shorthand, input_schema_for
from studio.spec.fit import schema_problem
from studio.spec.model import HealthStatus, ModelSpec
from studio.spec.records import CallRecord

DEFAULT_TIMEOUT_S = 120.0


@dataclass
class CallContext:
    """Where a call happens (a pipeline run's node) and why this model was chosen."""

    pipeline_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    fell_back_from: str | None = None
    routing_reason: str | None = None
    call_id: str | None = None  # the record's id, when the caller has told it to someone already (the gateway)


def validate(value: Any, schema: dict, kind: ErrorKind, what: str,
             example: Callable[[], str] | None = None) -> None:
    """One clear error naming the first offending field (and, for inputs, `example()`: a
    sentence showing one that fits, built only when it is needed)."""
    problem = schema_problem(value, schema)
    if problem is not None:
        message = f"{what} field {problem}"
        hint = example() if example is not None else ""
        raise ProviderError(kind, f"{message.rstrip('.')}; {hint}" if hint else message)


async def _drop_text(text: str) -> None:
    """The exchange's `emit` when the caller did not ask for text as it comes."""


def _expanded(spec: ModelSpec, request: CallRequest) -> CallRequest:
    """The `{"text"}` shorthand made into one user message for chat models."""
    expanded = expand_shorthand(spec.model_type, request.input)
    return request if expanded is request.input else request.model_copy(update={"input": expanded})


class ProviderHub:
    def __init__(self, keys=None, recorder: Recorder | None = None, *, rng: random.Random | None = None):
        self.keys = keys
        self.recorder = recorder if recorder is not None else MemoryRecorder()
        self.random = rng or random.Random()
        self._clients: dict[str, tuple[Any, int, DirectClient]] = {}  # provider -> (loop, pool size, client)
        self._replaced: list[tuple[Any, DirectClient]] = []  # smaller pools, whose calls may still be running
        self._pool_size = self.CONNECTIONS

    # -- clients -------------------------------------------------------------------------
    CONNECTIONS = 64  # per provider, unless a batch asks for more calls at once

    def client(self, provider: str) -> DirectClient:
        """One pooled client per provider, made on first use, and again on a new event loop or
        when the pool grows (the one it replaces serves its running calls until aclose)."""
        loop = asyncio.get_running_loop()
        found = self._clients.get(provider)
        if found is not None and found[0] is loop and found[1] == self._pool_size:
            return found[2]
        if found is not None:
            self._replaced.append((found[0], found[2]))
        limits = httpx.Limits(max_connections=self._pool_size, max_keepalive_connections=16)
        client = DirectClient(AiohttpTransport(limits), DEFAULT_TIMEOUT_S)
        self._clients[provider] = (loop, self._pool_size, client)
        return client

    def connections_at_least(self, n: int) -> None:
        """From now on each provider's pool holds up to `n` connections, for a batch running `n`
        rows at a time: at 64, a batch at --concurrency 128 over a 200 ms provider ran 302
        rows/s, half its ceiling of 640. Pools only grow: shrinking one would replace a client
        whose calls may still be running, once per batch, for as long as the studio runs."""
        self._pool_size = max(self._pool_size, n)

    async def aclose(self) -> None:
        clients = [(loop, client) for loop, _, client in self._clients.values()] + self._replaced
        self._clients, self._replaced = {}, []
        loop = asyncio.get_running_loop()
        for owner, client in clients:
            if owner is loop:
                await client.aclose()

    # -- calls ---------------------------------------------------------------------------

    async def _key(self, spec: ModelSpec) -> str | None:
        if not spec.key_ref:
            return None
        value = (await read_keys(self.keys, (spec.key_ref,)))[spec.key_ref] if self.keys is not None else None
        value = value.strip() if value else value  # an environment variable read from a file ends in a newline
        if not value:
            raise ProviderError(ErrorKind.KEY_MISSING, f"key {spec.key_ref} is not set", model_id=spec.id)
        redactor.remember(value)  # whatever store it came from, it never shows in a message
        if not value.isprintable():  # no header can carry it: said before anything is sent, never as a bad reply
            raise ProviderError(ErrorKind.KEY_MISSING, f"key {spec.key_ref} holds a line break or another control "
                                f"character; set it again as one line", model_id=spec.id)
        return value

    def _exchange(self, spec: ModelSpec, request: CallRequest, key: str | None, emit,
                  emit_choice=None, emit_block=None) -> Exchange:
        return Exchange(spec=spec, input=request.input, params={**spec.default_params, **request.params},
                        key=key, stream=request.stream,
                        client=None if spec.api == "local" else self.client(spec.provider), emit=emit,
                        timeout_s=request.timeout_s or DEFAULT_TIMEOUT_S, emit_choice=emit_choice,
                        emit_block=emit_block)

    async def call(self, spec: ModelSpec, request: CallRequest, *, on_text: Callable[[str], Any] | None = None,
                   on_choice_text: Callable[[int, str], Any] | None = None,
                   on_block: Callable[[dict[str, Any]], Any] | None = None,
                   context: CallContext | None = None) -> CallResult:
        context = context or CallContext()
        started = time.perf_counter()
        callback_s = 0.0

        async def timed(callback: Callable[..., Any], *args: Any) -> None:
            """The caller's callback (sync or async), its time kept out of the studio's overhead."""
            nonlocal callback_s
            t = time.perf_counter()
            result = callback(*args)
            if inspect.isawaitable(result):
                await result
            callback_s += time.perf_counter() - t

        # each a coroutine function the exchange awaits per delta; partial() is one layer less
        emit = functools.partial(timed, on_text) if on_text is not None else _drop_text
        emit_choice = functools.partial(timed, on_choice_text) if on_choice_text is not None else None
        emit_block = functools.partial(timed, on_block) if on_block is not None else None  # Claude's thinking

        x: Exchange | None = None
        try:
            if spec.incomplete:
                raise ProviderError(ErrorKind.INCOMPLETE)
            try:  # text no file or wire can carry (lone surrogates), nesting past any schema's need
                check_shape(request.input, "the input")
            except UserError as e:
                raise ProviderError(ErrorKind.INVALID_INPUT, str(e)) from None
            request = _expanded(spec, request)
            if spec.api == "local" and spec.default_params:  # saved before they were checked, or edited by hand
                problem = default_params_problem(spec, request.params)
                if problem:
                    raise ProviderError(ErrorKind.INVALID_INPUT, defaults_fix(problem), sent=False, from_defaults=True)
            validate(request.input, input_schema_for(spec), ErrorKind.INVALID_INPUT, "input",
                     lambda: example_sentence(spec.model_type, spec.input_schema))
            key = await self._key(spec)
            await fault_injection.inject(spec.faults, self.random)
            x = self._exchange(spec, request, key, emit, emit_choice, emit_block)
            try:
                got = await adapter_for(spec.api).call(x)
            except httpx.HTTPError as e:  # anything an adapter did not classify itself
                raise from_transport(e, partial_text=x.partial) from None
            except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as e:
                # a reply shape the adapter did not expect: the provider's doing, not a crash
                raise ProviderError(ErrorKind.MALFORMED, f"unexpected reply shape ({_one_line(e)})",
                                    partial_text=x.partial or None) from None
            await x.release()  # what an adapter that stopped reading early still held
            if request.stream and not x.text and isinstance(got.output.get("text"), str):
                await x.send_text(got.output["text"])  # a non-streaming format still shows its text
            validate(got.output, spec.output_schema, ErrorKind.INVALID_OUTPUT, "output")
        except ProviderError as e:
            if x is not None and x.held:  # the text that came before the failure still reaches the caller
                with contextlib.suppress(Exception):
                    await x.release()
            e.model_id = e.model_id or spec.id
            e.sent = e.sent and x is not None  # no exchange, or no connection made: nothing sent
            if x is not None and e.partial_text is None and x.text:
                e.partial_text = x.partial
            e.args = (e.sentence(),)
            self._record_error(spec, request, context, e, started, x, callback_s)
            raise
        except asyncio.CancelledError as e:
            kind = ErrorKind.TIMEOUT if DEADLINE_CANCEL in e.args else ErrorKind.CANCELLED
            self._record_error(spec, request, context, ProviderError(kind, model_id=spec.id, sent=x is not None),
                               started, x, callback_s)
            e.sent = x is not None  # the run counts a call stopped after it was sent as one of unknown cost
            raise

        ended = time.perf_counter()
        latency = (ended - started) * 1000
        usage = final_usage(spec, got.usage, request.input, got.output)
        ttft = (x.first_token_at - started) * 1000 if x.first_token_at else None
        tps = got.tokens_per_second
        if tps is None and usage.output_tokens and usage.source == "provider":
            gen_s = (ended - x.first_token_at) if x.first_token_at and request.stream else (ended - started)
            tps = usage.output_tokens / gen_s if gen_s > 0 else None
        # a provider's request id is its to word: one that echoed the key into it (x-request-id)
        # put the key in the records, the exports and `iom invoke --json`
        request_id = redact(got.request_id) if got.request_id else None
        result = CallResult(
            model_id=spec.id, output=got.output, usage=usage, cost=cost(spec, usage), latency_ms=latency,
            ttft_ms=ttft, overhead_ms=max(0.0, latency - (x.wait_s + callback_s) * 1000),
            # the output's own word where the provider sent none (a stream without finish_reason)
            finish_reason=got.finish_reason or (got.output.get("finishReason") if isinstance(got.output, dict) else None),
            request_id=request_id, tokens_per_second=tps,
            raw_request=got.raw_request, raw_response=got.raw_response)
        record = self._record(spec, request, context, started, x, callback_s,
                              latency_ms=latency, ttft_ms=ttft, usage=usage, cost_usd=result.cost.usd,
                              request_id=request_id)
        self.recorder.record_call(record, request.input, got.output)
        return result

    def _record(self, spec, request, context, started, x, callback_s, **fields) -> CallRecord:
        latency = fields.pop("latency_ms", (time.perf_counter() - started) * 1000)
        wait = (x.wait_s if x else 0.0) + callback_s
        return CallRecord(id=context.call_id or secrets.token_hex(16), time=utcnow_exact(), model_id=spec.id, provider=spec.provider,
                          pipeline_id=context.pipeline_id, run_id=context.run_id, node_id=context.node_id,
                          fell_back_from=context.fell_back_from, routing_reason=context.routing_reason,
                          latency_ms=latency, overhead_ms=max(0.0, latency - wait * 1000), **fields)

    def _record_error(self, spec, request, context, error: ProviderError, started, x, callback_s) -> None:
        """A call refused before anything was sent (no exchange: a missing key, an input that does
        not fit; or no connection made) cost nothing: $0, not unpriced. What a provider charges
        for a call that failed after it was sent is not known (`ProviderError.sent`), except for a
        call stopped (a hang-up, a timeout, a cut or an error mid-stream) after the provider said
        its usage so far (Claude's input tokens come first): that much it bills, so that much is
        recorded and priced."""
        known = x.usage_so_far if x is not None else None
        if known is not None:
            usage, cost_usd = known, cost(spec, known).usd
        else:
            usage, cost_usd = Usage(source="none"), None if error.sent else 0.0
        record = self._record(spec, request, context, started, x, callback_s, status="error",
                              error_class=error.kind.value, error_message=redact(str(error)),
                              usage=usage, cost_usd=cost_usd)
        self.recorder.record_call(record, request.input, None)

    async def count_tokens(self, spec: ModelSpec, body: dict[str, Any]) -> Any:
        """A Claude model's own count of a Messages request's input tokens (Anthropic's
        `/v1/messages/count_tokens`, which costs nothing and calls no model): `body` as the
        caller sent it, under the provider's model name. Not a call: nothing is recorded."""
        from studio.providers.adapters import anthropic

        key = await self._key(spec)
        x = self._exchange(spec, CallRequest(model_id=spec.id, input={}), key, _drop_text)
        doc, _ = await x.request_json("POST", spec.endpoint.rstrip("/") + "/count_tokens",
                                      body={**body, "model": spec.model}, headers=anthropic.headers(key))
        return doc

    # -- health --------------------------------------------------------------------------

    async def check(self, spec: ModelSpec) -> HealthStatus:
        """Probe one model cheaply: list-models where the provider has it, else a minimal call."""
        started = time.perf_counter()

        def status(state: str, detail: str = "") -> HealthStatus:
            return HealthStatus(state=state, latency_ms=(time.perf_counter() - started) * 1000,
                                checked=utcnow(), detail=redact(detail))

        if spec.incomplete:
            return status("error", str(ProviderError(ErrorKind.INCOMPLETE, model_id=spec.id)))
        problem = default_params_problem(spec)  # every call would fail: not "ok"
        if problem:
            return status("error", str(ProviderError(ErrorKind.INVALID_INPUT, defaults_fix(problem), model_id=spec.id,
                                                     from_defaults=True)))
        try:
            key = await self._key(spec)
        except ProviderError as e:
            return status("key_missing", str(e))
        adapter = adapter_for(spec.api)
        x = self._exchange(spec, CallRequest(model_id=spec.id, input=minimal_input(spec), params={"max_tokens": 1},
                                             timeout_s=20.0), key, _ignore)
        try:
            if hasattr(adapter, "probe"):
                await adapter.probe(x)
            else:
                await adapter.call(x)
        except ProviderError as e:
            e.model_id = spec.id
            state = {ErrorKind.AUTH: "auth_failed", ErrorKind.PERMISSION: "auth_failed",
                     ErrorKind.CONNECTION: "unreachable", ErrorKind.TIMEOUT: "unreachable",
                     ErrorKind.RATE_LIMITED: "rate_limited"}.get(e.kind, "error")  # its sentence says the retry-after
            return status(state, e.sentence())
        except httpx.HTTPError as e:
            return status("unreachable", type(e).__name__)
        return status("ok")


async def _ignore(_text: str) -> None:
    return None


def minimal_input(spec: ModelSpec) -> dict[str, Any]:
    """The smallest input a model of this type accepts, for a health probe without list-models."""
    return {"embedding": {"input": "ok"}, "classifier": {"text": "ok"},
            "translation": {"text": "ok", "targetLanguage": "fr"}}.get(spec.model_type, {"prompt": "ok"})


def _one_line(e: Exception) -> str:
    """An adapter's surprise in one line: a pydantic error (a usage count that is no number) as
    its first fault, not its four-line dump; a reply nested past Python's limit said so."""
    if isinstance(e, RecursionError):
        return "nested too deeply to read"
    if isinstance(e, ValidationError):
        from studio.spec.migrations import describe_validation_error

        return f"{e.title}: {describe_validation_error(e)}"
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
