"""Error classification and retry-after parsing, on their own."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from studio.providers.classify import from_response, retry_after
from studio.providers.errors import ErrorKind
from tests.fakes.provider_server import Reply
from tests.providers.conftest import make_spec, req


def test_retry_after_sources():
    assert retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    future = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after(httpx.Headers({"retry-after": future})) <= 120
    assert retry_after({}, {"error": {"details": [{"@type": "x.RetryInfo", "retryDelay": "1.5s"}]}}) == 1.5
    assert retry_after({}, {"error": "loading", "estimated_time": 8}) == 8.0
    assert retry_after({}, {"error": "x"}) is None


@pytest.mark.parametrize("status,kind", [(408, ErrorKind.TIMEOUT), (409, ErrorKind.SERVER), (502, ErrorKind.SERVER), (504, ErrorKind.TIMEOUT),
                                         (418, ErrorKind.BAD_REQUEST), (599, ErrorKind.SERVER)])
def test_other_statuses(status, kind):
    assert from_response(status, httpx.Headers(), "plain text body").kind == kind


def test_non_json_error_body_keeps_a_short_detail():
    err = from_response(500, httpx.Headers(), "<html>Bad Gateway</html>")
    assert err.kind == ErrorKind.SERVER and "Bad Gateway" in str(err)


async def test_unexpected_reply_shape_is_malformed_not_a_crash(fake, hub):
    from studio.providers.errors import ProviderError

    fake.reply("/v1/messages", Reply(json={"content": [{"type": "text", "text": 5}], "usage": {"input_tokens": "x"}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(make_spec("anthropic-messages", fake.url("/v1/messages")), req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED


async def test_odd_counts_and_deep_nesting_in_a_reply_are_one_line(fake, hub):
    """A usage count that is no number was a four-line pydantic dump; a reply nested past
    Python's limit a RecursionError, which the CLI called a bug of the studio's."""
    from studio.providers.errors import ProviderError

    spec = make_spec("openai-chat", fake.url("/v1/chat/completions"))
    fake.reply("/v1/chat/completions", Reply(json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                                                   "usage": {"prompt_tokens": "a", "completion_tokens": -5}}))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec, req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED and "\n" not in str(err.value) and "input_tokens" in str(err.value)
    fake.reply("/v1/chat/completions", Reply(raw=b"[" * 5000 + b"]" * 5000, content_type="application/json"))
    with pytest.raises(ProviderError) as err:
        await hub.call(spec, req({"prompt": "Hi"}))
    assert err.value.kind == ErrorKind.MALFORMED and "\n" not in str(err.value)


def test_a_reply_cut_off_is_not_called_unreachable_and_a_far_retry_after_reads_as_time():
    from studio.providers.classify import from_transport

    cut = from_transport(httpx.RemoteProtocolError("peer closed connection"))
    assert "broke before its reply was complete" in cut.sentence() and "could not be reached" not in cut.sentence()
    refused = from_transport(httpx.ConnectError("refused"))
    assert "could not be reached" in refused.sentence()
    far = from_response(429, httpx.Headers({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}), "")
    assert "retry after" in far.sentence() and " days" in far.sentence() and "e+" not in far.sentence()
    assert "retry after 7s" in from_response(429, httpx.Headers({"retry-after": "7"}), "").sentence()
    assert "retry after 5 min" in from_response(429, httpx.Headers({"retry-after": "300"}), "").sentence()
