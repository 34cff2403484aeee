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


async def test_an_html_or_plain_text_error_page_reads_as_one_line(fake, hub):
    """nginx's 502 page printed its eight lines of markup, a text/plain 500 its traceback."""
    from studio.providers.errors import ProviderError

    spec = make_spec("openai-chat", fake.url("/v1/chat/completions"))
    nginx = ("<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1>"
             "</center>\n<hr><center>nginx</center>\n</body>\n</html>\n")
    traceback = "Internal Server Error\nTraceback (most recent call last):\n  File x\nValueError: boom"
    untitled = "<!DOCTYPE html>\n<html><body>\n<h1>Service &amp; gateway</h1>\n<p>down.</p></body></html>"
    for body, ctype, words in ((nginx, "text/html", "502 Bad Gateway"), (traceback, "text/plain", "Internal Server Error"),
                               (untitled, "text/html", "Service & gateway down")):
        fake.reply("/v1/chat/completions", Reply(status=502, raw=body, content_type=ctype))
        with pytest.raises(ProviderError) as err:
            await hub.call(spec, req({"prompt": "Hi"}))
        assert str(err.value).endswith(f"(HTTP 502) — {words}.")


async def test_a_key_echoed_where_a_long_error_body_is_trimmed_stays_masked(fake):
    """The detail was trimmed to 300 characters before redaction, so a key the trim cut in two
    no longer matched and its first part showed."""
    from studio.providers.errors import ProviderError
    from studio.providers.hub import ProviderHub
    from studio.recording import MemoryRecorder
    from tests.providers.conftest import DictKeys

    key = "zq-LOCAL-0123456789abcdefghij"  # no well-known key shape: masked only as the key it is
    hub = ProviderHub(keys=DictKeys({"TEST_KEY": key}), recorder=MemoryRecorder())
    try:
        fake.reply("/v1/chat/completions", Reply(status=500, raw="x" * 290 + f" {key} rejected", content_type="text/plain"))
        with pytest.raises(ProviderError) as err:
            await hub.call(make_spec("openai-chat", fake.url("/v1/chat/completions")), req({"prompt": "Hi"}))
    finally:
        await hub.aclose()
    assert "zq-LOCAL" not in str(err.value) and "\n" not in str(err.value)


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
    assert "retry after 5s" in from_response(429, httpx.Headers({"retry-after": "4.99433"}), "").sentence()  # was 4.99433s
    assert "retry after 5 min" in from_response(429, httpx.Headers({"retry-after": "300"}), "").sentence()
