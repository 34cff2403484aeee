"""Any HTTP API (`spec.http`): method, the spec's endpoint URL, headers whose `{{key}}` is
replaced by the secret at call time, a sandboxed Jinja2 body template rendered with the
canonical `input`, and a JMESPath expression that picks the output out of the JSON reply."""

from __future__ import annotations

import json
from typing import Any

from studio.errors import jmespath_fault
from studio.providers.adapters.base import AdapterResult, Exchange, request_id
from studio.providers.errors import ErrorKind, ProviderError

_env = None


def _render(template: str, input: dict[str, Any], params: dict[str, Any]) -> str:
    """The body, or INVALID_INPUT: a template the input cannot fill is refused before anything
    is sent (so the call costs nothing, and no retry would fill it)."""
    global _env
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    if _env is None:
        _env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
        _env.filters["tojson"] = _tojson
    try:
        return _env.from_string(template).render(input=input, params=params)
    except jinja2.UndefinedError as e:
        raise _unfilled(f"{e}; give the input that field or change the model's body template") from None
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as e:
        raise _unfilled(str(e)) from None


def _tojson(value: Any) -> str:
    """JSON of a value; a missing one (StrictUndefined) fails as undefined, where json.dumps
    raised a TypeError that read as the provider's malformed reply."""
    import jinja2

    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, ensure_ascii=False)


def _unfilled(reason: str) -> ProviderError:
    return ProviderError(ErrorKind.INVALID_INPUT, f"the body template could not be filled: {reason.rstrip('.')}",
                         sent=False)


def _headers(x: Exchange) -> dict[str, str]:
    out = {}
    for name, value in (x.spec.http.headers if x.spec.http else {}).items():
        if "{{key}}" in value:
            if not x.key:
                raise ProviderError(ErrorKind.KEY_MISSING, f"header {name} needs a key; set keyRef on the model",
                                    sent=False)
            value = value.replace("{{key}}", x.key)
        out[name] = value
    return out


async def call(x: Exchange) -> AdapterResult:
    http = x.spec.http
    method = http.method if http else "POST"
    headers = _headers(x)
    content = None
    if http and http.body is not None:
        content = _render(http.body, x.input, x.params)
        headers.setdefault("content-type", "application/json")
    elif method != "GET":
        content = json.dumps(x.input)
        headers.setdefault("content-type", "application/json")
    doc, resp = await x.request_json(method, x.spec.endpoint, headers=headers, content=content)
    field = http.output_field if http else "text"
    if http and http.output:
        import jmespath

        try:
            value = jmespath.search(http.output, doc)
        except jmespath.exceptions.JMESPathError as e:
            raise ProviderError(ErrorKind.INVALID_OUTPUT,
                                f"the output expression {http.output!r} is invalid: {jmespath_fault(e)}") from None
        if value is None:
            raise ProviderError(ErrorKind.INVALID_OUTPUT, f"the output expression {http.output!r} found nothing in the reply")
        output = {field: value}
    else:
        output = doc if isinstance(doc, dict) else {field: doc}
    return AdapterResult(output, None, None, request_id(resp),
                         raw_request={"method": method, "body": content}, raw_response=doc)


async def probe(x: Exchange) -> None:
    """Reachability only (a real call could have side effects): any answer below 500 other
    than 401/403 counts as up; a GET the API does not allow (405) still proves it is there."""
    import time

    import httpx

    from studio.providers.classify import from_response, from_transport

    start = time.perf_counter()
    try:
        resp = await x.client.get(x.spec.endpoint, headers=_headers(x), timeout=x.timeout_s)
    except httpx.HTTPError as e:
        raise from_transport(e) from None
    finally:
        x.wait_s += time.perf_counter() - start
    if resp.status_code in (401, 403) or resp.status_code >= 500:
        raise from_response(resp.status_code, resp.headers, resp.text)
