"""Registry: CRUD, search filters, corrupt files, prototype import, secrets never on disk."""

import json
import os

import pytest

from studio.errors import UserError

from studio.core import Studio
from studio.errors import CorruptFile, NotFound, UserError
from studio.registry import ModelQuery
from studio.registry.pipelines import export_pipeline
from studio.registry.samples import sample_models, sample_pipelines
from studio.spec import HealthStatus, HttpCall, ModelSpec

PROTOTYPE = {
    "name": "GPT-4 Turbo", "description": "Advanced language model for complex reasoning",
    "endpoint": "https://api.openai.com/v1/chat/completions", "modelType": "llm", "owner": "OpenAI",
    "latency": 2000, "costPerToken": 0.00003, "securityPolicy": "public",
    "inputSchema": {"type": "object", "properties": {"messages": {"type": "array", "items": {"type": "object",
        "properties": {"role": {"type": "string"}, "content": {"type": "string"}}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2}}, "required": ["messages"]},
    "outputSchema": {"type": "object", "properties": {"choices": {"type": "array", "items": {"type": "object",
        "properties": {"message": {"type": "object", "properties": {"content": {"type": "string"}}}}}}}},
    "tags": ["openai", "gpt-4", "language-model"], "apiKey": "sk-your-api-key-here",
}


@pytest.fixture
def studio(iom_home, memory_keyring):
    return Studio(iom_home)


def test_first_start_seeds_the_samples_and_reset_restores_them(studio):
    ids = {s.id for s in studio.models.all()}
    assert {"openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash",
            "ollama/llama3.2", "huggingface/all-minilm-l6-v2"} <= ids
    assert {p.id for p in studio.pipelines.all()} >= {"content-enhancement", "multi-language-translation",
                                                      "multi-modal-analysis", "data-processing-chain"}
    studio.models.delete("openai/gpt-4o-mini")
    Studio(studio.home)  # a second start does not seed again
    assert studio.models.find("openai/gpt-4o-mini") is None
    studio.reset_to_samples()
    assert studio.models.find("openai/gpt-4o-mini") is not None


def test_create_read_update_delete(studio):
    spec = ModelSpec(id="acme/echo", name="Echo", provider="http", api="http", endpoint="http://127.0.0.1:1/echo")
    studio.models.save(spec, create=True)
    with pytest.raises(UserError, match="exists already"):
        studio.models.save(spec, create=True)
    got = studio.models.get("acme/echo")
    assert got.name == "Echo"
    studio.models.save(got.model_copy(update={"name": "Echo 2"}), create=False)
    again = studio.models.get("acme/echo")
    assert again.name == "Echo 2" and again.created == got.created and again.updated >= got.updated
    studio.models.delete("acme/echo")
    with pytest.raises(NotFound, match="no model 'acme/echo'"):
        studio.models.get("acme/echo")
    with pytest.raises(NotFound):
        studio.models.delete("acme/echo")


def test_an_edit_that_changes_how_a_model_is_called_drops_its_old_health(studio):
    """"unreachable" with the old endpoint's error stayed on the model after the endpoint was mended."""
    from studio.spec.model import HealthStatus

    spec = studio.models.save(ModelSpec(id="acme/echo", name="Echo", provider="http", api="http",
                                        endpoint="http://127.0.0.1:9/echo"), create=True)
    studio.models.set_health("acme/echo", HealthStatus(state="unreachable", detail="UnsupportedProtocol"))
    studio.models.save(spec.model_copy(update={"name": "Echo 2"}), create=False)  # the same call: health kept
    assert studio.models.health("acme/echo").state == "unreachable"
    studio.models.save(spec.model_copy(update={"endpoint": "http://127.0.0.1:1/echo"}), create=False)  # mended
    assert studio.models.health("acme/echo").state == "unknown"


def test_health_saved_by_several_processes_at_once_keeps_every_entry(iom_home):
    """health.json is read, changed and written whole; the web app's checks and `iom models check`
    in other processes each wrote back what they had read, losing the entries saved meanwhile
    (1 of 6 parallel checks in 1 of 3 rounds). Now a file lock makes each save one step."""
    import subprocess
    import sys
    from pathlib import Path

    script = """
import sys, time
from pathlib import Path
from studio.registry.models import ModelRegistry
from studio.spec import HealthStatus
home, who, go = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
reg = ModelRegistry(home, None)
time.sleep(max(0.0, go - time.time()))  # all start writing together
for i in range(25):
    reg.set_health(f"p{who}/m{i}", HealthStatus(state="ok"))
"""
    import time

    go = time.time() + 2.5  # past every process's imports
    procs = [subprocess.Popen([sys.executable, "-c", script, str(iom_home), str(n), str(go)],
                              cwd=Path(__file__).resolve().parents[2]) for n in range(6)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    saved = json.loads((iom_home / "health.json").read_text("utf-8"))
    missing = {f"p{n}/m{i}" for n in range(6) for i in range(25)} - set(saved)
    assert not missing, f"{len(missing)} of 150 entries lost"


def test_search_filters(studio):
    def ids(**kw):
        return {s.id for s in studio.models.search(ModelQuery(**kw))}

    assert ids(text="embedding small") == {"openai/text-embedding-3-small"}
    assert ids(capability="embed") == {"openai/text-embedding-3-small", "huggingface/all-minilm-l6-v2", "ollama/nomic-embed-text"}
    assert ids(model_type="vision") == {"google/gemini-2.5-flash"}
    assert ids(provider="anthropic") == {"anthropic/claude-haiku-4-5"}
    assert ids(tag="local", capability="chat") == {"ollama/llama3.2"}
    assert ids(policy="private", model_type="embedding") == {"ollama/nomic-embed-text"}
    cheap = ids(max_price_per_mtok=1.0, capability="chat")
    assert "openai/gpt-4o-mini" in cheap and "anthropic/claude-haiku-4-5" not in cheap
    assert "huggingface/llama-3.1-8b-instruct" not in cheap  # unpriced is not "cheap"
    assert ids(max_latency_ms=500, capability="embed") == {"openai/text-embedding-3-small", "huggingface/all-minilm-l6-v2", "ollama/nomic-embed-text"}
    studio.models.set_health("openai/gpt-4o-mini", HealthStatus(state="ok", latency_ms=12))
    assert ids(health="ok") == {"openai/gpt-4o-mini"}



def test_a_per_call_price_is_never_free_and_never_under_a_price_per_token(studio):
    """A model with free tokens but $0.50 per call was listed as "free" and passed a maximum
    price of 0, though every call cost $0.50."""
    from studio.registry.search import price_label

    def spec(mid, **prices):
        return studio.models.save(ModelSpec(id=mid, name=mid, provider="http", api="http", capabilities=["pc"],
                                            endpoint="http://127.0.0.1:1/x", prices=prices), create=True)

    fee = spec("t/fee", input_per_token=0, output_per_token=0, per_call=0.5)
    both = spec("t/both", input_per_token=1e-7, output_per_token=2e-7, per_call=0.01)
    tokens = spec("t/tokens", input_per_token=1e-7, output_per_token=2e-7, per_call=0)
    spec("t/free", input_per_token=0, output_per_token=0)
    assert price_label(fee) == "$0.5/call"
    assert price_label(both) == "$0.1 / $0.2 per Mtok + $0.01/call" and price_label(tokens) == "$0.1 / $0.2 per Mtok"
    for limit, expected in ((0, {"t/free"}), (1.0, {"t/free", "t/tokens"})):
        assert {s.id for s in studio.models.search(ModelQuery(capability="pc", max_price_per_mtok=limit))} == expected


def test_an_embedding_priced_by_its_input_alone_is_shown_and_ranked_priced(studio):
    """An embedding has no output tokens; with `inputPerToken` alone it was listed as unpriced."""
    from studio.registry.search import price_label, price_per_mtok

    embed = ModelSpec(id="t/embed", name="e", provider="http", api="http", model_type="embedding",
                      endpoint="http://127.0.0.1:1/x", prices={"input_per_token": 2e-8})
    chat = embed.model_copy(update={"model_type": "llm"})
    assert price_label(embed) == "$0.02 per Mtok in" and price_per_mtok(embed) == pytest.approx(0.02)
    assert price_label(chat) == "unpriced" and price_per_mtok(chat) is None


def test_a_corrupt_file_is_named_and_everything_else_keeps_working(studio):
    broken = studio.home / "models" / "acme" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"id": "acme/broken", "name": ')
    bad_shape = studio.home / "models" / "acme" / "shape.json"
    bad_shape.write_text(json.dumps({"id": "acme/shape", "name": "S", "provider": "nobody", "api": "http", "endpoint": "x"}))
    before = len(studio.models.all())
    problems = {p.path.name: str(p) for p in studio.models.problems()}
    assert set(problems) == {"broken.json", "shape.json"}
    assert "invalid JSON at line 1" in problems["broken.json"] and str(broken) in problems["broken.json"]
    assert "provider" in problems["shape.json"]
    assert before == len(sample_models())
    with pytest.raises(CorruptFile, match="broken.json could not be read"):
        studio.models.get("acme/broken")
    assert studio.models.get("openai/gpt-4o-mini").id == "openai/gpt-4o-mini"
    (studio.home / "pipelines" / "bad.json").write_text("[]")
    assert [p.path.name for p in studio.pipelines.problems()] == ["bad.json"]
    assert len(studio.pipelines.all()) == len(sample_pipelines())


def test_prototype_entry_imports_as_is_with_its_key_in_the_keyring(studio, memory_keyring):
    report = studio.models.import_doc(PROTOTYPE)
    assert report.added == ["openai/gpt-4-turbo"] and report.keys_stored == ["OPENAI_API_KEY"]
    spec = studio.models.get("openai/gpt-4-turbo")
    assert (spec.provider, spec.api, spec.model_type, spec.latency_ms) == ("openai", "openai-chat", "llm", 2000)
    assert spec.prices.input_per_token == spec.prices.output_per_token == 0.00003
    assert spec.incomplete and any("no provider model name" in w for w in report.warnings)
    assert memory_keyring.store[("iom-studio", "OPENAI_API_KEY")] == "sk-your-api-key-here"
    with_model = dict(PROTOTYPE, model="gpt-4-turbo", name="GPT-4 Turbo (named)")
    with pytest.raises(UserError, match="exists already; nothing was imported. Run again with --replace"):
        studio.models.import_doc(with_model)  # never a silent replace
    assert studio.models.get("openai/gpt-4-turbo").incomplete
    report = studio.models.import_doc(with_model, replace=True)
    assert report.updated == ["openai/gpt-4-turbo"] and len(report.backups) == 1
    assert not studio.models.get("openai/gpt-4-turbo").incomplete
    restored, _ = studio.models.restore("openai/gpt-4-turbo")  # the old version comes back
    assert restored.incomplete and len(studio.models.backups.list("openai/gpt-4-turbo")) == 2


def test_a_file_of_several_whose_ids_exist_is_refused_with_the_way_out_that_fits(studio):
    """--rename takes one entry: a file of several was told to use it all the same."""
    doc = studio.models.export_doc(["local/sentiment-vader", "local/keywords-yake"])
    doc["models"].append(dict(doc["models"][0], id="local/sentiment-copy"))
    with pytest.raises(UserError) as err:
        studio.models.import_doc(doc)
    assert str(err.value) == (
        "2 of the file's 3 models exist already ('local/sentiment-vader' the first); nothing was imported. Run again "
        "with --replace to replace them (the old versions are kept as backups), or leave them out of the file.")
    assert studio.models.find("local/sentiment-copy") is None
    path = studio.home / "several.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=f"^{path}: 2 of the file's 3 models exist already"):  # named, as a pipeline's are
        studio.models.import_file(path)


@pytest.mark.parametrize(
    ("endpoint", "model_type", "provider", "api"),
    [
        ("https://api.anthropic.com/v1/messages", "llm", "anthropic", "anthropic-messages"),
        ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent", "llm", "google", "gemini"),
        ("https://router.huggingface.co/v1/chat/completions", "llm", "huggingface", "openai-chat"),
        ("https://api-inference.huggingface.co/models/x/y", "embedding", "huggingface", "hf-feature-extraction"),
        ("http://localhost:11434/api/chat", "llm", "ollama", "ollama-chat"),
        ("http://localhost:11434/api/embed", "embedding", "ollama", "ollama-embed"),
        ("https://api.openai.com/v1/embeddings", "embedding", "openai", "openai-embeddings"),
        ("https://example.com/predict", "custom", "http", "http"),
    ],
)
def test_provider_and_wire_format_are_inferred_from_the_endpoint(studio, endpoint, model_type, provider, api):
    doc = {k: v for k, v in PROTOTYPE.items() if k != "apiKey"}
    report = studio.models.import_doc(dict(doc, endpoint=endpoint, modelType=model_type, name=f"m {api}"))
    spec = studio.models.get(report.added[0])
    assert (spec.provider, spec.api) == (provider, api)


def test_an_invalid_entry_in_an_import_saves_nothing(studio):
    good = {k: v for k, v in PROTOTYPE.items() if k != "apiKey"}
    bad = dict(good, name="Bad", inputSchema={"type": 12})
    with pytest.raises(UserError, match="model 'Bad' is not valid: .*Nothing was imported"):
        studio.models.import_doc([good, bad])
    assert studio.models.find("openai/gpt-4-turbo") is None


def test_an_import_with_a_price_too_large_saves_nothing(studio):
    good = {k: v for k, v in PROTOTYPE.items() if k != "apiKey"}
    typo = {**studio.models.get("openai/gpt-4o-mini").to_json_dict(), "id": "acme/typo", "name": "Typo",
            "prices": {"inputPerToken": 1e6, "outputPerToken": 6e-7}}
    with pytest.raises(UserError, match="model 'acme/typo' is not valid: prices.inputPerToken: this price is too "
                                        "large: at most 10,000 USD per million tokens.*Nothing was imported"):
        studio.models.import_doc([good, typo])
    assert studio.models.find("acme/typo") is None and studio.models.find("openai/gpt-4-turbo") is None


def test_no_secret_reaches_any_file_or_export(studio):
    planted = "sk-planted-" + "Zq9" * 10
    studio.models.import_doc(dict(PROTOTYPE, apiKey=planted, model="gpt-4-turbo"))
    studio.keys.set("ANTHROPIC_API_KEY", "sk-ant-planted-secret-value-123456")
    exports = [json.dumps(studio.models.export_doc())]
    from studio.registry import export_pipeline

    exports += [json.dumps(export_pipeline(p)) for p in studio.pipelines.all()]
    for text in exports:
        assert planted not in text and "sk-ant-planted" not in text
    for path in studio.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert planted.encode() not in data and b"sk-ant-planted" not in data, path


def test_imported_keys_of_one_provider_never_replace_one_another(studio, memory_keyring):
    """Every prototype model of a provider stored its apiKey as that provider's one name, so the
    last one silently replaced the others (and the key stored before): models called with
    another account's key."""
    studio.keys.set("OPENAI_API_KEY", "sk-stored-before-0000")
    doc = [dict(PROTOTYPE, name="My GPT", model="gpt-4o", apiKey="sk-mine-1111"),
           dict(PROTOTYPE, name="Team GPT", model="gpt-4o-team", apiKey="sk-team-2222"),
           dict(PROTOTYPE, name="Same GPT", model="gpt-4.1", apiKey="sk-team-2222")]
    report = studio.models.import_doc(doc)
    stored = {name: v for (service, name), v in memory_keyring.store.items() if service == "iom-studio"}
    assert stored["OPENAI_API_KEY"] == "sk-stored-before-0000"
    keys = {m: studio.keys.get(studio.models.get(m).key_ref)
            for m in ("openai/gpt-4o", "openai/gpt-4o-team", "openai/gpt-4.1")}
    assert keys == {"openai/gpt-4o": "sk-mine-1111", "openai/gpt-4o-team": "sk-team-2222",
                    "openai/gpt-4.1": "sk-team-2222"}
    assert studio.models.get("openai/gpt-4o").key_ref == "MODEL_OPENAI_GPT_4O_KEY"
    assert ("the apiKey of openai/gpt-4o is stored as MODEL_OPENAI_GPT_4O_KEY: OPENAI_API_KEY holds another key, "
            "which stays as it was") in report.warnings
    # an HTTP API's key is stored, and the import says no header sends it yet
    http = studio.models.import_doc([dict(PROTOTYPE, name="My API", endpoint="https://api.example.com/run", apiKey="k-3333")])
    assert any("sends its key MY_API_KEY in no header yet" in w for w in http.warnings), http.warnings
    # a key the provider's name already holds is not stored twice
    again = studio.models.import_doc([dict(PROTOTYPE, name="Old GPT", model="gpt-4", apiKey="sk-stored-before-0000")])
    assert again.keys_stored == ["OPENAI_API_KEY"] and studio.models.get("openai/gpt-4").key_ref == "OPENAI_API_KEY"


def test_a_key_typed_into_a_spec_is_refused_and_nothing_is_saved(studio):
    studio.keys.set("ACME_KEY", "acme-secret-value-42")
    spec = ModelSpec(id="acme/leaky", name="Leaky", provider="http", api="http", endpoint="http://127.0.0.1:1/x",
                     http={"headers": {"Authorization": "Bearer acme-secret-value-42"}})
    with pytest.raises(UserError, match="looks like an API key in 'http.headers.Authorization'.*Nothing was saved"):
        studio.models.save(spec)
    assert studio.models.find("acme/leaky") is None
    ok = spec.model_copy(update={"http": HttpCall(headers={"Authorization": "Bearer {{key}}"})})
    studio.models.save(ok)
    assert studio.models.get("acme/leaky").http.headers["Authorization"] == "Bearer {{key}}"


def test_reset_and_remove_everything_else_removes_unreadable_files_too(studio):
    """A broken registry is what "remove everything else" is for: it left the files it could
    not read, and said the registry was the samples."""
    (studio.home / "models" / "acme").mkdir(parents=True, exist_ok=True)
    (studio.home / "models" / "acme" / "broken.json").write_text("{not json")
    (studio.home / "pipelines" / "broken.json").write_text('{"format": "iom.pipeline", "nodes": 5}')
    assert studio.models.problems() and studio.pipelines.problems()
    studio.reset_to_samples(purge=True)
    assert studio.models.problems() == [] and studio.pipelines.problems() == []
    assert {s.id for s in studio.models.all()} == {s.id for s in sample_models()}


def test_export_then_import_round_trips(studio, tmp_path):
    doc = studio.models.export_doc()
    out = tmp_path / "models.json"
    out.write_text(json.dumps(doc))
    studio.reset_to_samples(purge=True)
    for spec in studio.models.all():
        studio.models.delete(spec.id)
    assert studio.models.all() == []
    report = studio.models.import_file(out)
    assert len(report.added) == len(sample_models())
    assert [s.to_json_dict() | {"updated": None} for s in studio.models.all()] == [
        m | {"updated": None} for m in doc["models"]
    ]


def test_a_save_over_a_version_changed_or_deleted_elsewhere_is_refused_and_says_so(studio):
    """A page saves only over the version it read: the CLI's import (or another tab) between
    the read and the save was silently undone, with no backup of it."""
    from studio.errors import ChangedElsewhere

    version = studio.pipelines.version("review-triage")
    mine = studio.pipelines.get("review-triage").model_copy(update={"name": "Mine"})
    theirs = mine.model_copy(update={"name": "Theirs", "description": "from the command line"})
    studio.pipelines.import_doc(theirs.to_json_dict(), replace=True)
    with pytest.raises(ChangedElsewhere, match="'review-triage' was changed elsewhere") as e:
        studio.pipelines.save(mine, expected=version)
    assert not e.value.deleted and studio.pipelines.get("review-triage").name == "Theirs"
    # saved over on purpose: theirs is kept as a backup, and the save gives the new version
    new_version = studio.pipelines.save(mine, keep_replaced=True)
    assert new_version == studio.pipelines.version("review-triage")
    kept = json.loads(studio.pipelines.backups_of("review-triage")[0].read_text())
    assert kept["name"] == "Theirs"
    assert studio.pipelines.save(mine.model_copy(update={"name": "Mine 2"}), expected=new_version)
    studio.pipelines.delete("review-triage")
    with pytest.raises(ChangedElsewhere, match="was deleted elsewhere") as e:
        studio.pipelines.save(mine, expected=new_version)
    assert e.value.deleted and not studio.pipelines.exists("review-triage")


def test_a_model_edit_over_a_changed_file_is_refused_and_creating_an_id_twice_is_refused(studio):
    from studio.errors import ChangedElsewhere

    spec = studio.models.get("openai/gpt-4o-mini")
    version = studio.models.version(spec.id)
    studio.models.save(spec.model_copy(update={"description": "from the command line"}))
    with pytest.raises(ChangedElsewhere):
        studio.models.save(spec.model_copy(update={"name": "Mine"}), create=False, expected=version)
    assert studio.models.get(spec.id).description == "from the command line"
    with pytest.raises(UserError, match="exists already"):
        studio.models.save(spec, create=True)
    studio.models.save(spec.model_copy(update={"name": "Mine"}), create=False, keep_replaced=True)
    assert json.loads(studio.models.backups.list(spec.id)[0].read_text())["description"] == "from the command line"



def _pipeline_with(node_fields: dict, edge_fields: dict | None = None):
    from studio.spec.migrations import load_pipeline

    return load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "leaky", "name": "Leaky",
        "nodes": [{"id": "in", "kind": "input"}, {"id": "b", "kind": "model", "model": "fake/a", **node_fields}],
        "edges": [{"id": "e1", "source": "in", "target": "b", **(edge_fields or {})}],
    })


