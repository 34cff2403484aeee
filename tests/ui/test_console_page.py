"""The test console, simulated: a form from the input schema, raw JSON, params, a streamed call
through the real provider hub to a loopback OpenAI-style server, metrics, redacted raw tabs,
history and cancel."""

from __future__ import annotations

import json

import pytest
from nicegui.testing import User

from studio.errors import UserError
from studio.spec.calls import CANONICAL_SCHEMAS
from studio.ui.console_page import build_params, money
from studio.ui.schema_form import collect_input, fields_for, input_problem
from tests.ui.fake_chat import FIRST, KEY, REST
from tests.ui.util import all_by_testid, by_testid, element, set_value, settle, table_rows, wait_until

FULL = FIRST + "".join(REST)


def test_form_fields_follow_the_input_schema():
    fields = {f.name: f for f in fields_for(CANONICAL_SCHEMAS["translation"][0])}
    assert fields["text"].kind == "longtext" and fields["text"].required
    assert fields["targetLanguage"].required and not fields["sourceLanguage"].required
    llm = [f.name for f in fields_for(CANONICAL_SCHEMAS["llm"][0])]
    assert llm.index("prompt") < llm.index("messages")  # prose first, JSON boxes last
    doc = collect_input(fields_for(CANONICAL_SCHEMAS["llm"][0]),
                        {"prompt": "hi", "system": "", "images": "a.png\nb.png", "messages": None})
    assert doc == {"prompt": "hi", "images": ["a.png", "b.png"]}
    assert input_problem(CANONICAL_SCHEMAS["translation"][0], {"text": "x"}) is not None
    assert input_problem(CANONICAL_SCHEMAS["translation"][0], {"text": "x", "targetLanguage": "de"}) is None


def test_params_and_money():
    assert build_params({"temperature": 0.2, "max_tokens": 64.0, "top_p": None}, '{"stop": ["\\n"]}') == \
        {"temperature": 0.2, "max_tokens": 64, "stop": ["\n"]}
    # what the fields hold is what is sent, or refused: a Run straight after typing 5 sent 5 while
    # the field (clamped when left) then showed 2
    for values, said in (({"temperature": 5.0}, "Temperature takes from 0 to 2; it is 5. Nothing was sent."),
                         ({"max_tokens": -3.0}, "Max tokens takes a whole number from 1; it is -3. Nothing was sent."),
                         ({"max_tokens": 2.5}, "Max tokens takes a whole number from 1; it is 2.5. Nothing was sent."),
                         ({"top_p": 1.5}, "Top p takes from 0 to 1; it is 1.5. Nothing was sent.")):
        with pytest.raises(UserError) as refused:
            build_params(values, "")
        assert str(refused.value) == said
    assert money(None) == "unpriced"
    assert money(0) == "free"
    assert money(0.0000123) == "$0.0000123"


async def test_picking_a_model_builds_its_form(user: User):
    await user.open("/console?model=openai/gpt-4o-mini")
    assert all_by_testid(user, "field-prompt") and all_by_testid(user, "field-messages")
    set_value(user, "model-picker", "openai/text-embedding-3-small")
    await settle()
    assert all_by_testid(user, "field-input") and not all_by_testid(user, "field-prompt")


async def test_a_bad_raw_input_is_one_sentence(user: User):
    await user.open("/console?model=openai/gpt-4o-mini")
    with user.client:
        element(user, "tab-raw").parent_slot.parent.value = "Raw JSON"
    set_value(user, "raw-input", "{nope")
    by_testid(user, "run").click()
    await settle()
    if not element(user, "run").enabled:
        pytest.fail("the provider hub is missing: the console cannot call models (merge main once it lands)")
    await user.should_see("The raw input is not valid JSON (line 1, column 2")


async def test_the_form_and_the_raw_json_show_one_input(user: User):
    """What was typed in the Form was not in Raw JSON (nor back), and the open tab decided,
    unseen, what a Run sent."""
    await user.open("/console?model=local/keywords-yake")
    set_value(user, "field-text", "Cold breakfast, lovely room")
    tabs = element(user, "tab-raw").parent_slot.parent
    with user.client:
        tabs.value = "Raw JSON"
    await settle()
    assert json.loads(element(user, "raw-input").value)["text"] == "Cold breakfast, lovely room"
    set_value(user, "raw-input", '{"text": "Warm welcome"}')
    with user.client:
        tabs.value = "Form"
    await settle()
    assert element(user, "field-text").value == "Warm welcome"


