"""What both gateway APIs call: a registry chat model or a saved pipeline, from a canonical
chat input and OpenAI-named params, as one `run(on_text, on_choice_text=None) -> Reply`
(`on_choice_text(index, text)`: the streamed text of the choices after the first, n > 1).

Unsupported parameters are decided here, from providers/capabilities.py: refused with a 400
naming the parameter and the model, or dropped (and listed) when the caller opted in. A field
the studio does not know (`store`, `service_tier`, Claude's `thinking`…) goes to a model whose
wire format is the caller's own API as it was sent (OpenAI's to OpenAI, Anthropic's to Claude):
the provider, not the studio, then decides whether it takes it.
"""

from __future__ import annotations

from typing import Any

from studio.errors import UserError
from studio.gateway.errors import GatewayError, run_failure
from studio.gateway.streaming import Reply
from studio.providers import capabilities
from studio.providers.hub import CallContext
from studio.spec.calls import CallRequest
from studio.spec.chat import openai_finish

PIPELINE_PREFIX = "pipeline/"


UNKNOWN_REFUSED = "{names} cannot be sent to {model} through the studio"
DROP_HINT = "; remove it, or send the header 'x-iom-drop-params: true'."


def dropped_header(dropped: list[str]) -> dict[str, str]:
    """The answer's `x-iom-dropped-params` header, when anything was dropped."""
    return {"x-iom-dropped-params": ",".join(dropped)} if dropped else {}


def runner(studio, model: str, input: dict[str, Any], params: dict[str, Any], drop: bool, *,
           unknown: dict[str, Any] | None = None, speaks: str = "openai", refusal: str = UNKNOWN_REFUSED,
           request_id: str | None = None):
    """(run, dropped parameter names); reads the registry from disk, so call it off the loop.
    `unknown`: the request's fields the studio does not know, sent as they are to a model that
    `speaks` the caller's API ("openai", "anthropic-messages"), else refused (or dropped) with
    `refusal`, a sentence naming {names} and {model} in the caller's API's words. `request_id`:
    the id the answer tells the caller, given to the call's record (a pipeline's: its run's)."""
    unknown = unknown or {}
    if model.startswith(PIPELINE_PREFIX):
        _refuse_unknown(unknown, drop, refusal, model)
        input, thinking = _not_for_claude(input, model)
        run, dropped = _pipeline(studio, model, input, params, drop, request_id)
        return run, list(unknown) + dropped + thinking
    spec = studio.models.get(model)
    if spec.model_type not in ("llm", "vision"):
        raise UserError(f"{spec.id} is a {spec.model_type} model; chat needs an llm or vision model.")
    input, thinking = (input, []) if spec.api == "anthropic-messages" else _not_for_claude(input, model)
    passed = capabilities.table_key(spec) == speaks
    if not passed:
        _refuse_unknown(unknown, drop, refusal, model)
    bad = capabilities.unsupported(spec, params)
    if bad and not drop:
        raise GatewayError(400, "invalid_request_error", capabilities.refusal(spec, bad), param=bad[0])
    params = {k: v for k, v in params.items() if k not in bad and v is not None}
    if passed:  # the adapters send fields they do not know under their own names
        params, unknown = {**params, **unknown}, {}
    bad = list(unknown) + bad + thinking
    input, unnamed = _names_kept(spec, input, drop)
    bad += unnamed

    async def run(on_text, on_choice_text=None, on_block=None) -> Reply:
        """`on_block`: Claude's thinking blocks as they stream (Anthropic's API passes them on)."""
        request = CallRequest(model_id=spec.id, input=input, params=params, stream=on_text is not None)
        result = await studio.providers.call(spec, request, on_text=on_text, on_choice_text=on_choice_text,
                                             on_block=on_block, context=CallContext(call_id=request_id))
        reply = _choice(result.output, result.finish_reason)
        reply.thinking = [b for b in result.output.get("thinking") or [] if isinstance(b, dict)]
        u = result.usage
        reply.input_tokens, reply.output_tokens = u.input_tokens, u.output_tokens
        reply.cached_tokens, reply.reasoning_tokens = u.cached_tokens, u.reasoning_tokens
        reply.cache_write_tokens = u.cache_write_tokens
        reply.more = [_choice(c) for c in (result.output.get("choices") or [])[1:]]
        return reply

    return run, bad


THINKING_DROPPED = "thinking blocks"


def _not_for_claude(input: dict[str, Any], model: str) -> tuple[dict[str, Any], list[str]]:
    """The input for a model other than Claude (or a pipeline, whose nodes may be anything):
    a tool result's image refused, Claude's thinking blocks dropped (and named)."""
    _refuse_tool_images(input, model)
    return _without_thinking(input)