@pytest.mark.parametrize("fields, where", [
    ({"params": {"api_key": "abcd1234efgh5678ijkl"}}, "node 'b', field 'params.api_key'"),
    ({"params": {"headers": {"Authorization": "Token abcd1234efgh"}}}, "node 'b', field 'params.headers.Authorization'"),
    ({"params": {"extra_headers": {"X-Api-Key": "abcd1234efgh"}}}, "node 'b', field 'params.extra_headers.X-Api-Key'"),
    ({"policy": {"onError": "default", "default": {"password": "hunter2hunter2"}}},
     "node 'b', field 'policy.default.password'"),
    ({"params": {"base_url": "https://admin:hunter2pass@example.com/v1"}}, "node 'b', field 'params.base_url'"),
    ({"prompt": "use ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 {{ text }}"}, "node 'b', field 'prompt'"),
    ({"system": "aws AKIA" + "ABCDEFGHIJKLMNOP"}, "node 'b', field 'system'"),
    ({"prompt": "gsk_" + "abcdefghijklmnopqrstuvwx1234"}, "node 'b', field 'prompt'"),
    ({"prompt": "github_pat_" + "11ABCDEFG0123456789_abcdefghij"}, "node 'b', field 'prompt'"),
    ({"prompt": "xoxb-" + "1234567890-abcdefghij"}, "node 'b', field 'prompt'"),
    ({"prompt": "glpat-" + "abcdefghij0123456789"}, "node 'b', field 'prompt'"),
])
def test_a_secret_anywhere_in_a_pipeline_is_refused_naming_the_node_and_field(fields, where):
    """What the audit trail's redaction masks never leaves in an export, and no masked copy is
    written instead: secret-named fields, URL passwords and the well-known token shapes."""
    from studio.registry.pipelines import export_pipeline
    from studio.secrets import redact_data

    pipeline = _pipeline_with(fields)
    assert redact_data(pipeline.model_dump(mode="json", by_alias=True)) != pipeline.model_dump(mode="json", by_alias=True)
    with pytest.raises(UserError, match=f"^pipeline leaky holds what looks like an API key in {where}; .*Nothing was "
                                        "written.$"):
        export_pipeline(pipeline, undone="Nothing was written.")


