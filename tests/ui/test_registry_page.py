"""The registry page, simulated (no browser): search and filters, detail, the register/edit
form with its schema checks, clone, delete, import/export, problems from corrupt files."""

from __future__ import annotations

import json

from nicegui import ui
from nicegui.testing import User

from studio.registry.samples import sample_models
from tests.ui.fake_chat import KEY
from tests.ui.util import by_testid, element, set_value, settle, table_rows, wait_until


def ids(user: User) -> list[str]:
    return sorted(r["id"] for r in table_rows(user, "models-table"))


def own_registry() -> None:
    """Replace the seeded samples by four known models, so filter results do not depend on
    which samples ship."""
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    models = get_studio().models
    for spec in models.all():
        models.delete(spec.id)
    common = {"endpoint": "http://127.0.0.1:9/v1"}
    models.save(ModelSpec(id="acme/big-chat", name="Big chat", provider="openai", api="openai-chat", model="big",
                          capabilities=["chat"], tags=["premium"], latency_ms=2000,
                          prices={"input_per_token": 5e-6, "output_per_token": 15e-6}, **common))
    models.save(ModelSpec(id="acme/small-chat", name="Small chat", provider="openai", api="openai-chat", model="s",
                          capabilities=["chat", "summarize"], tags=["cheap"], latency_ms=300,
                          prices={"input_per_token": 1e-7, "output_per_token": 4e-7}, **common))
    models.save(ModelSpec(id="home/embedder", name="Home embedder", provider="ollama", api="ollama-embed",
                          model="e", model_type="embedding", capabilities=["embed"], security_policy="private",
                          prices={"per_call": 0}, **common))
    models.save(ModelSpec(id="hf/mystery", name="Mystery", provider="huggingface", api="hf-text-generation",
                          model="m", capabilities=["chat"], **common))


def filter_element(user: User, kind, label: str):
    return next(e for e in user.find(kind).elements if e.props.get("label") == label)


async def test_search_and_filters_narrow_the_table(user: User):
    await user.open("/registry")
    own_registry()
    await user.open("/registry")
    assert len(ids(user)) == 4
    set_value(user, "search", "chat")
    await settle()
    assert ids(user) == ["acme/big-chat", "acme/small-chat", "hf/mystery"]
    await user.should_see("3 of 4 models")
    set_value(user, "search", "no-such-model-anywhere")
    await settle()
    await user.should_see("0 of 4 models; none matches the search and filters (clear them to see all)")
    set_value(user, "search", "")
    cases = [
        (ui.select, "Capability", "summarize", ["acme/small-chat"]),
        (ui.select, "Type", "embedding", ["home/embedder"]),
        (ui.select, "Provider", "openai", ["acme/big-chat", "acme/small-chat"]),
        (ui.select, "Tag", "premium", ["acme/big-chat"]),
        (ui.select, "Policy", "private", ["home/embedder"]),
        (ui.select, "Health", "unknown", ["acme/big-chat", "acme/small-chat", "hf/mystery", "home/embedder"]),
        (ui.number, "Max latency", 500, ["acme/small-chat"]),
        # free and cheap models pass; the unpriced one never counts as cheap
        (ui.number, "Max $/Mtok", 1, ["acme/small-chat", "home/embedder"]),
    ]
    for kind, label, value, expected in cases:
        element_ = filter_element(user, kind, label)
        with user.client:
            element_.value = value
        await settle()
        assert ids(user) == expected, label
        with user.client:
            element_.value = None
        await settle()
    assert len(ids(user)) == 4


async def test_detail_shows_prices_key_status_and_schemas_never_a_key(user: User, memory_keyring):
    from studio.ui.app import get_studio

    get_studio().keys.set("OPENAI_API_KEY", "sk-test-secret-value-1234567890")
    await user.open("/registry")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "openai/gpt-4o-mini"}, 0])
    await settle()
    await user.should_see("$0.15 / $0.6 per Mtok")
    await user.should_see("OPENAI_API_KEY: set (keyring)")
    await user.should_see('"finishReason"')
    await user.should_not_see("sk-test-secret-value-1234567890")
    assert not any("sk-test-secret" in str(getattr(e, "text", "")) for e in user.current_layout.descendants())


