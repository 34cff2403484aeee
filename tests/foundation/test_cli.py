"""The CLI through a subprocess: exit codes, one-line errors, JSON listings."""

import json
import os
import subprocess
import sys

import pytest

from studio.registry.samples import sample_models
from tests.foundation.test_registry import PROTOTYPE


@pytest.fixture
def iom(iom_home):
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    def run(*args, input=None):
        return subprocess.run([sys.executable, "-m", "studio", *args], env=env, capture_output=True, text=True, input=input)

    return run


def _one_line_error(r):
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_models_list_show_and_json(iom):
    r = iom("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    models = json.loads(r.stdout)
    assert len(models) == len(sample_models()) and all("health" in m for m in models)
    r = iom("models", "list", "--capability", "embed", "--provider", "openai")
    assert r.returncode == 0 and "openai/text-embedding-3-small" in r.stdout and "gpt-4o-mini" not in r.stdout
    r = iom("models", "show", "anthropic/claude-haiku-4-5", "--json")
    shown = json.loads(r.stdout)
    assert shown["keyRef"] == "ANTHROPIC_API_KEY" and shown["keyStatus"] == "missing"
    assert "unknown model" not in _one_line_error(iom("models", "show", "no/such"))


def test_add_remove_import_export(iom, tmp_path):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"id": "acme/echo", "name": "Echo", "provider": "http", "api": "http", "endpoint": "http://127.0.0.1:1/"}))
    assert iom("models", "add", str(f)).returncode == 0
    assert "exists already" in _one_line_error(iom("models", "add", str(f)))
    proto = tmp_path / "proto.json"
    proto.write_text(json.dumps(PROTOTYPE))
    r = iom("models", "import", str(proto))
    assert r.returncode == 0 and "openai/gpt-4-turbo" in r.stdout
    assert "was not stored (no keyring)" in r.stderr  # the fail backend: the key is dropped, never written
    out = tmp_path / "export.json"
    assert iom("models", "export", "-o", str(out)).returncode == 0
    exported = json.loads(out.read_text())
    assert {m["id"] for m in exported["models"]} >= {"acme/echo", "openai/gpt-4-turbo"}
    assert "sk-your-api-key-here" not in out.read_text()
    assert iom("models", "remove", "acme/echo").returncode == 0
    assert "no model 'acme/echo'" in _one_line_error(iom("models", "remove", "acme/echo"))


