"""Scorers: each kind on known pairs, classification metrics, seeded bootstrap, and the LLM
judge against a loopback server speaking OpenAI chat (its call recorded and priced)."""

from __future__ import annotations

import pytest

from studio.core import Studio
from studio.errors import UserError
from studio.eval.scorers import ScorerSpec, bootstrap_ci, classification_report, judge_rows, score_rows, score_value
from studio.recording import MemoryRecorder
from tests.fakes.provider_server import FakeProvider, Reply
from tests.ui.fake_chat import CHAT_PATH, KEY, save_loopback_model


@pytest.mark.parametrize("spec,got,expected,score", [
    (ScorerSpec("a", "exact"), "Positive", "positive", 0.0),
    (ScorerSpec("a", "normalized"), "  Positive! ", "positive", 1.0),
    (ScorerSpec("a", "contains"), "The answer is Paris.", "paris", 1.0),
    (ScorerSpec("a", "contains"), "London", "paris", 0.0),
    (ScorerSpec("a", "regex", pattern=r"^[A-Z]{3}-\d+$"), "ABC-12", None, None),  # no expected: not scored
    (ScorerSpec("a", "regex", pattern=r"^[A-Z]{3}-\d+$"), "ABC-12", "x", 1.0),
    (ScorerSpec("a", "numeric", tolerance=0.5), "3.4", 3, 1.0),
    (ScorerSpec("a", "numeric", tolerance=0.1), 3.4, 3, 0.0),
    (ScorerSpec("a", "numeric"), "n/a", 3, 0.0),
    (ScorerSpec("a", "json_schema", schema={"type": "object", "required": ["x"]}), '{"x": 1}', None, 1.0),
    (ScorerSpec("a", "json_schema", schema={"type": "object", "required": ["x"]}), '{"y": 1}', None, 0.0),
    (ScorerSpec("a", "json_schema", schema={"type": "object"}), "not json", None, 0.0),
])
def test_row_scores(spec, got, expected, score):
    assert score_value(spec, got, expected) == score


# two answered rows for a judge: one right (Paris), one wrong (Milan for Rome)
CAPITALS = [{"index": 0, "status": "succeeded", "runId": "r0", "inputs": {}, "output": {"text": "Paris"}, "expected": {"answer": "Paris"}},
            {"index": 1, "status": "succeeded", "runId": "r1", "inputs": {}, "output": {"text": "Milan"}, "expected": {"answer": "Rome"}}]


def test_similarity_is_graded():
    s = ScorerSpec("a", "similarity")
    assert score_value(s, "the cat sat on the mat", "The cat sat on the mat.") == 1.0
    partial = score_value(s, "the cat sat", "the cat sat on the mat")
    assert 0.3 < partial < 1.0
    assert score_value(s, "zzzz", "the cat sat on the mat") < 0.2


def test_classification_report_by_hand():
    pairs = [("pos", "pos"), ("pos", "neg"), ("neg", "neg"), ("neg", "neg"), ("neu", "pos")]
    r = classification_report(pairs)
    assert r["accuracy"] == pytest.approx(0.6)
    assert r["confusion"]["pos"] == {"neg": 1, "neu": 0, "pos": 1}
    assert r["labels"]["neg"]["precision"] == pytest.approx(2 / 3) and r["labels"]["neg"]["recall"] == 1.0
    assert r["labels"]["pos"]["precision"] == 0.5 and r["labels"]["pos"]["recall"] == 0.5
    assert r["labels"]["neu"]["f1"] == 0.0


def test_score_rows_counts_failed_rows_and_reads_fields():
    rows = [{"index": 0, "status": "succeeded", "output": {"sentiment": "positive"}, "expected": {"sentiment": "positive"}},
            {"index": 1, "status": "succeeded", "output": {"sentiment": "neutral"}, "expected": {"sentiment": "negative"}},
            {"index": 2, "status": "failed", "output": None, "expected": {"sentiment": "positive"}}]
    rep = score_rows(ScorerSpec("sentiment", "classification"), rows)
    assert rep.per_row == {0: 1.0, 1: 0.0, 2: 0.0} and rep.mean == pytest.approx(1 / 3)
    assert rep.classification["accuracy"] == pytest.approx(1 / 3)  # the failed row is a miss, as its score says
    lo, hi = rep.ci95
    assert 0.0 <= lo <= rep.mean <= hi <= 1.0