@pytest.mark.parametrize("model", ["local/sentiment-vader", "local/keywords-yake", "openai/text-embedding-3-small"])
async def test_the_form_starts_with_an_input_that_fits(user: User, model):
    """The form started empty, so a first Run was refused: "'text' is a required property"."""
    await user.open(f"/console?model={model}")
    from studio.ui.app import get_studio

    spec = get_studio().models.get(model)
    field = "input" if spec.model_type == "embedding" else "text"
    assert element(user, f"field-{field}").value  # the example, as the canvas's Run tab fills it
    assert json.loads(element(user, "raw-input").value)[field] == element(user, f"field-{field}").value
    if spec.provider == "local":
        by_testid(user, "run").click()
        await wait_until(lambda: all_by_testid(user, "console-result"), "the first call's answer")
        assert element(user, "call-error").text == ""


async def test_picking_another_model_clears_the_last_answer(user: User):
    await user.open("/console?model=local/text-stats")
    set_value(user, "field-text", "One sentence. Two sentences.")
    by_testid(user, "run").click()
    await wait_until(lambda: all_by_testid(user, "console-result"), "the text-stats answer")
    set_value(user, "model-picker", "local/keywords-yake")
    await settle()
    assert not all_by_testid(user, "console-result") and element(user, "call-error").text == ""


async def test_another_models_params_start_from_its_own_defaults(user: User):
    """A temperature typed for one model carried over to the next (clamped to its range)."""
    await user.open("/console?model=local/text-stats")
    set_value(user, "temperature", 1.5)
    set_value(user, "max-tokens", 64)
    set_value(user, "model-picker", "local/keywords-yake")
    await settle()
    assert element(user, "temperature").value is None and element(user, "max-tokens").value is None


async def test_run_streams_text_and_shows_metrics_raw_and_history(user: User, loopback_model):
    await user.open("/console?model=loop/chat")
    set_value(user, "field-prompt", "Say hello")
    set_value(user, "max-tokens", 16)
    by_testid(user, "run").click()
    output = element(user, "output")
    await wait_until(lambda: output.text == FIRST, "the first streamed words")
    assert not element(user, "run").enabled and element(user, "cancel").enabled
    loopback_model.gate.set()
    await wait_until(lambda: output.text == FULL, "the whole streamed text")
    await wait_until(lambda: all_by_testid(user, "metric-cost"), "the metrics")
    assert element(user, "metric-tokens").text.startswith("5 in / 4 out")
    assert element(user, "metric-cost").text == money(5 * 1e-6 + 4 * 2e-6)
    sent = next(r.json for r in reversed(loopback_model.requests) if r.method == "POST")
    assert sent["stream"] is True and sent["max_completion_tokens"] == 16  # OpenAI's current name
    assert KEY not in element(user, "raw-request").text + element(user, "raw-response").text
    rows = table_rows(user, "history")
    assert [(r["model"], r["state"]) for r in rows] == [("loop/chat", "ok")]


async def test_cancel_stops_the_call_and_keeps_what_arrived(user: User, loopback_model):
    await user.open("/console?model=loop/chat")
    set_value(user, "field-prompt", "Say hello")
    by_testid(user, "run").click()
    output = element(user, "output")
    await wait_until(lambda: output.text == FIRST, "the first streamed words")
    by_testid(user, "cancel").click()
    await wait_until(lambda: table_rows(user, "history"), "the history row")
    assert table_rows(user, "history")[0]["state"] == "cancelled"
    assert output.text == FIRST
    assert element(user, "run").enabled