def test_a_secret_in_an_edge_template_is_refused_and_what_only_names_a_key_passes(studio):
    from studio.registry.pipelines import export_pipeline

    with pytest.raises(UserError, match="in edge 'e1', field 'template'"):
        export_pipeline(_pipeline_with({}, {"template": "sk-" + "abcdefghijklmnop1234 {{ value }}"}))
    # a field *about* a password (an input's schema) and a placeholder are not secrets
    ok = _pipeline_with({"inputSchema": {"type": "object", "properties": {"password": {"type": "string"}}},
                         "params": {"headers": {"Authorization": "Bearer {{key}}"}, "api_key": ""}})
    studio.pipelines.save(ok)
    for p in studio.pipelines.all():  # the samples too
        export_pipeline(p)


def test_the_value_of_a_stored_key_is_refused_by_an_export_from_a_process_that_never_read_it(studio, monkeypatch):
    """`iom pipelines export` runs in a process that made no call: the stored keys (and those a
    model names from the environment) are read first, so their values are known."""
    import keyring

    from studio.secrets.store import SERVICE

    studio.models.save(ModelSpec(id="acme/env", name="Env", provider="http", api="http",  # (a save reads its keys)
                                 endpoint="http://127.0.0.1:1/x", key_ref="ACME_ENV_API_KEY"))
    keyring.set_password(SERVICE, "FAKE_API_KEY", "myKeyValue-9f8e7d6c5b4a")  # as another process stored it
    studio.keys._save_names(["FAKE_API_KEY"])
    monkeypatch.setenv("ACME_ENV_API_KEY", "envValue-1a2b3c4d5e6f")
    values = {"sec-keyring": "myKeyValue-9f8e7d6c5b4a", "sec-env": "envValue-1a2b3c4d5e6f"}
    for ident, value in values.items():
        pipeline = _pipeline_with({"prompt": f"key {value} {{{{ text }}}}"}).model_copy(update={"id": ident})
        studio.pipelines.save(pipeline)  # this process has not read the keys: the save cannot know them
    for ident in values:
        with pytest.raises(UserError, match=f"^pipeline {ident} holds what looks like an API key in node 'b', field "
                                            "'prompt'.*Nothing was written.$"):
            studio.share_pipeline(studio.pipelines.get(ident))