def test_user_errors_are_one_line_and_bad_usage_is_exit_2(iom, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "is not valid JSON (line 1, column 2" in _one_line_error(iom("models", "import", str(bad)))
    assert "does not exist" in _one_line_error(iom("pipelines", "import", str(tmp_path / "missing.json")))
    assert iom("models").returncode == 2
    assert iom("models", "frobnicate").returncode == 2
    assert iom("keys", "set", "OPENAI_API_KEY", "sk-on-the-command-line").returncode == 2
    assert "No OS keyring is available" in _one_line_error(iom("keys", "set", "OPENAI_API_KEY", input="v\n"))


def test_pipelines_list_show_validate_import_export(iom, tmp_path):
    listed = json.loads(iom("pipelines", "list", "--json").stdout)
    assert {p["id"] for p in listed} >= {"content-enhancement", "multi-language-translation"}
    shown = json.loads(iom("pipelines", "show", "content-enhancement").stdout)
    assert shown["format"] == "iom.pipeline" and shown["version"] == 1
    out = tmp_path / "p.json"
    assert iom("pipelines", "export", "content-enhancement", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == shown
    assert iom("pipelines", "validate", str(out)).returncode == 0
    broken = dict(shown, id="broken-flow")
    broken["nodes"] = shown["nodes"] + [{"id": "x", "kind": "model", "model": "nobody/none"}]
    out.write_text(json.dumps(broken))
    r = iom("pipelines", "validate", str(out), "--json")
    assert r.returncode == 1
    problems = json.loads(r.stdout)["problems"]
    assert any(p["where"] == "x" and "nobody/none" in p["message"] for p in problems)
    assert iom("pipelines", "import", str(out)).returncode == 0  # a missing model still loads
    assert "broken-flow" in iom("pipelines", "list").stdout
    future = dict(shown, version=99)
    out.write_text(json.dumps(future))
    assert "newer than this studio reads" in _one_line_error(iom("pipelines", "import", str(out)))


def test_a_provider_error_no_command_caught_is_one_line_not_a_traceback(capsys):
    """The CLI's last guard: a failed call that reached it (an LLM judge's missing key did)
    is its one redacted sentence and exit code 1."""
    from argparse import Namespace

    from studio.cli.common import run_command
    from studio.providers.errors import ErrorKind, ProviderError

    def handler(args):
        raise ProviderError(ErrorKind.KEY_MISSING, "key X_KEY is not set", model_id="t/m")
    assert run_command(Namespace(handler=handler)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: t/m: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("error, says", [
    (OSError(28, "No space left on device", "/home/iom/x.json"),
     "error: No space left on device (/home/iom/x.json); free space on that disk, then try again.\n"),
    (PermissionError(13, "Permission denied", "/home/iom"), "error: Permission denied (/home/iom); make it writable, then try again.\n"),
    (OSError(5, "Input/output error"), "error: Input/output error.\n"),
])
def test_a_system_error_no_command_caught_is_its_sentence_not_a_traceback(capsys, error, says):
    """The last net under every command: a full disk or a folder it may not write is the
    system's words, where, and what to do."""
    from argparse import Namespace

    from studio.cli.common import run_command

    def handler(args):
        raise error
    assert run_command(Namespace(handler=handler)) == 1
    assert capsys.readouterr().err == says


def test_a_bug_is_one_sentence_and_its_traceback_is_kept_redacted_for_the_report(capsys, iom_home, monkeypatch):
    """Never a traceback on the terminal, even for a failure the studio did not foresee: what
    failed, that it is a bug, and the file that holds the traceback (secrets masked)."""
    from argparse import Namespace

    from studio.cli.common import run_command

    monkeypatch.setenv("IOM_HOME", str(iom_home))
    monkeypatch.delenv("IOM_DEBUG", raising=False)
    key = "sk-proj-" + "A1b2C3d4" * 6

    def handler(args):
        raise KeyError(f"Authorization: Bearer {key}")
    assert run_command(Namespace(handler=handler)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and key not in err, err
    assert err.startswith("error: IoM Studio failed unexpectedly (KeyError: ") and "this is a bug, not your input" in err
    kept = list((iom_home / "logs").glob("error-*.txt"))
    assert len(kept) == 1 and str(kept[0]) in err
    text = kept[0].read_text("utf-8")
    assert "Traceback (most recent call last)" in text and "in handler" in text and key not in text

    monkeypatch.setenv("IOM_DEBUG", "1")  # a developer's run: the traceback itself
    with pytest.raises(KeyError):
        run_command(Namespace(handler=handler))


@pytest.mark.parametrize("args, says", [
    (("runs", "list", "--limit", "-1"), "argument --limit: '-1' is not a whole number from 1 to 1,000,000,000,000"),
    (("runs", "list", "--limit", "99999999999999999999999"), "is not a whole number from 1 to 1,000,000,000,000"),
    (("batch", "run", "review-triage", "--data", "x.csv", "--limit", "99999999999999999999999"),
     "is not a whole number from 1 to 1,000,000,000,000"),
    (("eval", "run", "--data", "x.csv", "-v", "review-triage", "-s", "sentiment:exact", "--concurrency", "0"),
     "argument --concurrency: '0' is not a whole number from 1 to 100000"),
    (("datasets", "show", "reviews", "--rows", "-1"), "argument --rows: '-1' is not a whole number from 0 to 1,000,000,000,000"),
    (("serve", "--port", "70000"), "argument --port: '70000' is not a whole number from 1 to 65535"),
    (("invoke", "local/text-stats", "-i", '{"text": "hi"}', "--timeout", "0"),
     "argument --timeout: '0' is not a number of seconds above 0"),
    (("models", "list", "--max-price", "-1"), "argument --max-price: '-1' is not a number, 0 or more"),
    (("models", "list", "--max-latency", "fast"), "argument --max-latency: 'fast' is not a whole number, 0 or more"),
])
def test_a_number_out_of_range_is_a_usage_line_not_a_traceback_or_nothing(iom, args, says):
    """A negative --limit reached DuckDB and a --port of 70000 socket.bind, as tracebacks; a
    negative --rows showed no row without a word; a timeout of 0 was taken as no timeout; a
    negative --max-price matched no model without saying why."""
    r = iom(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith(says)


def test_samples_that_cannot_be_written_are_one_warning_and_what_needs_no_write_works(iom, iom_home):
    (iom_home / "pipelines").write_text("a file where the pipelines' folder goes")
    r = iom("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert {m["id"] for m in json.loads(r.stdout)} >= {m.id for m in sample_models()}  # written before the refusal
    warning = r.stderr.strip().splitlines()
    assert len(warning) == 1 and "Traceback" not in r.stderr, r.stderr
    assert warning[0].startswith("iom: warning: the sample models and pipelines were not written (") \
        and str(iom_home / "pipelines") in warning[0] and warning[0].endswith("the next start tries again.")
    assert not (iom_home / ".seeded").exists()  # so a start that can write them does


@pytest.mark.parametrize("head, rows", [
    ({"id": "b1", "zeta": [1, 2], "done": 2, "naïve": "ü"}, [{"output": {"text": "two\nlines ü", "n": [1, None]}}, {"x": 1.5}]),
    ({"id": "b2"}, []),
    ({}, [1, "two", [3], {}]),
])
def test_rows_written_as_they_come_are_the_json_print_json_writes(capsys, head, rows):
    """`iom batch show --json` streams a batch's rows; a script reading it sees the same text."""
    from studio.cli.common import print_json, print_json_with_rows

    print_json({**head, "rowResults": rows})
    whole = capsys.readouterr().out
    print_json_with_rows(head, "rowResults", iter(rows))
    assert capsys.readouterr().out == whole


@pytest.mark.parametrize("items", [[], [{"index": 3, "a": {"fields": {"x": "ü\n"}}}, {"index": 4}], [1, [2, [3]], None]])
def test_a_list_written_as_it_comes_is_the_json_print_json_writes(capsys, items):
    """`iom eval compare --json` streams two variants' rows side by side: the same text."""
    from studio.cli.common import print_json, print_json_list

    print_json(items)
    whole = capsys.readouterr().out
    print_json_list(iter(items))
    assert capsys.readouterr().out == whole


def test_a_json_commands_stdout_holds_only_its_json(capsys):
    """Ray printed "(raylet) A worker died …" on stdout before `iom batch run --json`'s document."""
    from studio.cli.common import run_until_interrupted

    async def work():
        print("(raylet) A worker died or was killed while executing a task")
        return 7

    assert run_until_interrupted(work, lambda: None, quiet_stdout=True) == 7
    out, err = capsys.readouterr()
    assert out == "" and "A worker died" in err


def test_models_show_and_export_never_print_a_keys_value_and_export_names_an_id_once(iom, iom_home, tmp_path):
    (iom_home / "models" / "acme").mkdir(parents=True, exist_ok=True)
    value = "svcValue-55aa66bb77cc-cli"  # OLD_SVC_API_KEY's value, in the environment of each command
    (iom_home / "models" / "acme" / "old.json").write_text(json.dumps(
        {"id": "acme/old", "name": "Old", "provider": "http", "api": "http", "endpoint": "http://127.0.0.1:1/x",
         "keyRef": "OLD_SVC_API_KEY", "defaultParams": {"user": value}}))
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               OLD_SVC_API_KEY=value)
    for args in (("show", "acme/old"), ("export", "acme/old"), ("export",)):
        r = subprocess.run([sys.executable, "-m", "studio", "models", *args], env=env, capture_output=True, text=True)
        assert value not in r.stdout + r.stderr
        assert "looks like an API key in 'models[0].defaultParams.user'" in _one_line_error(r)
    out = tmp_path / "twice.json"
    assert iom("models", "export", "local/sentiment-vader", "local/sentiment-vader", "-o", str(out)).returncode == 0
    assert [m["id"] for m in json.loads(out.read_text())["models"]] == ["local/sentiment-vader"]
    assert iom("models", "remove", "local/sentiment-vader").returncode == 0
    assert iom("models", "import", str(out)).returncode == 0


def test_models_import_rename_onto_an_existing_id_and_reset_say_what_to_do(iom, iom_home, tmp_path):
    one = tmp_path / "one.json"
    assert iom("models", "export", "local/sentiment-vader", "-o", str(one)).returncode == 0
    assert iom("models", "import", str(one), "--rename", "local/vader-2").returncode == 0
    said = _one_line_error(iom("models", "import", str(one), "--rename", "local/vader-2"))
    assert "--replace" not in said and "another NEW_ID for --rename" in said, said
    # a reset says which changed sample it overwrote and how to get it back
    path = iom_home / "models" / "openai" / "gpt-4o-mini.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), description="mine")))
    r = iom("models", "reset")
    assert r.returncode == 0, r.stderr
    assert "overwritten, as you had changed it: model openai/gpt-4o-mini" in r.stdout
    assert "'iom models restore ID'" in r.stdout
    r = iom("models", "restore", "openai/gpt-4o-mini")
    assert r.returncode == 0 and json.loads(path.read_text())["description"] == "mine"
    r = iom("models", "reset", "--purge")
    assert r.returncode == 0 and "removed: 1 entry (model local/vader-2)" in r.stdout, r.stdout
    assert iom("models", "restore", "local/vader-2").returncode == 0
