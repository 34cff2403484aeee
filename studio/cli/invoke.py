"""`iom invoke MODEL_ID --input JSON|@FILE [--stream] [--param KEY=VALUE] [--json]`: one call
through the provider hub, the same path the console and the engine use."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from studio.cli.common import print_json, seconds, studio
from studio import jsonread
from studio.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("invoke", help="call one model once and print its output")
    p.add_argument("model_id")
    p.add_argument("--input", "-i", required=True, help='JSON input, e.g. \'{"prompt": "Hi"}\', or @FILE')
    p.add_argument("--stream", action="store_true", help="print text as it arrives")
    p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="a call parameter (temperature, max_tokens, stop, seed, top_p, …); VALUE is JSON or text")
    p.add_argument("--timeout", type=seconds, help="seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object with output, usage, cost and timings")
    p.set_defaults(handler=_invoke)


def parse_input(text: str) -> dict[str, Any]:
    """--input: a JSON object inline or from @FILE (studio/jsonread.py reads both)."""
    from studio import jsonread

    source = text[1:] if text.startswith("@") else "the --input value"
    value = jsonread.read_argument(text, source)
    if not isinstance(value, dict):
        raise UserError(f"{source} must be a JSON object such as " + '{"text": "Hi"}.')
    return value


def parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--param {item!r} must look like KEY=VALUE, e.g. temperature=0.2.")
        try:
            params[key.strip()] = jsonread.loads(raw, f"--param {key.strip()}")
        except UserError:
            params[key.strip()] = raw  # plain text, e.g. stop=END
    return params


def summary(result, call_id: str | None = None) -> dict[str, Any]:
    return {"callId": call_id, "model": result.model_id, "output": result.output, "usage": result.usage.to_json_dict(),
            "cost": result.cost.to_json_dict(), "latencyMs": round(result.latency_ms, 2),
            "ttftMs": None if result.ttft_ms is None else round(result.ttft_ms, 2),
            "overheadMs": round(result.overhead_ms, 3), "tokensPerSecond": result.tokens_per_second,
            "finishReason": result.finish_reason, "requestId": result.request_id}


def _invoke(args) -> int:
    import secrets

    from studio import formats
    from studio.providers.errors import ProviderError
    from studio.providers.hub import CallContext
    from studio.spec.calls import CallRequest

    s = studio()
    spec = s.models.get(args.model_id)
    request = CallRequest(model_id=spec.id, input=parse_input(args.input), params=parse_params(args.param),
                          stream=args.stream, timeout_s=args.timeout)
    # the id the call is recorded under, chosen here so it can be said: a provider's request id
    # (all `iom calls show` could find it by) is the provider's to reuse
    call_id = secrets.token_hex(16)
    streamed = []

    def on_text(text: str) -> None:
        streamed.append(text)
        if not args.json:
            sys.stdout.write(text)
            sys.stdout.flush()

    async def run():
        try:
            return await s.providers.call(spec, request, on_text=on_text, context=CallContext(call_id=call_id))
        finally:
            await s.aclose()

    try:
        result = asyncio.run(run())
    except ProviderError as e:
        if streamed and not args.json:
            print(file=sys.stdout)
        raise UserError(str(e)) from None
    if args.json:
        print_json(summary(result, call_id))
        return 0
    if streamed:
        print()
    else:
        text = result.output.get("text")
        print(text if isinstance(text, str) else json.dumps(result.output, ensure_ascii=False, indent=2))
    sys.stdout.flush()  # the output first, then the line about it
    print(f"call {call_id}: latency {formats.latency(result.latency_ms)}, cost {formats.money(result.cost.usd)}"
          f" ('iom calls show {call_id}' shows it again)", file=sys.stderr)
    return 0