async def test_detail_shows_the_measured_quality_and_whether_it_still_counts(user: User):
    """What 'iom eval save-quality' stored was visible only in a capability node's reason."""
    from studio.atomic import write_json
    from studio.engine.cache import answer_version
    from studio.registry.quality import quality_path
    from studio.ui.app import get_studio

    studio = get_studio()
    vader = studio.models.get("local/sentiment-vader")
    entry = {"dataset": "reviews", "date": "2026-12-01T10:00:00+00:00", "experiment": "x1", "rows": 40, "scorers": []}
    write_json(quality_path(studio.home), {
        "sentiment": {vader.id: {**entry, "score": 0.91, "modelVersion": answer_version(vader)}},
        "classify": {vader.id: {**entry, "score": 0.5, "modelVersion": "0123456789abcdef"}}})
    await user.open("/registry")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": vader.id}, 0])
    await settle()
    assert element(user, "fact-quality").text == (
        "classify 0.500 (reviews, 2026-12-01, 40 rows; measured before the model was edited, not used); "
        "sentiment 0.910 (reviews, 2026-12-01, 40 rows)")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "local/text-stats"}, 0])
    await settle()
    assert any(e.text.startswith("not measured") for e in user.find("not measured").elements)


async def _register_echo(user: User, model_id: str, name: str, **fields: str) -> None:
    """The Register form filled for a built-in echo model (and `fields`, by test id), then saved."""
    await user.open("/registry")
    user.find("Register").click()
    for testid, value in {"form-id": model_id, "form-name": name, "form-provider": "local", "form-api": "local",
                          "form-model": "echo", **fields}.items():
        set_value(user, testid, value)
    by_testid(user, "form-save").click()


async def test_register_through_the_form(user: User):
    await _register_echo(user, "local/echo-test", "Echo test")
    await settle()
    await user.should_see("Saved local/echo-test.")
    from studio.ui.app import get_studio

    spec = get_studio().models.get("local/echo-test")
    assert spec.name == "Echo test" and spec.api == "local"
    assert "local/echo-test" in ids(user)


async def test_a_chat_model_saved_with_one_price_of_two_is_told_its_calls_stay_unpriced(user: User):
    """Saved with an input price alone, an llm's calls were all unpriced, and nothing said so."""
    await _register_echo(user, "local/one-price", "One price", **{"form-price-in": "0.15"})
    await settle()
    await user.should_see("Saved local/one-price; only the input price is set, so this model's calls stay unpriced; "
                          "give the output price too (0 if it is free).")


async def test_bad_schema_is_flagged_under_the_field_and_not_saved(user: User):
    await user.open("/registry")
    user.find("Register").click()
    set_value(user, "form-id", "local/bad-schema")
    set_value(user, "form-name", "Bad schema")
    set_value(user, "form-input-schema", '{"type": "strng"}')
    editor = element(user, "form-input-schema")
    assert editor.error and "Not a valid JSON Schema" in editor.error
    set_value(user, "form-input-schema", '{"type": ')
    assert editor.error.startswith("It is not valid JSON")
    by_testid(user, "form-save").click()
    await settle()
    await user.should_see("2 fields need attention")  # the broken JSON does not hide the other problems
    assert "not valid JSON" in editor.error  # the sentence stays under the field
    assert "needs an endpoint URL" in element(user, "form-endpoint").error
    from studio.ui.app import get_studio

    assert get_studio().models.find("local/bad-schema") is None
    set_value(user, "form-input-schema", '{"type": "object"}')
    assert editor.error is None


def record_latencies(store, latencies: dict[str, float]) -> None:
    """Three answered calls per model, each taking the given milliseconds."""
    from datetime import datetime, timezone

    from studio.spec.calls import Usage
    from studio.spec.records import CallRecord

    for model_id, ms in latencies.items():
        for i in range(3):
            store.record_call(CallRecord(id=f"{model_id}-{i}", time=datetime.now(timezone.utc), model_id=model_id,
                                         provider="openai", latency_ms=ms, usage=Usage(source="provider")))
    store.flush()


async def test_latency_shown_and_filtered_is_the_measured_p50_routing_uses(user: User):
    """The column, the detail and the max-latency filter read the declared figure only, while a
    capability node with the same limit ranks by the measured p50: they disagreed both ways."""
    from studio.ui.app import get_studio

    await user.open("/registry")
    own_registry()
    record_latencies(get_studio().analytics, {"acme/big-chat": 150, "acme/small-chat": 900})  # declared 2000 / 300
    await user.open("/registry")
    rows = {r["id"]: r["latency"] for r in table_rows(user, "models-table")}
    assert rows == {"acme/big-chat": "150 ms (measured p50)", "acme/small-chat": "900 ms (measured p50)",
                    "home/embedder": "unknown", "hf/mystery": "unknown"}
    with user.client:
        filter_element(user, ui.number, "Max latency").value = 500
    await settle()
    assert ids(user) == ["acme/big-chat"]
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "acme/big-chat"}, 0])
    await settle()
    assert element(user, "fact-latency").text == "150 ms (measured p50); declared 2000 ms"