def test_bootstrap_is_seeded_and_narrows_with_more_data():
    few = [1.0, 0.0] * 5
    many = [1.0, 0.0] * 200
    assert bootstrap_ci(few) == bootstrap_ci(few)
    (a, b), (c, d) = bootstrap_ci(few), bootstrap_ci(many)
    assert a < 0.5 < b and c < 0.5 < d and (d - c) < (b - a)
    assert bootstrap_ci([]) is None


def test_the_bootstrap_draws_in_blocks_what_it_drew_at_once(monkeypatch):
    """Bounded memory (1,000 resamples of 30k rows were 480 MB of draws at once), the same
    interval: a saved experiment's figures do not move."""
    import random

    import numpy as np

    import studio.eval.scorers as scorers

    draw = random.Random(7)
    values = [draw.random() for _ in range(3000)]
    arr = np.asarray(values)
    at_once = arr[np.random.default_rng(0).integers(0, len(arr), size=(1000, len(arr)))].mean(axis=1)
    expected = tuple(float(x) for x in np.quantile(at_once, [0.025, 0.975]))
    for cells in (scorers.BOOTSTRAP_CELLS, 10_000, 1):
        monkeypatch.setattr(scorers, "BOOTSTRAP_CELLS", cells)
        assert bootstrap_ci(values) == expected


def test_bad_scorer_specs():
    with pytest.raises(UserError, match="unknown scorer"):
        ScorerSpec.parse("a:fuzzy")
    with pytest.raises(UserError, match="not valid"):
        ScorerSpec.parse("a:regex:[")
    with pytest.raises(UserError, match="judge model"):
        ScorerSpec.parse("a:llm_judge")
    assert ScorerSpec.parse("score:numeric:0.5").tolerance == 0.5
    for tolerance in ("-1", "nan", "inf"):  # matched nothing, or everything, without a word
        with pytest.raises(UserError, match="tolerance must be a finite number of 0 or more"):
            ScorerSpec.parse(f"score:numeric:{tolerance}")


def test_a_scorers_argument_is_part_of_its_name():
    """Two runs differing only in a pattern (or a tolerance, or a judge) got one experiment id:
    the second replaced the first; two such scorers in one run showed as one name."""
    names = [ScorerSpec.parse(t).name for t in ("s:regex:^pos", "s:regex:^neg", "n:numeric:0.5", "n:numeric",
                                                "a:llm_judge:x/judge", "s:classification")]
    assert names == ["s:regex:^pos", "s:regex:^neg", "n:numeric:0.5", "n:numeric", "a:llm_judge:x/judge",
                     "s:classification"]


def test_a_schema_that_cannot_be_used_is_said_even_when_the_output_is_not_json():
    """An output that is not JSON scored 0 before the schema was looked at: a broken schema
    then passed for a model that never answers in JSON."""
    rows = [{"index": 0, "status": "succeeded", "output": {"a": "plain text"}, "expected": {"a": '{"type": "nope"}'}}]
    rep = score_rows(ScorerSpec("a", "json_schema"), rows)
    assert rep.per_row == {0: None} and rep.unscorable == 1 and "its schema cannot be used" in rep.unscorable_why


def test_a_pattern_that_backtracks_without_end_leaves_its_row_unscored():
    """(a|aa)+$ over 60 characters: hours of one core, the web app's pages stopped meanwhile."""
    import time

    rows = [{"index": 0, "status": "succeeded", "output": {"s": "a" * 60 + "!"}, "expected": {"s": "x"}},
            {"index": 1, "status": "succeeded", "output": {"s": "aaaa"}, "expected": {"s": "x"}}]
    started = time.monotonic()
    rep = score_rows(ScorerSpec("s", "regex", pattern="(a|aa)+$"), rows)
    assert time.monotonic() - started < 5
    assert rep.per_row == {0: None, 1: 1.0} and rep.unscorable == 1 and "took longer than" in rep.unscorable_why


