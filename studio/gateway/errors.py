"""Errors as HTTP answers: which status each failure kind gets, and the two error bodies
(OpenAI's {"error": {message, type, code}} and Anthropic's {"type": "error", "error": {type,
message}}), always one sentence, secrets redacted, `retry-after` kept."""

from __future__ import annotations

from studio.atomic import NotSaved
from studio.errors import NotFound, UserError
from studio.gateway.json_answer import JSONAnswer
from studio.providers.errors import RETRYABLE, ErrorKind, ProviderError
from studio.secrets import redact

STATUS = {ErrorKind.RATE_LIMITED: 429, ErrorKind.QUOTA_EXHAUSTED: 429, ErrorKind.TIMEOUT: 504, ErrorKind.BAD_REQUEST: 400,
          ErrorKind.INVALID_INPUT: 400, ErrorKind.CONTEXT_LENGTH: 400, ErrorKind.KEY_MISSING: 400,
          ErrorKind.INCOMPLETE: 400, ErrorKind.CONTENT_BLOCKED: 400, ErrorKind.AUTH: 502,
          ErrorKind.OVERLOADED: 503, ErrorKind.CIRCUIT_OPEN: 503}

# Anthropic's documented error types by status
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}


class GatewayError(Exception):
    """A failure already decided: status, OpenAI error type, sentence, retry-after."""

    def __init__(self, status: int, kind: str, message: str, retry_after_s: float | None = None,
                 param: str | None = None, retry: bool | None = None, rate_limits: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.kind, self.message, self.retry_after_s, self.param = status, kind, message, retry_after_s, param
        self.retry = retry  # False: another try cannot succeed (a provider refused the key…), said to the SDKs
        self.rate_limits = rate_limits or {}  # the provider's x-ratelimit-* headers, handed on


def classify(e: Exception) -> GatewayError:
    if isinstance(e, GatewayError):
        return e
    if isinstance(e, ProviderError):
        return GatewayError(STATUS.get(e.kind, 502), e.kind.value, str(e), e.retry_after_s, retry=e.kind in RETRYABLE,
                            rate_limits=e.rate_limits)
    if isinstance(e, NotFound):
        return GatewayError(404, "model_not_found", str(e))
    if isinstance(e, NotSaved):  # the studio's disk (a record, a file), not the request: not a 400
        return GatewayError(507, "server_error", str(e))
    if isinstance(e, UserError):
        return GatewayError(400, "invalid_request_error", str(e))
    raise e


def run_failure(record) -> GatewayError:
    """A pipeline run that did not succeed, as the answer a direct call to the model that failed
    it gets: the failing node's error kind (kept in its NodeRun.error_class) decides the status,
    so an upstream 500, timeout or 429 is a 502, 504 or 429 (its NodeRun.retry_after_s kept), not
    the caller's 400. A node that failed on the run's input ("user") or a run stopped otherwise
    stays a 400."""
    message = record.error or f"the pipeline run {record.status}."
    failed = [nr for node_id, nr in record.nodes.items()
              if nr.status == "failed" and record.error == f"node {node_id!r} failed: {nr.error}"]
    try:
        kind = ErrorKind(failed[0].error_class) if failed else None
    except ValueError:  # "user": the input, a template, an expression
        kind = None
    if kind is None:
        return GatewayError(400, "invalid_request_error", message)
    return GatewayError(STATUS.get(kind, 502), kind.value, message, failed[0].retry_after_s, retry=kind in RETRYABLE)


def _headers(e: GatewayError) -> dict[str, str] | None:
    """retry-after as the provider said it; `x-should-retry: false` (which the openai and
    anthropic SDKs obey) where another try cannot succeed: a 502 for a refused provider key is
    otherwise retried twice by both SDKs."""
    headers = {**e.rate_limits, **({"retry-after": str(max(1, round(e.retry_after_s)))} if e.retry_after_s else {})}
    if e.retry is False:
        headers["x-should-retry"] = "false"
    return headers or None


def openai_error_body(e: GatewayError) -> dict:
    """OpenAI's error object: the body of an error answer, and a stream's last event."""
    body = {"message": redact(e.message), "type": e.kind, "code": e.kind}
    if e.param:
        body["param"] = e.param
    return {"error": body}


def anthropic_error_detail(e: GatewayError, kind: str | None = None) -> dict:
    """The `error` member of Anthropic's error body (and of its stream's `error` event)."""
    return {"type": kind or _ANTHROPIC_TYPES.get(e.status, "api_error"), "message": redact(e.message)}


def openai_error(e: GatewayError) -> JSONAnswer:
    return JSONAnswer(openai_error_body(e), status_code=e.status, headers=_headers(e))


def anthropic_error(e: GatewayError) -> JSONAnswer:
    """Anthropic's body, and its status for an overloaded model (529, the SDK's OverloadedError)."""
    status = 529 if e.kind == ErrorKind.OVERLOADED.value else e.status
    return JSONAnswer({"type": "error", "error": anthropic_error_detail(e)}, status_code=status, headers=_headers(e))