def _without_thinking(input: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The input without Claude's thinking blocks in assistant turns (they are Claude's own,
    signed for Claude, and mean nothing to another model), and the name said in the answer's
    x-iom-dropped-params when there were any."""
    messages = input.get("messages") or []
    if not any(isinstance(m, dict) and m.get("thinking") for m in messages):
        return input, []
    return {**input, "messages": [{k: v for k, v in m.items() if k != "thinking"} for m in messages]}, [THINKING_DROPPED]


def _refuse_tool_images(input: dict[str, Any], model: str) -> None:
    """Only Claude takes an image in a tool result; elsewhere it would be lost without a word."""
    for m in input.get("messages") or []:
        if m.get("role") == "tool" and isinstance(m.get("content"), list) \
                and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"]):
            raise GatewayError(400, "invalid_request_error",
                               f"{model} cannot take an image in a tool result (only a Claude model can); send the "
                               f"image in a user turn after the result, or call a Claude model.", param="messages")


NAME_FIELD = "messages[].name"


def _names_kept(spec, input: dict[str, Any], drop: bool) -> tuple[dict[str, Any], list[str]]:
    """(input, dropped): the messages' speaker `name`s go to a model whose format has them; for
    any other they are refused, as a parameter it cannot carry is, or dropped when the caller
    opted in. Not folded into the text ("alice: hi"): that would put words in the caller's mouth
    the model could take for the message, and answer in kind."""
    messages = input.get("messages") or []
    if capabilities.carries_message_names(spec) or not any(isinstance(m, dict) and m.get("name") for m in messages):
        return input, []
    if not drop:
        raise GatewayError(400, "invalid_request_error",
                           f"a message's 'name' cannot be sent to {spec.id}: the {spec.api} API has no speaker name; "
                           f"remove it, or send the header 'x-iom-drop-params: true' to drop it.", param=NAME_FIELD)
    return {**input, "messages": [{k: v for k, v in m.items() if k != "name"} if isinstance(m, dict) else m
                                  for m in messages]}, [NAME_FIELD]


def _refuse_unknown(unknown: dict[str, Any], drop: bool, refusal: str, model: str) -> None:
    if unknown and not drop:
        names = ", ".join(repr(k) for k in unknown)
        raise GatewayError(400, "invalid_request_error", refusal.format(names=names, model=model) + DROP_HINT,
                           param=next(iter(unknown)))


def _choice(output: dict[str, Any], finish: str | None = None) -> Reply:
    """One choice of a canonical llm output (spec/calls.py) as a Reply, usage left to the
    caller; `finish`, when given, is the adapter's word for it."""
    calls = output.get("toolCalls") or []
    said = finish or output.get("finishReason")
    return Reply(output.get("text", ""), openai_finish(said, bool(calls)), calls, logprobs=output.get("logprobs"),
                 provider_finish=said, stop_sequence=output.get("stopSequence"))


def _pipeline(studio, model: str, input: dict[str, Any], params: dict[str, Any], drop: bool,
              request_id: str | None):
    # Imported on the first pipeline call, not with the gateway: they bring in the whole engine,
    # which a start does not need before its first page.
    from studio.engine import RunOptions
    from studio.gateway.pipeline_chat import chat_inputs, reply_stream, reply_text

    pipeline = studio.pipelines.get(model[len(PIPELINE_PREFIX):])
    # max_tokens is mandatory in Anthropic's API, so it is accepted; the pipeline's nodes keep their own limits
    bad = [k for k, v in params.items() if v is not None and k != "max_tokens"]
    if bad and not drop:
        raise GatewayError(400, "invalid_request_error",
                           f"{', '.join(repr(b) for b in bad)} cannot be sent to {model} (a pipeline sets its own "
                           f"model parameters); remove {'it' if len(bad) == 1 else 'them'}, or send the header "
                           f"'x-iom-drop-params: true'.", param=bad[0])
    inputs = chat_inputs(pipeline, input)
    may_stream, stream_node = reply_stream(pipeline)

    async def run(on_text, on_choice_text=None, on_block=None) -> Reply:  # a pipeline answers one choice
        on_text = on_text if may_stream else None
        record = await studio.engine.run(pipeline, inputs, RunOptions(
            on_text=(lambda _node, text: on_text(text)) if on_text else None, stream_node=stream_node if on_text else None,
            keep_outputs=False, run_id=request_id))
        if record.status != "succeeded":
            raise run_failure(record)
        return Reply(reply_text(pipeline, record.outputs), "stop", [], record.input_tokens, record.output_tokens)

    return run, bad
