"""Mistakes a person makes at the command line, each answered with one sentence that says what
is wrong and what to do (never the "this is a bug" line, never a traceback), losing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_FILE = ROOT / "samples" / "models" / "openai__gpt-4o-mini.json"


@pytest.fixture
def iom(iom_home):
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    def run(*args, input=None):
        return subprocess.run([sys.executable, "-m", "studio", *args], env=env, capture_output=True, text=True,
                              input=input, cwd=ROOT, timeout=120)

    return run


def one_sentence(r, *words: str) -> str:
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and "this is a bug" not in r.stderr, r.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_model_file_or_an_empty_file_is_not_imported_as_a_pipeline(iom, iom_home, tmp_path):
    one_sentence(iom("pipelines", "import", str(MODEL_FILE)), "is a model, not a pipeline", "iom models import")
    (tmp_path / "empty.json").write_text("[]")
    one_sentence(iom("pipelines", "import", str(tmp_path / "empty.json")), "empty list")
    (tmp_path / "object.json").write_text("{}")
    one_sentence(iom("pipelines", "import", str(tmp_path / "object.json")), "no 'nodes'")
    listed = json.loads(iom("pipelines", "list", "--json").stdout)
    assert "openai/gpt-4o-mini" not in {p["id"] for p in listed}


def test_an_invalid_pipeline_in_a_list_is_named_and_nothing_is_imported(iom, tmp_path):
    """A list with one bad pipeline was refused with the bad one's fault alone: not which of
    the list it was, nor whether the others were imported."""
    saved = json.loads(iom("pipelines", "show", "review-triage").stdout)
    good = dict(saved, name="Changed")  # would replace the saved one, with --replace
    bad = dict(saved, id="b-two", name="B two", nodes=saved["nodes"] + [{"id": "x", "kind": "bogus"}])
    (tmp_path / "list.json").write_text(json.dumps([good, dict(good, id="c-three"), bad]))
    line = one_sentence(iom("pipelines", "import", str(tmp_path / "list.json"), "--replace"),
                        "pipeline at index 2, the 3rd of 3, id 'b-two', name 'B two'", "kind",
                        "None of the file's 3 pipelines was imported")
    assert "Traceback" not in line
    assert json.loads(iom("pipelines", "show", "review-triage").stdout) == saved  # nothing saved is lost
    listed = {p["id"] for p in json.loads(iom("pipelines", "list", "--json").stdout)}
    assert "c-three" not in listed and "b-two" not in listed
    (tmp_path / "list.json").write_text(json.dumps([good, 7]))
    one_sentence(iom("pipelines", "import", str(tmp_path / "list.json")), "index 1, the 2nd of 2: a pipeline must be "
                 "a JSON object; it is something else. None of")


@pytest.mark.parametrize("args, says", [
    (("pipelines", "delete", "Review-Triage"), "there is no pipeline 'Review-Triage' to delete"),
    (("models", "remove", "OpenAI/gpt-4o-mini"), "there is no model 'OpenAI/gpt-4o-mini' to remove"),
    (("models", "remove", "../x"), "there is no model '../x' to remove"),
    (("analytics", "--set-retention-days", "1000000"), "takes 1 to 36500 days"),
    (("analytics", "--since", "99999999999d"), "use a shorter span"),
    (("runs", "list", "--since", "10000000w"), "use a shorter span"),
    (("invoke", "local/summarize-extractive", "-i", '{"text": "a. b. c."}', "--param", "sentences=1e400"),
     "must be a whole number from 1 to"),
    (("models", "discover", "ollama", "--url", "http://[::1"), "is not a usable address"),
    (("models", "export", "-o", "/"), "is a folder; give a file name in it"),
    (("datasets", "show", "/no/such/file.csv"), "there is no file '/no/such/file.csv'"),
    (("eval", "run", "--data", "samples/datasets/reviews.csv", "-v", "local/sentiment-vader", "-s", "sentiment:regex:^p",
      "-s", "sentiment:regex:^p"), "the scorer sentiment:regex:^p is given twice"),
    (("eval", "run", "--data", "samples/datasets/reviews.csv", "-v", "local/sentiment-vader", "-s", "sentiment:numeric:-1"),
     "tolerance must be a finite number of 0 or more"),
    (("eval", "run", "--data", str(ROOT / "samples" / "datasets" / "reviews.csv"), "-v", "review-triage",
      "-s", "sentiment:exact:junk"), "the exact scorer takes no argument"),
    (("run", "review-triage", "--input", '{"text": "x"}', "--from", ""), "--from needs a node id"),
])
def test_a_mistake_is_one_sentence(iom, args, says):
    one_sentence(iom(*args), says)


def test_an_export_into_a_folder_that_is_not_there_makes_no_folder(iom, tmp_path):
    target = tmp_path / "no" / "such" / "models.json"
    one_sentence(iom("models", "export", "-o", str(target)), f"there is no folder {target.parent}")
    assert not (tmp_path / "no").exists()


def test_a_retention_out_of_range_changes_nothing_and_analytics_still_reads(iom, iom_home):
    iom("analytics", "--set-retention-days", "1000000")
    assert not (iom_home / "analytics.json").exists()
    r = iom("analytics", "--set-retention-days", "0")
    assert r.returncode == 0 and "retention forever," in r.stderr
    assert iom("runs", "list").returncode == 0


def test_odd_files_are_named_not_crashed_on(iom, iom_home, tmp_path):
    (tmp_path / "notes.txt").write_text("text\nhi\n")
    one_sentence(iom("datasets", "show", str(tmp_path / "notes.txt")), "is not a CSV, JSONL or Parquet file")
    (iom_home / "cache.json").write_bytes(b"\x00\x80\xff\xfe")
    one_sentence(iom("cache", "show"), "cache.json is not text", "fix or delete it")
    (tmp_path / "numeric.json").write_text('{"id": 123, "provider": 5}')
    one_sentence(iom("models", "add", str(tmp_path / "numeric.json")), "is not valid")


def test_a_damaged_dataset_is_warned_of_and_can_be_deleted(iom, iom_home):
    assert iom("datasets", "import", str(ROOT / "samples" / "datasets" / "reviews.csv")).returncode == 0
    (iom_home / "datasets" / "reviews" / "meta.json").write_text("{bad")
    r = iom("datasets", "list")
    assert r.returncode == 0 and "warning: the dataset 'reviews' has a damaged meta.json" in r.stderr
    one_sentence(iom("datasets", "show", "reviews"), "'iom datasets delete reviews' removes it")
    r = iom("datasets", "delete", "reviews")
    assert r.returncode == 0, r.stderr
    assert iom("datasets", "import", str(ROOT / "samples" / "datasets" / "reviews.csv")).returncode == 0


def test_a_damaged_model_file_is_named_when_a_pipeline_needs_it(iom, iom_home):
    assert iom("models", "list").returncode == 0  # the samples are written
    (iom_home / "models" / "local" / "sentiment-vader.json").write_text("{bad")
    r = iom("run", "review-triage", "--input", '{"text": "fine"}')
    line = one_sentence(r, "sentiment-vader.json could not be read")
    assert "not in the registry" not in line


def test_a_key_value_that_is_not_utf8_text_is_refused(tmp_path):
    """Run in the test's D-Bus session (the README's test command starts one with a keyring)."""
    env = dict(os.environ, IOM_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "studio", "keys", "set", "BIN_TEST_KEY"], env=env, cwd=ROOT,
                       input=b"\xff\xfe\n", capture_output=True, timeout=120)
    assert r.returncode == 1 and b"is not UTF-8 text" in r.stderr and b"Traceback" not in r.stderr, r.stderr


def test_ctrl_c_while_the_studio_loads_is_one_line(monkeypatch, capsys):
    import studio.cli as cli

    def interrupted():
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "command_modules", interrupted)
    assert cli.main(["models", "list"]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted before anything was done."


def test_a_damaged_batch_or_experiment_is_warned_of_not_hidden(iom, iom_home):
    r = iom("batch", "run", "review-triage", "--data", str(ROOT / "samples" / "datasets" / "reviews.csv"),
            "--limit", "2", "--json")
    assert r.returncode == 0, r.stderr
    batch_id = json.loads(r.stdout)["id"]
    (iom_home / "batches" / batch_id / "batch.json").write_text("{bad")
    r = iom("batch", "list")
    assert r.returncode == 0 and f"warning: batch {batch_id} cannot be read" in r.stderr
    (iom_home / "experiments").mkdir(exist_ok=True)
    (iom_home / "experiments" / "e-broken.json").write_text("[1, 2")
    r = iom("eval", "list")
    assert r.returncode == 0 and "warning: experiment e-broken cannot be read" in r.stderr


def test_input_that_was_silently_ignored_is_now_said(iom):
    r = iom("models", "list", "--health", "bogus")  # matched no model, without saying why
    assert r.returncode == 2 and "invalid choice: 'bogus'" in r.stderr
    assert iom("datasets", "import", str(ROOT / "samples" / "datasets" / "reviews.csv")).returncode == 0
    one_sentence(iom("datasets", "map", "reviews", "--input", "text=text", "--input", "text=sentiment"),
                 "'text' is mapped twice")


def test_a_schema_reference_that_points_nowhere_is_refused_at_import(iom, tmp_path):
    """A `$ref` typo was saved, then failed every run with the "this is a bug" line; a ref to a
    file or a URL the same (nothing is fetched either way)."""
    pipeline = json.loads((ROOT / "samples" / "pipelines" / "review-triage.json").read_text())
    for ref in ("#/$defs/Text", "file:///etc/passwd"):
        pipeline["id"] = "ref-typo"
        pipeline["nodes"][0]["inputSchema"] = {"type": "object", "properties": {"text": {"$ref": ref}}}
        (tmp_path / "p.json").write_text(json.dumps(pipeline))
        one_sentence(iom("pipelines", "import", str(tmp_path / "p.json")), "points nowhere in the schema", repr(ref))
        one_sentence(iom("run", str(tmp_path / "p.json"), "--input", '{"text": "hi"}'), "points nowhere")
    assert "ref-typo" not in {p["id"] for p in json.loads(iom("pipelines", "list", "--json").stdout)}
    pipeline["nodes"][0]["inputSchema"] = {"type": "object", "$defs": {"Text": {"type": "string"}},
                                           "properties": {"text": {"$ref": "#/$defs/Text"}}}
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    assert iom("pipelines", "import", str(tmp_path / "p.json")).returncode == 0
    assert iom("run", "ref-typo", "--input", '{"text": "A lovely room."}').returncode == 0


def test_a_file_that_names_one_id_twice_imports_nothing(iom, tmp_path):
    """The first entry was saved, then the second refused as "changed elsewhere" (or, with
    --replace, both reported imported while one file was on disk)."""
    pipeline = json.loads((ROOT / "samples" / "pipelines" / "review-triage.json").read_text())
    model = json.loads(MODEL_FILE.read_text())
    for kind, doc in (("pipelines", {**pipeline, "id": "dup-x"}), ("models", {**model, "id": "acme/dup-x"})):
        (tmp_path / "twice.json").write_text(json.dumps([doc, doc]))
        for extra in ((), ("--replace",)):
            one_sentence(iom(kind, "import", str(tmp_path / "twice.json"), *extra), "twice", "Nothing was imported")
    assert "dup-x" not in {p["id"] for p in json.loads(iom("pipelines", "list", "--json").stdout)}
    assert "acme/dup-x" not in {m["id"] for m in json.loads(iom("models", "list", "--json").stdout)}


@pytest.mark.parametrize("node_id, says", [("de\u202etect", "U+202E"), ("a\u0000b", "U+0000"), ("n" * 101, "at most 100")])
def test_a_node_id_that_cannot_be_shown_is_refused(iom, tmp_path, node_id, says):
    pipeline = json.loads((ROOT / "samples" / "pipelines" / "review-triage.json").read_text())
    pipeline["id"] = "odd-ids"
    pipeline["nodes"][1]["id"] = node_id
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    one_sentence(iom("pipelines", "import", str(tmp_path / "p.json")), says)


def test_a_bad_jmespath_mapping_is_one_line(iom, tmp_path):
    """JMESPath's own message is three lines (the expression and a caret under the fault)."""
    pipeline = json.loads((ROOT / "samples" / "pipelines" / "review-triage.json").read_text())
    pipeline["id"] = "bad-mapping"
    pipeline["edges"][0]["mapping"] = "text["
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    r = iom("run", str(tmp_path / "p.json"), "--input", '{"text": "A lovely room."}')
    one_sentence(r, "is not valid JMESPath", "Incomplete expression at column")
    pipeline = json.loads((ROOT / "samples" / "pipelines" / "review-triage.json").read_text())
    pipeline["nodes"][1]["policy"]["timeoutS"] = 1e-300  # every template then "ran longer than 0 s"
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    one_sentence(iom("pipelines", "validate", str(tmp_path / "p.json")), "greater than or equal to 0.1")
