"""Turn an HTTP failure (status, headers, body) or a transport exception into a ProviderError.

Every adapter shares this, so "429 with Retry-After" means the same thing whoever sent it.
"""

from __future__ import annotations

import html
import json
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from studio.providers.errors import ErrorKind, ProviderError
from studio.secrets.redact import redact

_BY_STATUS = {
    400: ErrorKind.BAD_REQUEST, 401: ErrorKind.AUTH, 402: ErrorKind.QUOTA_EXHAUSTED, 403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT, 409: ErrorKind.SERVER, 413: ErrorKind.CONTEXT_LENGTH, 422: ErrorKind.BAD_REQUEST,
    429: ErrorKind.RATE_LIMITED, 500: ErrorKind.SERVER, 502: ErrorKind.SERVER, 503: ErrorKind.OVERLOADED,
    504: ErrorKind.TIMEOUT, 529: ErrorKind.OVERLOADED,
}

# Provider error *types* found in bodies and mid-stream error events.
_BY_TYPE = {
    "authentication_error": ErrorKind.AUTH, "invalid_api_key": ErrorKind.AUTH, "unauthenticated": ErrorKind.AUTH,
    "permission_error": ErrorKind.PERMISSION, "permission_denied": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND, "model_not_found": ErrorKind.NOT_FOUND, "not_found": ErrorKind.NOT_FOUND,
    "invalid_request_error": ErrorKind.BAD_REQUEST, "invalid_argument": ErrorKind.BAD_REQUEST,
    "context_length_exceeded": ErrorKind.CONTEXT_LENGTH, "request_too_large": ErrorKind.CONTEXT_LENGTH,
    "rate_limit_error": ErrorKind.RATE_LIMITED, "rate_limit_exceeded": ErrorKind.RATE_LIMITED,
    "resource_exhausted": ErrorKind.RATE_LIMITED, "insufficient_quota": ErrorKind.QUOTA_EXHAUSTED,
    "billing_error": ErrorKind.QUOTA_EXHAUSTED,
    "overloaded_error": ErrorKind.OVERLOADED, "unavailable": ErrorKind.OVERLOADED,
    "api_error": ErrorKind.SERVER, "server_error": ErrorKind.SERVER, "internal": ErrorKind.SERVER,
    "timeout_error": ErrorKind.TIMEOUT, "deadline_exceeded": ErrorKind.TIMEOUT,
}

# Out of credit: OpenAI says so with a 429 (insufficient_quota), which a retry cannot mend;
# Anthropic with a 400 whose message names the credit balance.
_QUOTA_RE = re.compile(r"credit balance is too low|exceeded your current quota|insufficient.(credit|balance|quota)", re.I)

_CONTEXT_RE = re.compile(
    r"context.length|context_length|context window|maximum context|too many tokens|prompt is too long"
    r"|input is too long|exceeds the maximum.*tokens|input validation error: `inputs` tokens", re.I)


_DETAIL_LIMIT = 300
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_HTML_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")


def _message(body: Any, text: str) -> str:
    """The provider's own words for the failure, as one line (the detail of a one-sentence error)."""
    return _one_line(_body_message(body, text))


def _body_message(body: Any, text: str) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err.get("type") or "")
        if isinstance(err, str):
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return _body_message(body[0], text)
    return _readable(text)


def _readable(text: str) -> str:
    """A body that is no JSON, as words: an HTML page (a proxy's 502) by its <title>, else its
    text without markup; plain text (a server's traceback) by its first line."""
    text = text.strip()
    if text.startswith("<"):
        title = _HTML_TITLE.search(text)
        if title and title.group(1).strip():
            return html.unescape(title.group(1))
        return html.unescape(_HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", text)))
    return next((line for line in text.splitlines() if line.strip()), "")


def _one_line(message: str) -> str:
    """Whitespace collapsed, no closing full stop (the sentence adds its own), trimmed; redacted
    before the trim, so a key the trim would cut in two is still masked whole."""
    line = " ".join(redact(message).split()).rstrip(".")
    return line if len(line) <= _DETAIL_LIMIT else line[:_DETAIL_LIMIT - 1].rstrip() + "…"


def error_type(body: Any) -> str | None:
    """The provider's error type/code/status string, lower-cased, if the body has one."""
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict):
        for field in ("type", "code", "status"):
            value = err.get(field)
            if isinstance(value, str) and value:
                return value.lower()
    return None