async def test_default_params_a_call_would_refuse_are_refused_when_saved_and_named_at_call_time(studio):
    """A built-in model saved with {"wordsPerMinute": 1} was added and checked "ok", and every
    call then failed blaming "the input", which the user never gave. Now add, import and save
    refuse it in one sentence naming the model and the param (nothing saved lost), and a file
    written before (or by hand) is reported by its check and its call as its default param."""
    from studio.spec.calls import CallRequest
    from studio.providers.errors import ProviderError

    good = studio.models.get("local/text-stats").to_json_dict()
    bad = {**good, "id": "local/tstats3", "defaultParams": {"wordsPerMinute": 1}}
    sentence = "model 'local/tstats3': its default param 'wordsPerMinute' must be a number from 20 to 2000, not 1"
    with pytest.raises(UserError, match=f"^the file: {sentence}; fix its defaultParams, then import again "
                                        r"\(nothing was imported\)\.$"):
        studio.models.import_doc(bad)
    assert studio.models.find("local/tstats3") is None
    studio.models.import_doc({**good, "id": "local/tstats3"})  # a good one saved first
    with pytest.raises(UserError, match=f"^the file: {sentence}"):
        studio.models.import_doc(bad, replace=True)
    with pytest.raises(UserError, match=f"^{sentence}; fix defaultParams, then save again"):
        studio.models.save(ModelSpec.model_validate(bad), create=False)
    assert studio.models.get("local/tstats3").default_params == good["defaultParams"]  # nothing saved lost

    (studio.home / "models" / "local" / "tstats3.json").write_text(json.dumps(bad))  # saved before, or by hand
    spec = studio.models.get("local/tstats3")
    health = await studio.providers.check(spec)
    assert health.state == "error" and "default param 'wordsPerMinute'" in health.detail
    with pytest.raises(ProviderError) as e:
        await studio.providers.call(spec, CallRequest(model_id=spec.id, input={"text": "one two three four"}))
    assert str(e.value).startswith("local/tstats3: the model's saved defaultParams do not fit it — default param "
                                   "'wordsPerMinute' must be a number from 20 to 2000, not 1; fix defaultParams")
    assert "the input" not in str(e.value)
    done = await studio.providers.call(spec, CallRequest(model_id=spec.id, input={"text": "one two three four"},
                                                         params={"wordsPerMinute": 200}))  # the caller's own value
    assert done.output["words"] == 4