def test_score_rows_counts_the_answers_without_the_field():
    """A 0 for an output that has no such field is counted apart from a wrong answer: a null
    value is a field that is there; a plain string output is its own text."""
    rows = [{"index": 0, "status": "succeeded", "output": {"label": "positive"}, "expected": {"sentiment": "positive"}},
            {"index": 1, "status": "succeeded", "output": {"sentiment": None}, "expected": {"sentiment": "negative"}},
            {"index": 2, "status": "succeeded", "output": {"sentiment": "neutral"}, "expected": {"sentiment": "neutral"}},
            {"index": 3, "status": "failed", "output": None, "expected": {"sentiment": "positive"}}]
    rep = score_rows(ScorerSpec("sentiment", "classification"), rows)
    assert rep.per_row == {0: 0.0, 1: 0.0, 2: 1.0, 3: 0.0}
    assert (rep.field, rep.answered, rep.missing) == ("sentiment", 3, 1)
    assert rep.to_json()["missingField"] == 1 and rep.to_json()["answered"] == 3
    nested = score_rows(ScorerSpec("sentiment", "exact", field="scores.label"),
                        [{"index": 0, "status": "succeeded", "output": {"scores": {"label": "x"}}, "expected": {"sentiment": "x"}},
                         {"index": 1, "status": "succeeded", "output": {"scores": 3}, "expected": {"sentiment": "x"}},
                         {"index": 2, "status": "succeeded", "output": "x", "expected": {"sentiment": "x"}}])
    assert nested.per_row == {0: 1.0, 1: 0.0, 2: 1.0} and nested.missing == 1


@pytest.mark.parametrize("spec,expected,why", [
    (ScorerSpec("a", "regex"), "C++ (", "row 1: its expected value 'C++ (' is not a regular expression (missing )"),
    (ScorerSpec("a", "json_schema"), "not json", "row 1: its expected value 'not json' is not a JSON schema (Expecting"),
    (ScorerSpec("a", "json_schema"), '{"type": 5}', "row 1: its schema cannot be used (5 is not valid under any"),
    (ScorerSpec("a", "numeric"), "n/a", "row 1: its expected value 'n/a' is not a number"),
])
def test_a_row_whose_expected_value_the_scorer_cannot_use_is_left_out_and_counted(spec, expected, why):
    """Each of these was a traceback that ended the experiment after every row had run."""
    from studio.eval.caveats import score_warnings
    from studio.eval.experiments import Variant

    rows = [{"index": 0, "status": "succeeded", "output": {"a": "7"}, "expected": {"a": "7" if spec.kind != "json_schema" else "{}"}},
            {"index": 1, "status": "succeeded", "output": {"a": "7"}, "expected": {"a": expected}}]
    rep = score_rows(spec, rows)
    assert rep.per_row == {0: 1.0, 1: None} and rep.mean == 1.0 and rep.unscorable == 1
    assert rep.unscorable_why.startswith(why)
    [warning] = score_warnings(Variant("t/m"), [rep.to_json()], rows)
    assert warning.startswith(f"a:{spec.kind}: 1 answered row(s) could not be scored ({why}")
    assert warning.endswith(") and are left out of its mean.")


async def test_the_judge_is_not_asked_about_a_field_the_output_does_not_have(iom_home, memory_keyring):
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, Reply(json={"id": "j1", "object": "chat.completion", "model": "loop-1",
                                          "choices": [{"index": 0, "message": {"role": "assistant", "content": "8"},
                                                       "finish_reason": "stop"}],
                                          "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}}))
        s = Studio(iom_home)
        try:
            save_loopback_model(s, fake)
            rows = [{"index": 0, "status": "succeeded", "runId": "r0", "inputs": {}, "output": {"answer": "Paris"},
                     "expected": {"answer": "Paris"}},
                    {"index": 1, "status": "succeeded", "runId": "r1", "inputs": {}, "output": {"text": "Rome"},
                     "expected": {"answer": "Rome"}}]
            spec = ScorerSpec("answer", "llm_judge", field="answer", judge_model="loop/chat")
            rep = await judge_rows(s, spec, rows)
            asked = len(fake.requests)
            await s.aclose()
        finally:
            s.close()
    assert rep.per_row == {0: 0.8, 1: 0.0} and asked == 1  # row 1 has no 'answer': nothing to grade, nothing paid
    assert (rep.field, rep.answered, rep.missing) == ("answer", 2, 1)


async def test_a_row_the_judge_cannot_grade_is_not_scored_and_a_judge_that_grades_none_stops(iom_home, memory_keyring):
    """The judge refusing one row (here a 400) used to end the whole experiment with a
    traceback after every variant had run; that row is now left unscored and counted."""
    def answer(req):
        if "Milan" in req.json["messages"][-1]["content"]:
            return Reply(status=400, json={"error": {"message": "this prompt was refused", "type": "invalid_request_error"}})
        return Reply(json={"id": "j1", "object": "chat.completion", "model": "loop-1",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "9"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})
    rows = CAPITALS
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        s = Studio(iom_home)
        try:
            save_loopback_model(s, fake)
            rep = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows)
            with pytest.raises(UserError) as none_graded:
                await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows[1:])
            await s.aclose()
        finally:
            s.close()
    assert rep.per_row == {0: 0.9, 1: None} and rep.mean == pytest.approx(0.9) and rep.scored == 1
    assert rep.judge_failed == 1 and "refused" in rep.judge_error and rep.to_json()["judgeFailed"] == 1
    assert str(none_graded.value).startswith("the judge loop/chat could not grade any row: ")
    assert str(none_graded.value).endswith("running the same experiment again grades them.")