async def test_a_provider_error_is_one_sentence_and_recorded_in_the_history(user: User, loopback_model):
    from tests.fakes.provider_server import Reply

    loopback_model.reply("/v1/chat/completions", Reply(
        status=429, headers={"retry-after": "7"},
        json={"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}))
    await user.open("/console?model=loop/chat")
    set_value(user, "field-prompt", "Say hello")
    by_testid(user, "run").click()
    await wait_until(lambda: table_rows(user, "history"), "the history row")
    assert table_rows(user, "history")[0]["state"] == "error"
    message = element(user, "call-error").text
    assert message.startswith("loop/chat: the provider is rate-limiting this key") and "retry after 7s" in message
    await user.should_see(message)  # the notification says the same sentence


async def test_without_a_hub_the_console_says_so_and_cannot_run(user: User):
    from studio.ui import services
    from studio.ui.app import get_studio

    await user.open("/")
    studio = get_studio()
    hub, studio.providers = studio.providers, None  # a build without the provider hub
    try:
        await user.open("/console?model=openai/gpt-4o-mini")
        await user.should_see(services.NO_HUB)
        assert not element(user, "run").enabled
    finally:
        studio.providers = hub  # the app closes it on shutdown


async def test_the_picker_says_which_models_need_a_missing_key(user: User, memory_keyring):
    await user.open("/console?model=openai/gpt-4o-mini")
    await user.should_see("OPENAI_API_KEY is not set, so a call will be refused.")
    await user.should_see("Set it in Settings")
    picker = element(user, "model-picker")
    assert "needs OPENAI_API_KEY" in picker.options["openai/gpt-4o-mini"]
    assert "needs" not in picker.options["local/sentiment-vader"]


async def test_a_slow_keyring_does_not_keep_the_console_from_being_built(user, monkeypatch):
    """The page asked the keyring about every model's key before it could be built: a keyring
    slow to answer (locked, busy) gave NiceGUI's raw "500 Server error … response_timeout"."""
    import time

    import studio.ui.services as services
    from studio.secrets.store import KeyStore

    real = KeyStore.status
    monkeypatch.setattr(services, "KEY_CHECK_WAIT_S", 0.3)
    monkeypatch.setattr(KeyStore, "status", lambda self, name: (time.sleep(0.8), real(self, name))[1])
    await user.open("/console")
    await user.should_see("Model")


async def test_picking_another_model_mid_stream_cancels_the_call_and_clears_its_answer(user: User, loopback_model):
    """The old model's text went on streaming into the new model's panel, as if it were its answer."""
    await user.open("/console?model=loop/chat")
    set_value(user, "field-prompt", "Say hello")
    by_testid(user, "run").click()
    output = element(user, "output")
    await wait_until(lambda: output.text == FIRST, "the first streamed words")
    set_value(user, "model-picker", "local/text-stats")
    await wait_until(lambda: table_rows(user, "history"), "the history row")
    loopback_model.gate.set()  # what the old model still had to send arrives nowhere
    await settle()
    assert output.text == "" and element(user, "call-error").text == "" and not all_by_testid(user, "console-result")
    assert [(r["model"], r["state"]) for r in table_rows(user, "history")] == [("loop/chat", "cancelled")]
    assert element(user, "run").enabled and not element(user, "cancel").enabled
    assert element(user, "status").text == ""


async def test_run_calls_the_model_as_the_registry_holds_it_now(user: User, loopback_model):
    """The page read the models once: a model edited since (by the CLI, another tab) was called
    at its old endpoint, and one removed since was still called."""
    from studio.ui.app import get_studio
    from tests.ui.fake_chat import plain_answer

    studio = get_studio()
    await user.open("/console?model=loop/chat")
    moved = studio.models.get("loop/chat").model_copy(update={"endpoint": loopback_model.url("/moved/v1/chat/completions")})
    studio.models.save(moved)
    loopback_model.reply("/moved/v1/chat/completions", plain_answer("from the new endpoint"))
    set_value(user, "field-prompt", "Say hello")
    by_testid(user, "run").click()
    await wait_until(lambda: table_rows(user, "history"), "the history row")
    assert table_rows(user, "history")[0]["state"] == "ok"
    assert [r.path for r in loopback_model.requests if r.method == "POST"] == ["/moved/v1/chat/completions"]

    studio.models.delete("loop/chat")
    by_testid(user, "run").click()
    message = "loop/chat is no longer in the registry (it was removed after this page was opened)"
    await wait_until(lambda: element(user, "call-error").text.startswith(message), "the sentence")
    assert len(table_rows(user, "history")) == 1  # not called
    assert len([r for r in loopback_model.requests if r.method == "POST"]) == 1
