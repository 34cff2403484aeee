"""The evaluation's numbers checked against hand computation: the quality's interval, the
confusion matrix against the per-row scores, numeric tolerance at its edge, missing (NaN)
expected values, punctuation-only labels, judge replies without a grade and unpriced judges."""

from __future__ import annotations

import pytest

from studio.core import Studio
from studio.eval.caveats import score_warnings
from studio.eval.experiments import Variant, run_experiment
from studio.eval.scorers import ScorerSpec, UnscorableRow, bootstrap_ci, judge_rows, score_rows, score_value
from studio.spec import load_pipeline
from studio.ui.evaluate_page import judge_cost
from tests.eval.test_experiments import iom
from tests.eval.test_scorers import CAPITALS
from tests.fakes.provider_server import FakeProvider, Reply
from tests.ui.fake_chat import CHAT_PATH, save_loopback_model


def _echo(s) -> None:
    """A pipeline whose output is its inputs `pred` and `pnum`: answers the test chooses."""
    s.pipelines.save(load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "echo", "name": "Echo",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {
                      "pred": {"type": "string"}, "pnum": {"type": "string"}}}},
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "sourcePort": "pred", "target": "out", "targetPort": "pred"},
                  {"id": "e2", "source": "in", "sourcePort": "pnum", "target": "out", "targetPort": "pnum"}]}))


