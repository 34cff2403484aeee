"""Bad input from a file, @FILE, inline JSON or a request body is one sentence and exit 1 — never
a RecursionError, ValueError or UnicodeError traceback; ids mean one thing; an import never
replaces a saved model or pipeline silently, and what a replace displaced can be restored."""

from __future__ import annotations

import json

import pytest

from studio import jsonread
from studio.errors import UserError
from tests.foundation.test_cli import _one_line_error, iom  # noqa: F401 (fixture)

ROOT_SAMPLES = "samples/pipelines/review-triage.json"


@pytest.mark.parametrize("data, says", [
    ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels"),
    ("[" * 150 + "]" * 150, "nested more than 100 levels"),
    ('{"n": ' + "9" * 5000 + "}", "more than 4,300 digits"),
    (b'{"text": "caf\xe9"}', "not UTF-8 text (a bad byte at offset 13)"),
    ('{"text": "\\ud800"}', "lone surrogate"),
    ('{"text": "x",}', "not valid JSON (line 1, column 14"),
    ("x" * 100, "not valid JSON"),
])
def test_the_reader_says_what_is_wrong(data, says):
    with pytest.raises(UserError, match=None) as err:
        jsonread.loads(data, "the input")
    assert says in str(err.value) and str(err.value).startswith("the input ")


def test_the_reader_keeps_what_is_fine():
    assert jsonread.loads(b'\xef\xbb\xbf{"text": "caf\xc3\xa9 \\ud83d\\ude00"}', "x") == {"text": "café 😀"}
    with pytest.raises(UserError, match="more than the limit of 10"):
        jsonread.loads("[1, 2, 3, 4, 5]", "x", max_bytes=10)


def test_cli_inputs_never_trace_back(iom, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"text": "caf\xe9"}')
    huge = tmp_path / "huge.json"
    huge.write_text('{"text": "x", "n": ' + "7" * 5000 + "}")
    for args, says in [
        (("invoke", "local/text-stats", "--input", f"@{deep}"), "nested more than"),
        (("invoke", "local/text-stats", "--input", f"@{latin}"), "not UTF-8"),
        (("run", "review-triage", "--input", f"@{huge}"), "4,300 digits"),
        (("run", "review-triage", "--input", '{"text": "\\udc80"}'), "lone surrogate"),
        (("pipelines", "import", str(deep)), "nested more than"),
        (("models", "import", str(latin)), "not UTF-8"),
        (("invoke", "local/text-stats", "--input", "@/no/such/file.json"), "does not exist"),
    ]:
        line = _one_line_error(iom(*args))
        assert says in line, (args, line)


def test_ids_match_over_the_whole_string_and_fit_file_names(iom, tmp_path):
    doc = {"id": "local/text-stats\n", "name": "Twin", "provider": "local", "api": "local", "modelType": "custom"}
    f = tmp_path / "twin.json"
    f.write_text(json.dumps(doc))
    assert "no spaces or line breaks" in _one_line_error(iom("models", "add", str(f)))
    f.write_text(json.dumps({**doc, "id": "a" * 5000}))
    assert "too long: at most 128 characters" in _one_line_error(iom("models", "add", str(f)))
    f.write_text(json.dumps({**doc, "id": "ok/" + "b" * 101}))
    assert "100 between slashes" in _one_line_error(iom("models", "import", str(f)))
    listed = json.loads(iom("models", "list", "--json").stdout)
    assert sum(1 for m in listed if m["id"].startswith("local/text-stats")) == 1
    assert "no model" in _one_line_error(iom("models", "show", "x" * 5000))


def test_an_import_never_replaces_silently(iom, iom_home, tmp_path):
    first = iom("pipelines", "list", "--json")  # seeds the samples
    assert first.returncode == 0
    edited = json.loads(open(ROOT_SAMPLES).read())
    edited["name"] = "Review triage (edited)"
    f = tmp_path / "edited.json"
    f.write_text(json.dumps(edited))
    line = _one_line_error(iom("pipelines", "import", str(f)))
    assert "exists already; nothing was imported" in line and "--replace" in line and "--rename" in line
    r = iom("pipelines", "import", str(f), "--replace")
    assert r.returncode == 0 and "replaced version is kept in" in r.stderr
    assert json.loads(iom("pipelines", "show", "review-triage").stdout)["name"] == "Review triage (edited)"
    backups = iom("pipelines", "backups", "review-triage").stdout.split()
    assert len(backups) == 1
    r = iom("pipelines", "import", str(f), "--rename", "my-triage")
    assert r.returncode == 0 and "imported my-triage" in r.stdout
    assert json.loads(iom("pipelines", "show", "my-triage").stdout)["name"] == "Review triage (edited) (my-triage)"
    assert "not a valid id" in _one_line_error(iom("pipelines", "import", str(f), "--rename", "Bad Id"))
    r = iom("pipelines", "restore", "review-triage")
    assert r.returncode == 0 and backups[0] in r.stdout
    assert json.loads(iom("pipelines", "show", "review-triage").stdout)["name"] != "Review triage (edited)"
    assert "no backup of pipeline 'text-insights'" in _one_line_error(iom("pipelines", "restore", "text-insights"))