async def test_edit_clone_and_delete(user: User):
    await user.open("/registry")
    table = by_testid(user, "models-table")
    table.trigger("rowClick", [{}, {"id": "ollama/llama3.2"}, 0])
    await settle()
    by_testid(user, "clone").click()
    assert element(user, "form-id").value == "ollama/llama3.2-copy"
    by_testid(user, "form-save").click()
    await settle()
    assert "ollama/llama3.2-copy" in ids(user)

    table.trigger("rowClick", [{}, {"id": "ollama/llama3.2-copy"}, 0])
    await settle()

    await settle()
    by_testid(user, "edit").click()
    set_value(user, "form-name", "Renamed copy")
    by_testid(user, "form-save").click()
    await settle()
    from studio.ui.app import get_studio

    assert get_studio().models.get("ollama/llama3.2-copy").name == "Renamed copy"

    table.trigger("rowClick", [{}, {"id": "ollama/llama3.2-copy"}, 0])
    await settle()

    await settle()
    by_testid(user, "delete").click()
    by_testid(user, "confirm-ok").click()
    await settle()
    assert "ollama/llama3.2-copy" not in ids(user)
    assert get_studio().models.find("ollama/llama3.2-copy") is None


async def test_clone_keeps_the_fields_the_form_does_not_show(user: User):
    """A clone kept only what the form shows: a generic HTTP model's mapping (its key header, its
    body and output), rateLimit and faults were dropped, and the copy called the API differently."""
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    await user.open("/registry")
    models = get_studio().models
    models.save(ModelSpec(id="acme/generic", name="Generic", provider="http", api="http",
                          endpoint="http://127.0.0.1:9/ask", key_ref="ACME_KEY",
                          http={"method": "POST", "headers": {"x-api-key": "{{key}}"},
                                "body": '{"q": {{ input.text | tojson }}}', "output": "result.answer"},
                          rate_limit={"requests_per_minute": 12}, faults={"error_rate": 0.5},
                          created="2020-01-01T00:00:00Z"))
    await user.open("/registry")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "acme/generic"}, 0])
    await settle()
    by_testid(user, "clone").click()
    by_testid(user, "form-save").click()
    await settle()
    source, copy = models.get("acme/generic"), models.get("acme/generic-copy")
    assert copy.http == source.http and copy.http.headers == {"x-api-key": "{{key}}"}
    assert copy.rate_limit == source.rate_limit and copy.faults == source.faults
    assert copy.name == "Generic (copy)" and copy.created.year > 2020


async def test_import_upload_and_export_download(user: User):
    await user.open("/registry")
    doc = {"id": "local/imported", "name": "Imported", "provider": "local", "api": "local", "model": "x"}
    upload = element(user, "upload")
    from nicegui.elements.upload_files import SmallFileUpload
    from nicegui import events

    with user.client:
        for handler in upload._upload_handlers:
            await handler(events.UploadEventArguments(
                sender=upload, client=user.client,
                file=SmallFileUpload(name="m.json", content_type="application/json", _data=json.dumps(doc).encode())))
    await settle()
    assert "local/imported" in ids(user)
    user.find("Export").click()
    await settle()
    body = json.loads(user.download.http_responses[-1].content)
    assert body["format"] == "iom.models"
    assert "local/imported" in [m["id"] for m in body["models"]]


async def test_import_of_a_broken_file_says_why_in_one_sentence(user: User):
    await user.open("/registry")
    upload = element(user, "upload")
    from nicegui.elements.upload_files import SmallFileUpload
    from nicegui import events

    with user.client:
        for handler in upload._upload_handlers:
            await handler(events.UploadEventArguments(
                sender=upload, client=user.client,
                file=SmallFileUpload(name="broken.json", content_type="application/json", _data=b"{not json")))
    await settle()
    await user.should_see("broken.json is not valid JSON (line 1, column 2")


async def test_corrupt_registry_file_is_reported_and_the_page_still_works(user: User, iom_home):
    await user.open("/registry")  # seeds the samples
    (iom_home / "models" / "broken.json").write_text("{oops", "utf-8")
    await user.open("/registry")
    await user.should_see("broken.json could not be read")
    assert len(ids(user)) == len(sample_models())