def _chat(text: str, tokens: int = 11) -> Reply:
    return Reply(json={"id": "j1", "object": "chat.completion", "model": "loop-1",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": tokens - 1, "completion_tokens": 1, "total_tokens": tokens}})


async def test_the_quality_interval_is_the_bootstrap_of_the_quality_itself(iom_home, tmp_path):
    """Every row's label is right (exact: 1.0), one row has a number and it is wrong (numeric: 0.0):
    the quality, the mean of the two means, is 0.5; its interval was that of each row's mean over
    its scorers (0.85-1.0), which left the quality out."""
    data = tmp_path / "ci.csv"
    data.write_text("label,pred,n,pnum\na,a,5,7\n" + "a,a,,1\n" * 9)
    s = Studio(iom_home)
    try:
        _echo(s)
        doc = await run_experiment(s, str(data), [Variant.parse("echo#label=pred,n=pnum")],
                                   [ScorerSpec.parse("label:exact"), ScorerSpec.parse("n:numeric:0.5")])
        again = await run_experiment(s, str(data), [Variant.parse("echo#label=pred,n=pnum")],
                                     [ScorerSpec.parse("label:exact"), ScorerSpec.parse("n:numeric:0.5")])
        await s.aclose()
    finally:
        s.close()
    [v] = doc["variants"]
    lo, hi = v["qualityCi95"]
    assert v["quality"] == 0.5 and lo <= 0.5 <= hi == 1.0
    assert tuple(again["variants"][0]["qualityCi95"]) == (lo, hi)  # seeded: the same interval again


def test_the_quality_interval_of_one_scorer_is_that_scorers_interval():
    from studio.eval.scorers import bootstrap_quality_ci

    scores = {i: float(i % 3 == 0) for i in range(40)} | {40: None}
    one = bootstrap_quality_ci([scores])
    assert one == pytest.approx(bootstrap_ci([v for v in scores.values() if v is not None]))
    assert bootstrap_quality_ci([scores]) == one and bootstrap_quality_ci([{0: None}]) is None
    # two scorers over the same rows: the mean of their means is the mean of the rows' means
    other = {i: 1.0 - v if v is not None else None for i, v in scores.items()}
    assert bootstrap_quality_ci([scores, other]) == pytest.approx((0.5, 0.5))


def _row(i, expected, status="succeeded", got=None):
    return {"index": i, "status": status, "output": None if status != "succeeded" else {"label": got},
            "expected": {"label": expected}}


def test_a_failed_row_is_a_miss_in_the_confusion_matrix():
    rows = [_row(0, "a", got="a"), _row(1, "a", "failed"), _row(2, "b", got="b"), _row(3, "b", "failed"),
            _row(4, "a", got="a")]
    rep = score_rows(ScorerSpec("label", "classification"), rows)
    c = rep.classification
    assert rep.mean == pytest.approx(0.6) and c["accuracy"] == pytest.approx(rep.mean)
    assert c["labels"]["a"]["support"] == 3 and c["labels"]["b"]["support"] == 2
    assert c["labels"]["a"]["recall"] == pytest.approx(2 / 3) and c["labels"]["b"]["recall"] == 0.5
    assert c["confusion"]["a"]["(failed)"] == 1 and c["confusion"]["b"]["(failed)"] == 1


def test_the_confusion_matrix_compares_the_text_the_row_score_compared():
    """A CSV labelled true/false against a model answering JSON booleans: each row scored 1, but
    the matrix held `true` and `True` apart (accuracy 0.167 beside a mean of 0.667)."""
    rows = [_row(0, "true", got=True), _row(1, "false", got=False), _row(2, 1, got=1), _row(3, "1", got=1.0),
            _row(4, "x", got=None), _row(5, '{"a": 1}', got={"a": 1})]
    rep = score_rows(ScorerSpec("label", "classification"), rows)
    c = rep.classification
    assert rep.mean == pytest.approx(4 / 6) and c["accuracy"] == pytest.approx(rep.mean)
    assert "True" not in c["labels"] and c["labels"]["true"]["recall"] == 1.0 and c["labels"]["false"]["f1"] == 1.0
    assert c["confusion"]['{"a": 1}']['{"a": 1}'] == 1


@pytest.mark.parametrize("tolerance,got,expected,score", [
    (0.1, "1.1", "1.0", 1.0), (0.1, 2.1, 2.0, 1.0), (0.01, "1.01", 1, 1.0), (0.1, "-0.9", "-1", 1.0),
    (0.1, "1.2", "1.0", 0.0), (0.1, "1.1000001", "1.0", 0.0), (0.0, "0.3", 0.1 + 0.2, 1.0), (0.0, "3", "3.0000001", 0.0),
    (0.5, "inf", 3, 0.0), (0.5, "nan", 3, 0.0),
])
def test_numeric_tolerance_holds_at_its_own_edge(tolerance, got, expected, score):
    assert score_value(ScorerSpec("n", "numeric", tolerance=tolerance), got, expected) == score


@pytest.mark.parametrize("expected", ["inf", "-1e400", float("inf")])
def test_an_infinite_expected_number_is_unscorable_not_a_zero(expected):
    with pytest.raises(UnscorableRow, match="is not a finite number"):
        score_value(ScorerSpec("n", "numeric"), "5", expected)


@pytest.mark.parametrize("kind", ["numeric", "exact", "classification", "normalized", "contains", "similarity"])
def test_a_nan_expected_value_is_a_missing_one(kind):
    """pandas and Parquet write a missing number as NaN: it was scored as a wrong answer."""
    rows = [_row(0, 1.5, got="1.5"), _row(1, float("nan"), got="2"), _row(2, None, got="3"), _row(3, 2.0, got="2.0"),
            _row(4, float("nan"), "failed")]
    rep = score_rows(ScorerSpec("label", kind), rows)
    assert rep.per_row == {0: 1.0, 1: None, 2: None, 3: 1.0, 4: None} and rep.mean == 1.0 and rep.scored == 2
    assert rep.unscorable == 0
    if kind == "classification":
        assert rep.classification["accuracy"] == 1.0 and set(rep.classification["labels"]) == {"1.5", "2.0"}


@pytest.mark.parametrize("kind,got,expected,score", [
    ("normalized", "+", "-", 0.0), ("normalized", " - ", "-", 1.0), ("normalized", "Positive!", "positive", 1.0),
    ("normalized", "?", "positive", 0.0),
    ("contains", "anything", "!!!", 0.0), ("contains", "what?", "?", 1.0), ("contains", "The answer is Paris.", "paris", 1.0),
    ("contains", "anything", "   ", 0.0), ("contains", "", "paris", 0.0),
])
def test_punctuation_is_not_erased_to_nothing(kind, got, expected, score):
    assert score_value(ScorerSpec("a", kind), got, expected) == score


def test_a_numeric_tolerance_is_named_in_full():
    a, b = ScorerSpec.parse("n:numeric:100.0001"), ScorerSpec.parse("n:numeric:100.0002")
    assert a.name != b.name and ScorerSpec.parse(a.name).tolerance == a.tolerance == 100.0001
    third = ScorerSpec("n", "numeric", tolerance=0.1 + 0.2)
    assert ScorerSpec.parse(third.name).tolerance == third.tolerance
    # the names saved experiments hold read back as they were written
    for name in ("n:numeric:0.5", "n:numeric:1", "n:numeric:1e-06", "n:numeric:100", "n:numeric"):
        assert ScorerSpec.parse(name).name == name


async def test_a_judge_reply_without_a_grade_is_a_judge_failure_and_is_not_cached(iom_home, memory_keyring):
    def answer(req):
        return _chat("zzz, I cannot say" if "Milan" in req.json["messages"][-1]["content"] else "9")
    rows = CAPITALS
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, answer)
        s = Studio(iom_home)
        try:
            save_loopback_model(s, fake)
            rep = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows)
            first = len(fake.requests)
            again = await judge_rows(s, ScorerSpec.parse("answer:llm_judge:loop/chat"), rows)
            asked = [r.json["messages"][-1]["content"] for r in fake.requests[first:]]
            await s.aclose()
        finally:
            s.close()
    assert rep.per_row == {0: 0.9, 1: None} and rep.scored == 1 and rep.judge_failed == 1
    assert rep.judge_error == "loop/chat answered 'zzz, I cannot say', which holds no grade from 0 to 10"
    # run again: the graded row comes from the cache, the reply without a grade is asked again
    assert first == 2 and len(asked) == 1 and "Milan" in asked[0] and again.judge_reused == 1 and again.judge_failed == 1
    [warning] = score_warnings(Variant("t/m"), [rep.to_json()], rows)
    assert warning == ("answer:llm_judge:loop/chat: the judge could not grade 1 of 2 answered rows (loop/chat answered "
                       "'zzz, I cannot say', which holds no grade from 0 to 10); they are not scored, and running the same "
                       "experiment again grades them.")