def test_setting_or_deleting_a_key_drops_the_health_of_the_models_using_it(studio):
    """'key_missing' (or 'auth_failed' with a wrong key) stayed stored after 'iom keys set' or the
    Settings form put the key right, and capability nodes kept refusing the model until the next check."""
    uses = studio.models.save(ModelSpec(id="acme/uses", name="Uses", provider="http", api="http",
                                        endpoint="http://127.0.0.1:1/x", key_ref="ACME_KEY"))
    other = studio.models.save(ModelSpec(id="acme/other", name="Other", provider="http", api="http",
                                         endpoint="http://127.0.0.1:1/y", key_ref="OTHER_KEY"))
    studio.models.set_health(uses.id, HealthStatus(state="key_missing", detail="key ACME_KEY is not set"))
    studio.models.set_health(other.id, HealthStatus(state="auth_failed"))
    assert studio.set_key("ACME_KEY", "acme-value-0123456789") == ["acme/uses"]
    assert studio.models.health("acme/uses").state == "unknown"
    assert studio.models.health("acme/other").state == "auth_failed"  # another key: its health stays
    studio.models.set_health(uses.id, HealthStatus(state="ok"))
    assert studio.delete_key("ACME_KEY") == ["acme/uses"]
    assert studio.models.health("acme/uses").state == "unknown"
    # an import that stores a model's key does the same
    studio.models.set_health("acme/other", HealthStatus(state="auth_failed"))
    studio.models.import_doc([dict(PROTOTYPE, name="Other", endpoint="https://api.example.com/run",
                                   apiKey="k-other-445566")])
    assert {s.key_ref for s in studio.models.all() if s.name == "Other"} == {"OTHER_KEY"}
    assert studio.models.health("acme/other").state == "unknown"