def retry_after(headers: httpx.Headers | dict | None, body: Any = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `Retry-After` (seconds or HTTP date),
    Gemini's RetryInfo.retryDelay ("47s") or HF's `estimated_time`."""
    headers = headers or {}
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra:
        try:
            return max(0.0, float(ra))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(ra).timestamp() - time.time())
            except (TypeError, ValueError, IndexError):
                pass
    if isinstance(body, dict):
        err = body.get("error")
        for detail in (err.get("details") or []) if isinstance(err, dict) else []:
            delay = isinstance(detail, dict) and detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return float(delay[:-1])
                except ValueError:
                    pass
        if isinstance(body.get("estimated_time"), (int, float)):
            return float(body["estimated_time"])
    return None


def _refused_key(body: Any) -> bool:
    """Google's ErrorInfo reason API_KEY_INVALID (or its "API key not valid" message)."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return False
    reasons = {d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)}
    return "API_KEY_INVALID" in reasons or "API key not valid" in str(err.get("message") or "")


def from_body(body: Any, *, status: int | None = None, headers=None, default: ErrorKind = ErrorKind.SERVER,
              text: str = "", partial_text: str | None = None) -> ProviderError:
    """Classify an error body (a failed reply, or an error event inside a 200 stream)."""
    msg = _message(body, text)
    kind = _BY_STATUS.get(status) if status else None
    etype = error_type(body)
    if etype in _BY_TYPE and (kind in (None, ErrorKind.BAD_REQUEST, ErrorKind.SERVER)
                              or _BY_TYPE[etype] == ErrorKind.QUOTA_EXHAUSTED):  # (a 429 no retry mends)
        kind = _BY_TYPE[etype]
    if kind is None:
        kind = ErrorKind.SERVER if status and status >= 500 else (ErrorKind.BAD_REQUEST if status else default)
    if kind in (ErrorKind.BAD_REQUEST, None) and _refused_key(body):
        kind = ErrorKind.AUTH  # Gemini answers a bad key with 400 INVALID_ARGUMENT + API_KEY_INVALID
    if kind in (ErrorKind.BAD_REQUEST, ErrorKind.RATE_LIMITED) and _QUOTA_RE.search(msg):
        kind = ErrorKind.QUOTA_EXHAUSTED
    if kind in (ErrorKind.BAD_REQUEST, ErrorKind.SERVER) and _CONTEXT_RE.search(msg):
        kind = ErrorKind.CONTEXT_LENGTH
    err = ProviderError(kind, msg, status=status, retry_after_s=retry_after(headers, body), partial_text=partial_text)
    err.rate_limits = rate_limit_headers(headers)
    return err


_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


def rate_limit_headers(headers) -> dict[str, str]:
    """The provider's rate-limit headers (limits, what is left, when it resets), which the
    gateway hands on with its error: clients that pace themselves by them got only retry-after."""
    if not headers:
        return {}
    found = {k.lower(): v for k, v in headers.items() if k.lower().startswith(_RATE_LIMIT_PREFIXES)}
    return {k: v[:200] for k, v in list(found.items())[:20] if v.isprintable()}


def from_response(status: int, headers: httpx.Headers, text: str) -> ProviderError:
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    return from_body(body, status=status, headers=headers, text=text)


def from_transport(exc: Exception, partial_text: str | None = None) -> ProviderError:
    """httpx exceptions: timeouts, refused connections, streams cut off. A connection that was
    never made sent nothing: that call cost nothing (`sent=False`)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderError(ErrorKind.TIMEOUT, type(exc).__name__, partial_text=partial_text, sent=False)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(ErrorKind.TIMEOUT, type(exc).__name__, partial_text=partial_text)
    if isinstance(exc, httpx.ConnectError):
        return ProviderError(ErrorKind.CONNECTION, "connection refused or host unknown", partial_text=partial_text,
                             sent=False)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ProviderError(ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}", partial_text=partial_text, sent=False)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return ProviderError(ErrorKind.CONNECTION, f"the connection broke mid-reply ({type(exc).__name__})",
                             partial_text=partial_text)
    return ProviderError(ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}", partial_text=partial_text)