async def test_an_unpriced_judge_costs_unpriced_never_nothing(iom_home, memory_keyring, tmp_path):
    """A judge model with no known price: its calls were summed as $0 for the variant."""
    from studio.eval.experiments import judge_cost_text
    from studio.spec.model import Prices

    data = tmp_path / "jd.csv"
    data.write_text("label,pred,pnum\n7,7,\n8,8,\n9,x,\n")
    with FakeProvider() as fake:
        fake.reply(CHAT_PATH, lambda req: _chat("8"))
        s = Studio(iom_home)
        try:
            _echo(s)
            save_loopback_model(s, fake, prices=Prices())
            doc = await run_experiment(s, str(data), [Variant.parse("echo#label=pred")],
                                       [ScorerSpec.parse("label:llm_judge:loop/chat"), ScorerSpec.parse("label:exact")])
            await s.aclose()
        finally:
            s.close()
    [v] = doc["variants"]
    judge = v["scores"][0]
    assert judge["judgeCostUsd"] is None and judge["judgeUnpricedCalls"] == 3
    assert v["judgeCostUsd"] is None and v["judgeUnpricedCalls"] == 3
    assert judge_cost(v) == judge_cost_text(v) == "3 unpriced"
    # a judge partly priced: the priced part and the count; an all-cached grading paid nothing
    partly = {**v, "judgeCostUsd": 2e-6, "judgeUnpricedCalls": 1}
    assert judge_cost(partly) == "$0.000002 + 1 unpriced"
    assert judge_cost({**v, "judgeCostUsd": 0.0, "judgeUnpricedCalls": 0}) == "$0"
    assert judge_cost({**v, "scores": v["scores"][1:]}) == "—" and judge_cost_text({**v, "scores": []}) is None
    shown = iom("eval", "show", doc["id"])
    assert shown.returncode == 0 and "variant 1 judge cost: 3 unpriced\n" in shown.stdout