def test_an_export_naming_a_model_twice_holds_it_once_and_imports_again(studio, tmp_path):
    doc = studio.models.export_doc(["local/sentiment-vader", "local/sentiment-vader", "local/keywords-yake"])
    assert [m["id"] for m in doc["models"]] == ["local/sentiment-vader", "local/keywords-yake"]
    studio.models.delete("local/sentiment-vader")
    studio.models.delete("local/keywords-yake")
    assert studio.models.import_doc(doc).added == ["local/sentiment-vader", "local/keywords-yake"]


def test_a_renamed_import_onto_an_existing_id_says_to_pick_another_id_not_replace(studio):
    """'Run again with --replace' cannot go with --rename, and alone it replaced the file's own id."""
    doc = studio.models.export_doc(["local/sentiment-vader"])
    studio.models.import_doc(doc, rename="local/vader-2")
    with pytest.raises(UserError) as e:
        studio.models.import_doc(doc, rename="local/vader-2")
    assert str(e.value) == ("a model with id 'local/vader-2' exists already; nothing was imported. Run again with "
                            "another NEW_ID for --rename, or remove the model 'local/vader-2' first ('iom models "
                            "remove local/vader-2') if it is the one to replace.")
    flow = export_pipeline(studio.pipelines.all()[0])
    studio.pipelines.import_doc(flow, rename="flow-2")
    with pytest.raises(UserError, match=r"^a pipeline with id 'flow-2' exists already; nothing was imported. Run again "
                                        r"with another NEW_ID for --rename, or delete the pipeline 'flow-2' first "
                                        r"\('iom pipelines delete flow-2'\)"):
        studio.pipelines.import_doc(flow, rename="flow-2")


