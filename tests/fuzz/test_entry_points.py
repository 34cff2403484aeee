"""Property-based fuzzing of every entry point that takes user data: 2,000 generated documents
or inputs each, in every test run. A one-sentence `UserError` is a correct answer; any other
exception — a traceback a person would see — fails the test with the example that caused it.
bench/soak_fuzz.py runs the same targets with 10,000+ examples each and counts. And all that
the generated runs record reaches the analytics database: one record it refused used to stop it
for good (tests/analytics/test_unstorable_text.py), which nothing here would have shown."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from studio.errors import UserError
from tests.fuzz import targets as t

EXAMPLES = int(os.environ.get("IOM_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    """The targets over an in-memory keyring: a model import stores an inline apiKey (the
    prototype's format) in the keyring, and generated documents must never reach the OS one.
    (The environment variable only reaches processes started later: keyring has chosen its
    backend in this one long before.)"""
    import keyring

    from tests.helpers.memory_keyring import MemoryKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    with pytest.MonkeyPatch.context() as env:  # for this module only, not the rest of the session
        if "PYTHON_KEYRING_BACKEND" not in os.environ:
            env.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        targets = t.Targets(tmp_path_factory.mktemp("fuzz-home"))
        try:
            yield targets
            analytics = targets.studio.analytics
            analytics.flush(timeout=None)  # everything the generated runs recorded went in
            assert (analytics.write_errors, analytics.refused_records) == (0, 0)
        finally:
            targets.close()
            keyring.set_keyring(previous)


def answered(fn, *args) -> None:
    try:
        fn(*args)
    except UserError as e:
        assert str(e).strip() and "Traceback" not in str(e)


def test_model_import(entry):
    @FUZZ
    @given(t.model_like | t.prototype_like | t.wild | t.st.lists(t.prototype_like, max_size=3))
    def check(doc):
        answered(entry.model_import, doc)
    check()


def test_pipeline_load_validate_and_dry_run(entry):
    @FUZZ
    @given(t.pipelines)
    def check(doc):
        answered(entry.pipeline_cycle, doc)
    check()


def test_pipeline_runs_with_generated_templates_and_input(entry):
    @FUZZ
    @given(t.mutated_sample() | t.pipeline_like, t.run_inputs)
    def check(doc, inputs):
        answered(entry.pipeline_run, doc, inputs)
    check()


def test_run_inputs(entry):
    @FUZZ
    @given(t.run_inputs)
    def check(inputs):
        answered(entry.sample_run, inputs)
    check()


def test_json_reader_and_cli_input(entry):
    @FUZZ
    @given(t.json_bytes())
    def check(data):
        answered(entry.json_reader, data)
        answered(entry.cli_input, data)
    check()