async def test_a_model_named_like_a_script_is_plain_text(user: User):
    from studio.spec.model import ModelSpec
    from studio.ui.app import get_studio

    await user.open("/registry")
    get_studio().models.save(ModelSpec(id="local/xss", name="<script>alert(1)</script>", provider="local", api="local"))
    await user.open("/registry")
    assert "<script>alert(1)</script>" in [r["name"] for r in table_rows(user, "models-table")]
    # nothing on the page is an html element fed with user data
    assert not [e for e in user.current_layout.descendants() if isinstance(e, (ui.html, ui.markdown))]


async def test_check_now_probes_the_model_and_keeps_its_health(user: User, loopback_model):
    """The registry's "check now" goes through the hub's health probe to the loopback server."""
    from studio.ui.app import get_studio

    await user.open("/registry")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "loop/chat"}, 0])
    await settle()
    button = element(user, "check-now")
    assert button.enabled, "the provider hub has no health probe yet (merge main once it lands)"
    by_testid(user, "check-now").click()
    await wait_until(lambda: get_studio().models.health("loop/chat").state != "unknown", "a stored health state")
    assert get_studio().models.health("loop/chat").state == "ok"
    assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in loopback_model.requests)
    await settle()
    assert {"id": "loop/chat", "health": "ok"}.items() <= next(
        r for r in table_rows(user, "models-table") if r["id"] == "loop/chat").items()


async def test_a_probe_told_to_wait_is_rate_limited_in_amber_with_its_retry_after(user: User, loopback_model):
    """A 429 on the health probe was stored as 'error' with a red badge, like a broken model."""
    from tests.fakes.provider_server import Reply
    from studio.ui.app import get_studio

    loopback_model.reply("/v1/models", Reply(status=429, headers={"retry-after": "7"},
                                             json={"error": {"message": "slow down", "type": "rate_limit"}}))
    await user.open("/registry")
    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "loop/chat"}, 0])
    await settle()
    by_testid(user, "check-now").click()
    await wait_until(lambda: get_studio().models.health("loop/chat").state != "unknown", "a stored health state")
    health = get_studio().models.health("loop/chat")
    assert health.state == "rate_limited" and "retry after 7" in health.detail
    await settle()
    badges = [b for b in user.find(ui.badge).elements if b.text == "rate limited"]
    assert badges and all(b.props.get("color") == "warning" for b in badges)
    await user.should_see("retry after 7")
    assert "rate_limited: 'warning'" in element(user, "models-table").slots["body-cell-health"].template
    with user.client:
        filter_element(user, ui.select, "Health").value = "rate_limited"
    await settle()
    assert ids(user) == ["loop/chat"]


async def upload_json(user: User, name: str, doc) -> None:
    from nicegui import events
    from nicegui.elements.upload_files import SmallFileUpload

    upload = element(user, "upload")
    with user.client:
        for handler in upload._upload_handlers:
            await handler(events.UploadEventArguments(
                sender=upload, client=user.client,
                file=SmallFileUpload(name=name, content_type="application/json", _data=json.dumps(doc).encode())))
    await settle()


async def test_an_import_over_an_existing_id_asks_and_the_old_version_can_be_restored(user: User):
    from studio.ui.app import get_studio

    await user.open("/registry")
    models = get_studio().models
    original = models.get("local/text-stats")
    edited = {**original.to_json_dict(), "name": "Text stats (edited)"}
    await upload_json(user, "edited.json", edited)
    await user.should_see("exists already")  # asked, nothing replaced yet
    assert models.get("local/text-stats").name == original.name
    by_testid(user, "import-as-new").click()
    await settle()
    assert models.get("local/text-stats-2").name == "Text stats (edited) (local/text-stats-2)"  # told apart in the list
    assert models.get("local/text-stats").name == original.name

    await upload_json(user, "edited.json", edited)
    by_testid(user, "import-replace").click()
    await settle()
    assert models.get("local/text-stats").name == "Text stats (edited)"
    assert len(models.backups.list("local/text-stats")) == 1

    by_testid(user, "models-table").trigger("rowClick", [{}, {"id": "local/text-stats"}, 0])
    await settle()
    by_testid(user, "model-backups").click()
    await settle()
    name = models.backups.list("local/text-stats")[0].stem
    by_testid(user, f"restore-{name}").click()
    await settle()
    assert models.get("local/text-stats").name == original.name
    await user.should_see("Restored local/text-stats")