def test_a_stored_keys_value_in_a_model_is_refused_by_save_import_and_export(studio, tmp_path):
    """A key's value pasted into defaultParams was saved, shown and exported: only the pipeline
    export read the stored keys first, so a process that had made no call did not know it."""
    import keyring

    from studio.secrets.store import SERVICE

    value = "svcValue-7e6d5c4b3a29-model"
    keyring.set_password(SERVICE, "SVC_TEST_KEY", value)  # as another process (`iom keys set`) stored it
    studio.keys._save_names(["SVC_TEST_KEY"])
    leaky = ModelSpec(id="acme/leaky", name="Leaky", provider="http", api="http", endpoint="http://127.0.0.1:1/x",
                      default_params={"metadata": {"note": value}})
    with pytest.raises(UserError, match=r"^model acme/leaky holds what looks like an API key in "
                                        r"'defaultParams.metadata.note'.*Nothing was saved.$"):
        studio.models.save(leaky)
    with pytest.raises(UserError, match="looks like an API key in 'defaultParams.metadata.note'"):
        studio.models.import_doc(leaky.to_json_dict())
    assert studio.models.find("acme/leaky") is None
    for path in studio.home.rglob("*.json"):
        assert value not in path.read_text(errors="replace"), path


def test_a_stored_keys_value_in_a_saved_model_file_is_never_exported(iom_home, memory_keyring):
    """A file saved before (or by hand) holding a key's value: the export (and `show`, which
    goes through it) is refused in a process that has not read the key."""
    import subprocess
    import sys

    (iom_home / "models" / "acme").mkdir(parents=True)
    value = "svcValue-0f1e2d3c4b5a-file"
    (iom_home / "models" / "acme" / "old.json").write_text(json.dumps(
        {"id": "acme/old", "name": "Old", "provider": "http", "api": "http", "endpoint": "http://127.0.0.1:1/x",
         "keyRef": "OLD_SVC_KEY", "defaultParams": {"user": value}}))
    code = (f"import keyring, sys\nfrom tests.helpers.memory_keyring import MemoryKeyring\n"
            f"k = MemoryKeyring(); k.set_password('iom-studio', 'OLD_SVC_KEY', {value!r}); keyring.set_keyring(k)\n"
            "from studio.core import Studio\nfrom studio.errors import UserError\ns = Studio()\n"
            "for ids in (['acme/old'], None):\n"
            "    try:\n        print(s.models.export_doc(ids))\n    except UserError as e:\n        print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, IOM_HOME=str(iom_home)))
    assert r.returncode == 0, r.stderr
    assert value not in r.stdout
    assert r.stdout.splitlines() == [
        "refused: model acme/old holds what looks like an API key in 'models[0].defaultParams.user'; store the key with "
        "'iom keys set NAME' (or in Settings) and refer to it by name (keyRef, or {{key}} in a header) instead. "
        "Nothing was written.",
        "refused: the export holds what looks like an API key in 'models[0].defaultParams.user'; store the key with "
        "'iom keys set NAME' (or in Settings) and refer to it by name (keyRef, or {{key}} in a header) instead. "
        "Nothing was written."]


def test_a_reset_keeps_what_it_overwrites_and_removes_as_backups(studio):
    """'iom models reset' overwrote a changed sample with no backup, and --purge removed every
    other model and pipeline for good."""
    edited = studio.models.get("openai/gpt-4o-mini").model_copy(update={"description": "mine"})
    studio.models.save(edited)
    studio.models.save(ModelSpec(id="acme/mine", name="Mine", provider="http", api="http", endpoint="http://127.0.0.1:1/x"))
    flow = studio.pipelines.all()[0]
    studio.pipelines.save(flow.model_copy(update={"name": "my version"}))
    report = studio.reset_to_samples()
    assert report.overwritten == ["model openai/gpt-4o-mini", f"pipeline {flow.id}"]
    assert "Each was kept as a backup" in report.note() and "'iom models restore ID'" in report.note()
    assert studio.models.get("openai/gpt-4o-mini").description != "mine"
    studio.models.restore("openai/gpt-4o-mini")
    assert studio.models.get("openai/gpt-4o-mini").description == "mine"
    studio.pipelines.restore(flow.id)
    assert studio.pipelines.get(flow.id).name == "my version"
    assert studio.reset_to_samples(purge=False).note().startswith("overwritten")  # the restored edit again
    assert studio.reset_to_samples().note() == ""  # unchanged samples: no backup made, nothing said

    report = studio.reset_to_samples(purge=True)
    assert report.removed == ["model acme/mine"] and studio.models.find("acme/mine") is None
    studio.models.restore("acme/mine")
    assert studio.models.get("acme/mine").name == "Mine"
    # a purge keeps a changed sample too
    studio.models.save(studio.models.get("openai/gpt-4o-mini").model_copy(update={"description": "mine again"}))
    assert studio.reset_to_samples(purge=True).overwritten == ["model openai/gpt-4o-mini"]
    studio.models.restore("openai/gpt-4o-mini")
    assert studio.models.get("openai/gpt-4o-mini").description == "mine again"
