"""A small taxonomy of call errors, so routing can decide: retry, fall back, or fail."""

from __future__ import annotations

from enum import Enum

from studio.secrets.redact import redact


class ErrorKind(str, Enum):
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_BLOCKED = "content_blocked"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    OVERLOADED = "overloaded"
    CIRCUIT_OPEN = "circuit_open"  # the studio's own breaker held the call back: not the provider's word
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED = "malformed"
    KEY_MISSING = "key_missing"
    INVALID_INPUT = "invalid_input"
    INVALID_OUTPUT = "invalid_output"
    INCOMPLETE = "incomplete"
    CANCELLED = "cancelled"


# The message of the cancel with which the engine stops a call past its deadline.
DEADLINE_CANCEL = "iom: the call's deadline passed"

RETRYABLE = {
    ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED, ErrorKind.SERVER, ErrorKind.TIMEOUT,
    ErrorKind.CONNECTION, ErrorKind.MALFORMED, ErrorKind.CIRCUIT_OPEN,
}

# Kinds after which another model may succeed where this one cannot (fallback, not retry). An
# account out of credit answers every retry the same, but another provider's model may have credit.
FALLBACK_OK = RETRYABLE | {ErrorKind.CONTEXT_LENGTH, ErrorKind.NOT_FOUND, ErrorKind.CONTENT_BLOCKED,
                           ErrorKind.QUOTA_EXHAUSTED}

_SENTENCES = {
    ErrorKind.AUTH: "the provider refused the API key; check the key in Settings",
    ErrorKind.PERMISSION: "the key is valid but not allowed to use this model",
    ErrorKind.NOT_FOUND: "the provider does not know this model or endpoint; check the model name and URL",
    ErrorKind.BAD_REQUEST: "the provider rejected the request as malformed",
    ErrorKind.CONTEXT_LENGTH: "the input is longer than the model's context window; shorten it or use a model with a larger window",
    ErrorKind.CONTENT_BLOCKED: "the provider blocked the content",
    ErrorKind.RATE_LIMITED: "the provider is rate-limiting this key; wait or use another model",
    ErrorKind.QUOTA_EXHAUSTED: "the provider account has run out of credit or quota; add credit on the provider's billing page or use another model",
    ErrorKind.OVERLOADED: "the provider is overloaded right now; try again shortly",
    ErrorKind.CIRCUIT_OPEN: "calls to this model are paused after its recent failures (circuit breaker open); "
                            "try again shortly or use another model",
    ErrorKind.SERVER: "the provider had an internal error; try again",
    ErrorKind.TIMEOUT: "the call timed out; raise the timeout or try again",
    ErrorKind.CONNECTION: "the provider could not be reached; check the endpoint and your network",
    ErrorKind.MALFORMED: "the provider's reply could not be understood",
    ErrorKind.KEY_MISSING: "no usable API key is set for this model; set it in Settings, with 'iom keys set', or in the environment",
    ErrorKind.INVALID_INPUT: "the input does not fit the model's input schema",
    ErrorKind.INVALID_OUTPUT: "the model's output does not fit its output schema",
    ErrorKind.INCOMPLETE: "the model's provider name is not set; edit the model and fill in 'model'",
    ErrorKind.CANCELLED: "the call was cancelled",
}


class ProviderError(Exception):
    """A classified call failure. `str()` is one human sentence with secrets redacted."""

    def __init__(
        self,
        kind: ErrorKind,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        partial_text: str | None = None,
        model_id: str | None = None,
        sent: bool = True,
        from_defaults: bool = False,
    ):
        self.kind = kind
        self.from_defaults = from_defaults  # INVALID_INPUT: the value came from the model's defaultParams, not the caller
        self.detail = redact(detail or "")
        self.status = status
        self.retry_after_s = retry_after_s
        self.partial_text = partial_text
        self.model_id = model_id
        # False when the call cost nothing: nothing reached the provider (no key, an input that
        # does not fit, a circuit open, a connection never made), or the provider refused it
        # before any work (`refused_unbilled`). True otherwise: what a provider charges for a
        # call that failed after it was sent is not known.
        self.sent = sent and not self.refused_unbilled
        self.rate_limits: dict[str, str] = {}  # the provider's x-ratelimit-* headers, for the gateway to hand on
        super().__init__(self.sentence())

    @property
    def refused_unbilled(self) -> bool:
        """An HTTP 429 for the rate or the quota: the provider turned the request away before
        doing any work, and providers do not bill those (a retried 429 made a run "+1 unpriced")."""
        return self.status == 429 and self.kind in (ErrorKind.RATE_LIMITED, ErrorKind.QUOTA_EXHAUSTED)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def fallback_ok(self) -> bool:
        return self.kind in FALLBACK_OK

    def sentence(self) -> str:
        who = f"{self.model_id}: " if self.model_id else ""
        base = _SENTENCES[self.kind]
        if self.from_defaults:  # not the caller's input: the registry entry's defaultParams
            base = "the model's saved defaultParams do not fit it"
        if self.kind == ErrorKind.CONNECTION and self.sent:  # reached, then lost: not "could not be reached"
            base = "the connection to the provider broke before its reply was complete; try again"
        status = f" (HTTP {self.status})" if self.status else ""
        detail = f" — {self.detail}" if self.detail else ""
        wait = f"; retry after {_wait_text(self.retry_after_s)}" if self.retry_after_s is not None else ""
        return f"{who}{base}{status}{wait}{detail}."


def _wait_text(seconds: float) -> str:
    """'7s', '12 min', '3 h', '40 days': a Retry-After dated in the year 9999 read 2.51606e+11s."""
    for unit, size in (("days", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"  # a dated Retry-After read "4.99433s"