async def test_llm_judge_calls_a_registry_model_and_counts_its_cost(iom_home, memory_keyring):
    def answer(req):
        # the judge saw the rubric filled with this row's expected value and output
        prompt = req.json["messages"][-1]["content"]
        grade = "9" if "Paris" in prompt.split("Output to grade:")[1] else "2"
        return Reply(json={"id": "j1", "object": "chat.completion", "model": "loop-1",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": grade}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101}})
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        s = Studio(iom_home)
        memory = MemoryRecorder()
        s.providers.recorder = memory
        try:
            save_loopback_model(s, fake)
            rows = [{"index": 0, "status": "succeeded", "runId": "r0", "inputs": {"q": "capital of France?"},
                     "output": {"text": "Paris"}, "expected": {"answer": "Paris"}},
                    {"index": 1, "status": "succeeded", "runId": "r1", "inputs": {"q": "capital of Italy?"},
                     "output": {"text": "Milan"}, "expected": {"answer": "Rome"}}]
            rep = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows)
            # the same rows again (an experiment run again, or one more variant beside them):
            # the grades come from the cache, recorded as cache hits, and cost nothing more
            again = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows)
            judged = len(fake.requests)
            await s.aclose()
        finally:
            s.close()
    assert rep.per_row == {0: 0.9, 1: 0.2} and rep.mean == pytest.approx(0.55)
    assert rep.judge_cost_usd == pytest.approx(2 * (100e-6 + 2e-6)) and rep.judge_reused == 0
    assert again.per_row == rep.per_row and again.judge_reused == 2 and again.judge_cost_usd is None and judged == 2
    assert len(memory.calls) == 4 and {c[0].model_id for c in memory.calls} == {"loop/chat"}
    assert [c[0].cache_hit for c in memory.calls] == [False, False, True, True]
    assert all(c[0].saved_usd == pytest.approx(100e-6 + 2e-6) for c in memory.calls[2:])
    assert all(KEY not in str(c[1]) for c in memory.calls)


async def test_the_judge_reads_the_rows_as_it_grades_them(iom_home, memory_keyring):
    """A variant's rows reach the judge from its batch's file; they were all read into one list
    first (100k rows, hundreds of MB). Now the judge is a few parts of rows behind the reading,
    and every row is graded."""
    from studio.eval.scorers import JUDGE_READ_AHEAD

    read = 0
    behind: list[int] = []  # at each question to the judge: rows read but not yet asked about

    def rows(n):
        nonlocal read
        for i in range(n):
            read += 1
            yield {"index": i, "status": "succeeded", "runId": f"r{i}", "inputs": {}, "output": {"text": f"answer {i}"},
                   "expected": {"answer": "x"}}

    def answer(req):
        behind.append(read - len(behind))
        return Reply(json={"id": "j1", "object": "chat.completion", "model": "loop-1",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "7"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})
    n = 6 * JUDGE_READ_AHEAD
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        s = Studio(iom_home)
        try:
            save_loopback_model(s, fake)
            rep = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows(n))
            await s.aclose()
        finally:
            s.close()
    assert rep.per_row == {i: 0.7 for i in range(n)} and rep.answered == n and len(behind) == n
    assert max(behind) <= 3 * JUDGE_READ_AHEAD < n


async def test_the_first_error_of_work_done_as_read_ends_it_with_nothing_left_running():
    import asyncio

    from studio.eval.scorers import each_as_read

    started, ended = [], []

    async def work(i):
        started.append(i)
        await asyncio.sleep(0.001 * (i % 3))
        if i == 300:
            raise RuntimeError("row 300 broke")
        ended.append(i)

    with pytest.raises(RuntimeError, match="row 300 broke"):
        await each_as_read(range(10_000), lambda i: i % 2 == 0, work, part=100)
    await asyncio.sleep(0.01)
    assert 300 in started and max(started) < 600 and all(i % 2 == 0 for i in started)  # stopped reading soon after
    assert len(asyncio.all_tasks()) == 1  # only the test's own
