"""The register form marks every problem at once: a broken JSON field no longer hides the
other fields' problems until a second Save, and an endpoint that is no URL is said."""

import pytest

from studio.errors import UserError
from studio.spec.model import ModelSpec
from studio.ui.model_form import form_problems, form_to_spec, spec_to_form


def test_every_problem_is_marked_at_once_even_with_a_broken_json_field():
    values = {**spec_to_form(None), "id": "my model!!", "name": "Mine", "provider": "http", "api": "http",
              "endpoint": "not a url", "key_ref": "bad key name", "output_schema": '{"type": "banana"}'}
    problems = form_problems(values)
    assert set(problems) == {"id", "endpoint", "key_ref", "output_schema"}, problems
    # the spec's own rule and sentence (the form had a weaker one of its own: "http://" passed it)
    assert problems["endpoint"] == ("Endpoint 'not a url' is not a URL a call can go to; give one such as "
                                    "https://api.openai.com/v1/chat/completions.")
    assert "is not a URL a call can go to" in form_problems({**values, "endpoint": "https://"})["endpoint"]


def test_a_good_form_has_no_problem():
    values = {**spec_to_form(None), "id": "acme/echo", "name": "Echo", "provider": "http", "api": "http",
              "endpoint": "http://127.0.0.1:9/echo"}
    assert form_problems(values) == {}


def test_a_negative_price_or_a_fractional_window_is_named_not_changed():
    """The number fields clamped -3 to 0 and rounded 1000.5 to 1000 without a word."""
    values = {**spec_to_form(None), "id": "acme/echo", "name": "Echo", "provider": "http", "api": "http",
              "endpoint": "http://127.0.0.1:9/echo", "price_in": -3, "latency_ms": -1, "context_window": 1000.5}
    problems = form_problems(values)
    assert set(problems) == {"price_in", "latency_ms", "context_window"}, problems
    assert "greater than or equal to 0" in problems["price_in"] and "fractional part" in problems["context_window"]


def test_an_endpoint_that_only_starts_like_a_url_is_named():
    """`http://`, `https:///v1/chat` and an address with a space were saved; a call or a health
    check said 'UnsupportedProtocol' later."""
    for endpoint in ("http://", "https:///v1/chat", "http://local host:11434/api/chat"):
        values = {**spec_to_form(None), "id": "acme/echo", "name": "Echo", "provider": "http", "api": "http",
                  "endpoint": endpoint}
        problems = form_problems(values)
        assert set(problems) == {"endpoint"} and "is not a URL a call can go to" in problems["endpoint"], problems


def test_a_price_too_large_or_not_a_number_is_named_under_its_field():
    """A price is typed as text: 1e400 (infinity), 1e12 USD per million tokens or 'abc' was
    emptied by the number field or saved; each is now named where it was typed."""
    values = {**spec_to_form(None), "id": "acme/echo", "name": "Echo", "provider": "http", "api": "http",
              "endpoint": "http://127.0.0.1:9/echo", "price_in": "1e400", "price_out": "1e12",
              "price_cached": "abc", "price_call": "1000.5"}
    problems = form_problems(values)
    assert set(problems) == {"price_in", "price_out", "price_cached", "price_call"}, problems
    assert problems["price_in"] == problems["price_out"] == (
        "This price is too large: at most 10,000 USD per million tokens (0.01 USD per token); check it for a typo.")
    assert problems["price_cached"] == "'abc' is not a number; type a price in USD such as 0.15, or leave it empty."
    assert problems["price_call"] == "This price is too large: at most 1,000 USD per call; check it for a typo."
    with pytest.raises(UserError, match="too large"):
        form_to_spec(values)
    fine = {**values, "price_in": " 10000 ", "price_out": "0.6", "price_cached": "", "price_call": "1000"}
    assert form_problems(fine) == {}
    spec = form_to_spec(fine)
    assert (spec.prices.input_per_token, spec.prices.output_per_token, spec.prices.per_call) == (0.01, 6e-7, 1000)
    assert {k: spec_to_form(spec)[k] for k in ("price_in", "price_out", "price_cached", "price_call")} == {
        "price_in": "10000", "price_out": "0.6", "price_cached": "", "price_call": "1000"}


def test_the_cache_write_price_is_a_field_and_survives_an_edit():
    """A model's prompt-cache write price: the form rebuilt `prices` from its four fields, so
    saving an edit of a model that had one dropped it."""
    spec = ModelSpec.model_validate({"id": "acme/claude", "name": "Claude", "provider": "anthropic",
                                     "api": "anthropic-messages", "endpoint": "https://api.anthropic.com/v1/messages",
                                     "model": "claude-x", "keyRef": "K",
                                     "prices": {"inputPerToken": 1e-6, "outputPerToken": 5e-6,
                                                "cacheWriteInputPerToken": 1.25e-6}})
    values = spec_to_form(spec)
    assert values["price_cache_write"] == "1.25"
    assert form_to_spec({**values, "name": "Claude 2"}, spec).prices.cache_write_input_per_token == 1.25e-6
    assert form_problems({**values, "price_cache_write": "abc"}, spec) == {
        "price_cache_write": "'abc' is not a number; type a price in USD such as 0.15, or leave it empty."}
