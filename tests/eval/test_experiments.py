"""Experiments: variants over one dataset, scored, compared; Pareto front; per-row diff."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core import Studio
from studio.errors import UserError
from studio.eval.experiments import (Variant, by_scorer, figure, load_experiment, pareto_front, row_diffs,
                                     run_experiment)
from studio.eval.scorers import ScorerSpec
from studio.ui.evaluate_page import compare_rows

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


def test_variant_syntax():
    v = Variant.parse("review-triage@sentiment=local/x,detect=local/y#sentiment=label")
    assert v.target == "review-triage" and v.swaps == {"sentiment": "local/x", "detect": "local/y"}
    assert v.fields == {"sentiment": "label"} and Variant.parse(v.name) == v
    with pytest.raises(UserError, match="NAME=VALUE"):
        Variant.parse("review-triage@sentiment")


def test_pareto_front():
    pts = [("cheap-bad", 0.0, 0.5), ("dear-good", 1.0, 0.9), ("dear-bad", 1.0, 0.4), ("mid", 0.5, 0.9), ("x", None, 1.0)]
    assert pareto_front(pts) == {"cheap-bad", "mid"}


def test_variants_equal_but_for_float_rounding_are_both_on_the_pareto_front():
    """Two variants of identical per-row costs got totals a last bit apart (summed in the order
    rows finished), and the front kept one of them at random."""
    a, b = 0.0012099999999999997 / 80, 0.0012099999999999995 / 80
    assert a != b and pareto_front([("a", a, 1.0), ("b", b, 1.0)]) == {"a", "b"}
    assert pareto_front([("a", 1e-5, 0.1 + 0.2), ("b", 1e-5, 0.3)]) == {"a", "b"}  # quality alike
    # a real difference still counts: a thousandth of a cent a row, a thousandth of quality
    assert pareto_front([("a", 2e-8, 0.9), ("b", 1e-8, 0.9)]) == {"b"}
    assert pareto_front([("a", 1e-5, 0.901), ("b", 1e-5, 0.9)]) == {"a"}


async def test_two_variants_scored_and_diffed(iom_home):
    s = Studio(iom_home)
    try:
        scorers = [ScorerSpec.parse("sentiment:classification"), ScorerSpec.parse("language:normalized")]
        # a swapped-in model that does not fit the node's edges: refused before any row runs (every
        # row failed, and its scores of 0 could be saved as that model's quality)
        with pytest.raises(UserError, match="pipeline review-triage with sentiment=local/text-stats is not valid"):
            await run_experiment(s, str(SAMPLE), [Variant.parse("review-triage"),
                                                  Variant.parse("review-triage@sentiment=local/text-stats")], scorers, limit=8)
        doc = await run_experiment(
            s, str(SAMPLE),
            [Variant.parse("review-triage"), Variant.parse("local/sentiment-vader#sentiment=label"),
             Variant.parse("local/language-detect#language=language")], scorers, limit=8)
        await s.aclose()
    finally:
        s.close()
    a, b, c = doc["variants"]
    # the pipeline and the bare model give the same sentiment labels: same sentiment score
    assert a["scores"][0]["mean"] == b["scores"][0]["mean"] is not None
    assert a["scores"][0]["classification"]["confusion"] == b["scores"][0]["classification"]["confusion"]
    # the bare model was NOT handed the scored 'language' column as its optional input
    assert all("language" not in r["inputs"] for r in _rows(iom_home, b["batchId"]))
    assert a["costUsd"] == 0.0 and a["errorRate"] == 0.0 and a["latencyP95Ms"] >= a["latencyP50Ms"]
    # the bare language model answers no sentiment: its sentiment score is lower, never silently equal
    assert c["errorRate"] == 0 and c["scores"][0]["mean"] < a["scores"][0]["mean"]
    again = load_experiment(iom_home, doc["id"])
    assert again["variants"][0]["batchId"] == a["batchId"]
    diff = list(row_diffs(iom_home, again, "1", "2"))
    assert diff and all(d["a"]["fields"]["language"] != d["b"]["fields"]["language"] for d in diff)
    fig = figure(again)
    assert fig["data"][0]["y"] == [v["quality"] for v in again["variants"] if v["quality"] is not None]
    assert fig["layout"]["xaxis"]["rangemode"] == "tozero"  # all free: an axis from 0, not from -1 USD
    # each scorer's own mean beside the quality: the bare model's low one is its language answers
    assert by_scorer(b) == (f"sentiment:classification {b['scores'][0]['mean']:.3f}, "
                            f"language:normalized {b['scores'][1]['mean']:.3f}")
    assert compare_rows(again)[1]["byScorer"] == by_scorer(b)


def _rows(home, batch_id):
    from studio.eval.batch import load_rows
    return list(load_rows(home, batch_id).values())


def iom(*args):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True)


def two_variants(limit: int) -> dict:
    """`iom eval run` of the pipeline and the bare model over the sample's first rows."""
    r = iom("eval", "run", "--data", str(SAMPLE), "-v", "review-triage", "-v", "local/sentiment-vader#sentiment=label",
            "-s", "sentiment:classification", "--limit", str(limit), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_cli_run_show_compare_and_bad_input(iom_home):
    doc = two_variants(5)
    shown = iom("eval", "show", doc["id"])
    assert "review-triage" in shown.stdout and "pareto" in shown.stdout.lower()
    diffs = json.loads(iom("eval", "compare", doc["id"], "1", "2", "--all", "--json").stdout)
    assert len(diffs) == 5 and all(isinstance(d["differs"], bool) for d in diffs)
    listed = iom("eval", "compare", doc["id"], "1", "2", "--all")  # every row shown: only those that differ counted
    assert listed.stderr == f"5 row(s) shown, {sum(d['differs'] for d in diffs)} differ.\n"
    same = iom("eval", "compare", doc["id"], "1", "review-triage")  # one variant by number and by name
    assert same.returncode == 1 and same.stderr == (
        f"error: '1' and 'review-triage' are the same variant of experiment {doc['id']}; name two different ones "
        "by number (1..2) or name.\n")
    bad = iom("eval", "run", "--data", str(SAMPLE), "-v", "review-triage", "-s", "stars:exact")
    assert bad.returncode == 1 and "no expected column 'stars'" in bad.stderr and "Traceback" not in bad.stderr


def test_show_detail_prints_each_classification_report(iom_home):
    """The per-label precision/recall/F1 and the confusion matrix were in --json only."""
    doc = two_variants(20)
    assert "confusion matrix" in iom("eval", "show", "--help").stdout
    plain = iom("eval", "show", doc["id"]).stdout
    assert "PRECISION" not in plain  # the table alone unless asked
    lines = iom("eval", "show", doc["id"], "--detail").stdout.splitlines()
    for i, v in enumerate(doc["variants"], 1):
        report = v["scores"][0]["classification"]
        at = lines.index(f"variant {i} ({v['variant']}), sentiment:classification: accuracy {report['accuracy']:.3f}, "
                         f"macro-F1 {report['macroF1']:.3f}")
        labels = list(report["labels"])
        assert lines[at + 1].split() == ["LABEL", "PRECISION", "RECALL", "F1", "SUPPORT"]
        for n, label in enumerate(labels):
            m = report["labels"][label]
            assert lines[at + 2 + n].split() == [label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                                                 str(m["support"])]
        matrix = at + 2 + len(labels)
        assert lines[matrix] == "confusion matrix (rows: expected, columns: predicted):"
        assert lines[matrix + 1].split() == ["expected", *labels]  # labels as they are, not upper-cased
        for n, label in enumerate(labels):
            assert lines[matrix + 2 + n].split() == [label, *(str(report["confusion"][label][p]) for p in labels)]


def test_a_variant_whose_output_lacks_the_scored_field_is_told_and_not_saved_as_a_quality(iom_home):
    """The bare sentiment model names its answer 'label': scored on 'sentiment' without the
    mapping, every row scores 0. The experiment says why and how to name the field, and that 0
    never reaches the registry, where quality-aware routing would hold it against the model."""
    r = iom("eval", "run", "--data", str(SAMPLE), "-v", "local/sentiment-vader", "-v", "local/sentiment-vader#sentiment=label",
            "-s", "sentiment:classification", "--limit", "6", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    bare, mapped = doc["variants"]
    assert bare["quality"] == 0.0 and bare["scores"][0]["missingField"] == bare["scores"][0]["answered"] == 6
    [warning] = bare["warnings"]
    assert "none of the 6 answered rows has an output field 'sentiment'" in warning and "label" in warning
    assert "local/sentiment-vader#sentiment=FIELD" in warning
    assert mapped["warnings"] == [] and mapped["scores"][0]["missingField"] == 0 and mapped["quality"] > 0.0
    shown = iom("eval", "show", doc["id"])
    assert f"variant 1, {warning}" in shown.stdout and "variant 2," not in shown.stdout

    quality = iom_home / "quality.json"
    saved = iom("eval", "save-quality", doc["id"], "--capability", "sentiment")
    # the same model measured with the field named is saved; the unmapped measure is not
    assert saved.returncode == 0 and f"local/sentiment-vader: quality {mapped['quality']:.3f}" in saved.stdout
    assert json.loads(quality.read_text())["sentiment"]["local/sentiment-vader"]["score"] == mapped["quality"]
    quality.unlink()
    only_bare = iom("eval", "run", "--data", str(SAMPLE), "-v", "local/sentiment-vader", "-s", "sentiment:classification",
                    "--limit", "6", "--json")
    refused = iom("eval", "save-quality", json.loads(only_bare.stdout)["id"], "--capability", "sentiment")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "none of its answers has the output field 'sentiment'" in refused.stderr
    assert not quality.exists()


def test_one_scorer_of_several_is_saved_as_a_capability_quality(iom_home):
    """Sentiment and language scored together: the mean of the two is neither capability's
    quality (the sentiment model's 'language' field is its lexicon's, never the expected
    "English"). With --scorer the capability gets the score of its own scorer."""
    r = iom("eval", "run", "--data", str(SAMPLE), "-v", "local/sentiment-vader#sentiment=label",
            "-s", "sentiment:classification", "-s", "language:classification", "--limit", "6", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    [variant] = doc["variants"]
    sentiment = next(s["mean"] for s in variant["scores"] if s["scorer"] == "sentiment:classification")
    quality = iom_home / "quality.json"
    whole = iom("eval", "save-quality", doc["id"], "--capability", "sentiment")
    assert whole.returncode == 0 and variant["quality"] < sentiment
    assert json.loads(quality.read_text())["sentiment"]["local/sentiment-vader"]["score"] == variant["quality"]
    one = iom("eval", "save-quality", doc["id"], "--capability", "sentiment", "--scorer", "sentiment:classification")
    assert one.returncode == 0, one.stderr
    assert one.stdout == (f"local/sentiment-vader: quality {sentiment:.3f} for 'sentiment' "
                          f"(from sentiment:classification in {doc['id']})\n")
    entry = json.loads(quality.read_text())["sentiment"]["local/sentiment-vader"]
    assert entry["score"] == sentiment and entry["scorers"] == ["sentiment:classification"]
    # saved beside health.json, not among the models: the registry once read it as a broken model
    listed = iom("models", "list", "--provider", "local")
    assert listed.returncode == 0 and listed.stderr == "" and "local/sentiment-vader" in listed.stdout
    unknown = iom("eval", "save-quality", doc["id"], "--capability", "sentiment", "--scorer", "sentiment:exact")
    assert unknown.returncode == 1 and unknown.stderr == (
        f"error: experiment {doc['id']} has no scorer 'sentiment:exact'; its scorers are "
        "sentiment:classification, language:classification.\n")


def test_a_judge_without_its_key_is_named_before_any_row_runs(iom_home):
    """It used to fail at grading, after every variant had run, with a traceback."""
    from studio.spec import ModelSpec
    from studio.spec.calls import CANONICAL_SCHEMAS

    s = Studio(iom_home)
    try:
        s.models.save(ModelSpec(id="t/judge", name="Judge", provider="openai", api="openai-chat",
                                endpoint="http://127.0.0.1:9/v1/chat/completions", model="judge-1",
                                key_ref="JUDGE_TEST_KEY", input_schema=CANONICAL_SCHEMAS["llm"][0],
                                output_schema=CANONICAL_SCHEMAS["llm"][1]))
    finally:
        s.close()
    r = iom("eval", "run", "--data", str(SAMPLE), "-v", "local/sentiment-vader#sentiment=label",
            "-s", "sentiment:llm_judge:t/judge", "--limit", "3")
    assert r.returncode == 1 and r.stderr == (
        "error: the judge t/judge needs the key JUDGE_TEST_KEY, which is not set; set it in Settings, with "
        "'iom keys set JUDGE_TEST_KEY', or as the environment variable JUDGE_TEST_KEY, then run the "
        "experiment again.\n")
    assert not (iom_home / "batches").exists() or not any((iom_home / "batches").iterdir())


async def test_a_variant_whose_rows_fail_says_why(iom_home):
    """100% errors and a quality of 0 said nothing of the cause: here a capability policy no
    model meets (nothing measured yet)."""
    from studio.spec import load_pipeline

    s = Studio(iom_home)
    try:
        s.pipelines.save(load_pipeline({
            "format": "iom.pipeline", "version": 1, "id": "pick", "name": "Pick",
            "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                      {"id": "c", "kind": "capability", "choose": {"capability": "classify", "strategy": "cheapest", "minQuality": 0.9}},
                      {"id": "out", "kind": "output"}],
            "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "c", "targetPort": "text"},
                      {"id": "e2", "source": "c", "sourcePort": "out", "target": "out", "targetPort": "in"}]}))
        doc = await run_experiment(s, str(SAMPLE), [Variant.parse("pick#sentiment=label")],
                                   [ScorerSpec.parse("sentiment:classification")], limit=4)
        await s.aclose()
    finally:
        s.close()
    [v] = doc["variants"]
    assert v["errorRate"] == 1.0 and v["quality"] == 0.0
    assert v["warnings"] == [
        "4 of 4 rows failed and scored 0 (row 0: node 'c' failed: no usable model with 'classify' has a measured quality "
        "of at least 0.9; run an experiment and save its scores ('iom eval save-quality'), or lower the node's minimum "
        f"quality); 'iom batch show {v['batchId']}' lists each row."]


def _priced_pair_pipeline(s, fake):
    """in -> a (t/a) -> b (t/b) -> out: two priced chat models at temperature 0, whose outputs
    the cache keeps; each call costs 10 in + 5 out tokens = $0.00002."""
    from studio.spec import ModelSpec, load_pipeline
    from studio.spec.calls import CANONICAL_SCHEMAS

    llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
    for mid in ("t/a", "t/b", "t/c"):
        s.models.save(ModelSpec(id=mid, name=mid, provider="openai", api="openai-chat", endpoint=fake.url("/v1/chat/completions"),
                                model=mid, key_ref="EVAL_TEST_KEY", input_schema=llm_in, output_schema=llm_out,
                                default_params={"temperature": 0},
                                prices={"input_per_token": 1e-6, "output_per_token": 2e-6}))
    s.pipelines.save(load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "pair", "name": "Pair",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                  {"id": "a", "kind": "model", "model": "t/a", "prompt": "{{ text }}"},
                  {"id": "b", "kind": "model", "model": "t/b", "prompt": "{{ text }}"},
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "a", "targetPort": "text"},
                  {"id": "e2", "source": "a", "sourcePort": "text", "target": "b", "targetPort": "text"},
                  {"id": "e3", "source": "b", "sourcePort": "text", "target": "out", "targetPort": "sentiment"}]}))


async def test_a_model_without_a_price_is_unpriced_never_free(iom_home, monkeypatch):
    """t/c has no price (none in its entry, its upstream model unknown to genai-prices). Its
    rows were summed as $0: the unknown model looked free and alone on the cost-quality front,
    pushing the priced one, of the same quality, off it."""
    from studio.spec.model import Prices
    from tests.engine.conftest import chat_reply
    from tests.fakes.provider_server import FakeProvider, Reply

    monkeypatch.setenv("EVAL_TEST_KEY", "sk-eval-test-000000000000")
    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", lambda req: Reply(json=chat_reply("positive")))
        s = Studio(iom_home)
        try:
            _priced_pair_pipeline(s, fake)
            s.models.save(s.models.get("t/c").model_copy(update={"prices": Prices(), "model": "mystery-model-1"}))
            doc = await run_experiment(s, str(SAMPLE), [Variant.parse("t/a#sentiment=text"), Variant.parse("t/c#sentiment=text"),
                                                        Variant.parse("pair@b=t/c")],
                                       [ScorerSpec.parse("sentiment:exact")], limit=4)
            await s.aclose()
        finally:
            s.close()
    priced, unpriced, half = doc["variants"]
    assert priced["quality"] == unpriced["quality"] is not None
    assert priced["costPerRowUsd"] == pytest.approx(2e-5) and priced["unpricedRows"] == 0 and priced["pareto"]
    assert unpriced["costUsd"] is None and unpriced["costPerRowUsd"] is None and unpriced["unpricedRows"] == 4
    assert not unpriced["pareto"]
    # a pipeline with one priced and one unpriced node: the priced part, and every row counted as unpriced
    assert half["costUsd"] == pytest.approx(4 * 2e-5) and half["unpricedRows"] == 4 and half["costPerRowUsd"] is None
    fig = figure(doc)
    assert fig["data"][0]["text"] == ["t/a#sentiment=text"]
    assert "t/c#sentiment=text" in fig["layout"]["annotations"][0]["text"]
    shown = iom("eval", "show", doc["id"])
    line = next(x for x in shown.stdout.splitlines() if "t/c#sentiment=text" in x)
    assert "unpriced (4 rows)" in line and "$0.000000" not in line
    batch = iom("batch", "show", half["batchId"])
    assert "cost $0.00008 + 4 unpriced rows" in batch.stdout


async def test_the_cli_prints_a_tiny_cost_with_its_significant_digits_not_as_zero(iom_home, monkeypatch):
    """A cheap model's cost a row ($1.5e-8: 15 tokens at $0.001 a million) printed as $0.000000
    in `iom eval show` and `iom batch show`, as if free; the Evaluate page showed its digits."""
    from studio.spec.model import Prices
    from tests.engine.conftest import chat_reply
    from tests.fakes.provider_server import FakeProvider, Reply

    monkeypatch.setenv("EVAL_TEST_KEY", "sk-eval-test-000000000000")
    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", lambda req: Reply(json=chat_reply("positive")))
        s = Studio(iom_home)
        try:
            _priced_pair_pipeline(s, fake)
            s.models.save(s.models.get("t/a").model_copy(update={"prices": Prices(input_per_token=1e-9,
                                                                                   output_per_token=1e-9)}))
            doc = await run_experiment(s, str(SAMPLE), [Variant.parse("t/a#sentiment=text")],
                                       [ScorerSpec.parse("sentiment:exact")], limit=4)
            await s.aclose()
        finally:
            s.close()
    v = doc["variants"][0]
    assert v["costPerRowUsd"] == pytest.approx(1.5e-8)
    line = next(x for x in iom("eval", "show", doc["id"]).stdout.splitlines() if "t/a#sentiment=text" in x)
    assert "$0.000000015" in line and "$0.00000006 " in line + " " and "$0.000000 " not in line + " ", line
    batch = iom("batch", "show", v["batchId"]).stdout
    assert "cost $0.00000006," in batch and batch.count("$0.000000015") == 4, batch


async def test_a_variant_sharing_nodes_is_measured_fresh_unless_the_cache_is_asked_for(iom_home, monkeypatch):
    """Variant 2 swaps node b only: node a's calls are the same as variant 1's. Answered from
    the cache they cost nothing and take no time, and variant 2 would look half its price."""
    from tests.engine.conftest import chat_reply
    from tests.fakes.provider_server import FakeProvider, Reply

    monkeypatch.setenv("EVAL_TEST_KEY", "sk-eval-test-000000000000")
    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", lambda req: Reply(json=chat_reply(req.json["messages"][-1]["content"][:40])))
        s = Studio(iom_home)
        try:
            _priced_pair_pipeline(s, fake)
            variants = [Variant.parse("pair"), Variant.parse("pair@b=t/c")]
            scorers = [ScorerSpec.parse("sentiment:exact")]
            fresh = await run_experiment(s, str(SAMPLE), variants, scorers, limit=4)
            calls_fresh = len(fake.requests)
            reused = await run_experiment(s, str(SAMPLE), variants, scorers, limit=4, use_cache=True)
            await s.aclose()
        finally:
            s.close()
    one, two = fresh["variants"]
    assert calls_fresh == 2 * 4 * 2  # two nodes, four rows, two variants: every call made
    assert one["costPerRowUsd"] == pytest.approx(4e-5) and two["costPerRowUsd"] == pytest.approx(4e-5)
    assert one["cachedRows"] == two["cachedRows"] == 0 and fresh["useCache"] is False
    # asked to reuse the cache, both variants find every call cached (variant 2's b was run
    # above as t/c): the rows cost nothing, and the experiment says how many rows that was
    assert reused["id"] != fresh["id"] and reused["useCache"] is True
    assert [v["cachedRows"] for v in reused["variants"]] == [4, 4] and len(fake.requests) == calls_fresh
    assert all(v["costUsd"] == 0.0 for v in reused["variants"])


async def test_a_variant_failing_fast_is_not_measured_as_fast(iom_home, monkeypatch):
    """Latency percentiles are of the rows that answered: a variant whose first node is refused
    (a 400 in a few ms) on 3 rows of 4 had a p50 of those refusals, and looked faster than the
    variant that answered every row in ~100 ms. The error rate says how many failed."""
    from studio.eval.batch import aggregate, load_rows, plan_batch
    from tests.engine.conftest import chat_reply
    from tests.fakes.provider_server import FakeProvider, Reply

    monkeypatch.setenv("EVAL_TEST_KEY", "sk-test")
    refusals, counting = [], threading.Lock()  # the fake answers each request in a thread of its own

    def answer(req):
        with counting:
            refuse = req.json["model"] == "t/c" and len(refusals) < 3
            if refuse:
                refusals.append(1)
        if refuse:
            return Reply(status=400, json={"error": {"message": "bad request", "type": "invalid_request_error"}})
        time.sleep(0.05)  # an answer takes 50 ms
        return Reply(json=chat_reply(req.json["messages"][-1]["content"][:40]))

    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", answer)
        s = Studio(iom_home)
        try:
            _priced_pair_pipeline(s, fake)
            variants = [Variant.parse("pair"), Variant.parse("pair@a=t/c")]
            doc = await run_experiment(s, str(SAMPLE), variants, [ScorerSpec.parse("sentiment:exact")], limit=4)
            plan = plan_batch(s, "pair", str(SAMPLE), limit=4, swaps={"a": "t/c"}, use_cache=False)
            batch = aggregate(plan, load_rows(iom_home, doc["variants"][1]["batchId"]))
            await s.aclose()
        finally:
            s.close()
    steady, flaky = doc["variants"]
    assert steady["errorRate"] == 0.0 and flaky["errorRate"] == 0.75
    assert steady["latencyP50Ms"] >= 100 and flaky["latencyP50Ms"] >= 100  # the one answer: two 50 ms calls
    assert flaky["latencyP50Ms"] == flaky["latencyP95Ms"] == batch["latencyP50Ms"]
    assert batch["failed"] == 3 and batch["succeeded"] == 1


async def test_an_edit_makes_a_new_experiment_and_keeps_the_one_before(iom_home):
    """Edit, evaluate again, compare with before: the experiment before the edit must still be
    there (it was overwritten: same data, variants and scorers gave the same id)."""
    from studio.eval.experiments import list_experiments

    variants = [Variant.parse("review-triage"), Variant.parse("local/sentiment-vader#sentiment=label")]
    scorers = [ScorerSpec.parse("sentiment:classification")]
    s = Studio(iom_home)
    try:
        before = await run_experiment(s, str(SAMPLE), variants, scorers, limit=3)
        assert (await run_experiment(s, str(SAMPLE), variants, scorers, limit=3))["id"] == before["id"]
        pipe = s.pipelines.get("review-triage")
        s.pipelines.save(pipe.model_copy(update={"nodes": [
            n.model_copy(update={"params": {"top": 1}}) if n.id == "keywords" else n for n in pipe.nodes]}))
        after = await run_experiment(s, str(SAMPLE), variants, scorers, limit=3)
        await s.aclose()
    finally:
        s.close()
    assert after["id"] != before["id"]
    assert after["variants"][0]["batchId"] != before["variants"][0]["batchId"]
    assert after["variants"][1]["batchId"] == before["variants"][1]["batchId"]  # the model did not change
    kept = load_experiment(iom_home, before["id"])
    assert kept["variants"][0]["batchId"] == before["variants"][0]["batchId"]
    assert {d["id"] for d in list_experiments(iom_home)} == {before["id"], after["id"]}


def test_delete_batches_and_experiments(iom_home):
    doc = two_variants(2)
    one, two = (v["batchId"] for v in doc["variants"])
    batches = iom_home / "batches"
    # one unknown id: nothing is removed, and the sentence names it
    bad = iom("batch", "delete", two, "b-nope")
    assert bad.returncode == 1 and "no batch 'b-nope'" in bad.stderr and (batches / two).is_dir()
    for outside in ("../experiments", "/etc"):
        refused = iom("batch", "delete", outside)
        assert refused.returncode == 1 and "is not a batch id" in refused.stderr and "Traceback" not in refused.stderr
    gone = iom("batch", "delete", two)
    assert gone.returncode == 0 and f"deleted batch {two}: 2 rows (experiment {doc['id']} keeps its figures" in gone.stderr
    assert not (batches / two).exists() and (batches / one).is_dir()
    assert iom("eval", "show", doc["id"]).returncode == 0  # the figures are in the experiment
    assert iom("eval", "delete", doc["id"], "--with-batches").returncode == 0
    assert not (batches / one).exists() and not (iom_home / "experiments" / f"{doc['id']}.json").exists()
    assert "no experiment" in iom("eval", "show", doc["id"]).stderr
    # files the studio did not write (a hand edit, a copy cut short): one sentence, never a
    # traceback, and the delete command removes them
    (iom_home / "experiments" / "xhand.json").write_text('{"id": "xhand"}')
    (iom_home / "experiments" / "xlist.json").write_text("[1, 2]")
    (batches / "bhand").mkdir()
    (batches / "bhand" / "batch.json").write_text('{"id": 3}')
    for args, says in ((("eval", "list"), None), (("eval", "show", "xhand"), "is not an experiment as the studio writes it"),
                       (("batch", "list"), None), (("batch", "show", "bhand"), "is not a batch plan as the studio writes it")):
        r = iom(*args)
        assert "Traceback" not in r.stderr and (r.returncode == 0 if says is None else says in r.stderr), (args, r.stderr)
    assert iom("eval", "delete", "xhand", "xlist").returncode == 0 and iom("batch", "delete", "bhand").returncode == 0
    assert not list((iom_home / "experiments").iterdir()) and not (batches / "bhand").exists()


def test_an_experiment_whose_batch_is_being_run_is_not_deleted(iom_home):
    """`iom eval delete --with-batches` checks every batch first: one being run (its lock held,
    here by this process as a running `iom batch run` holds it) stops the delete before anything
    is removed."""
    from studio.eval.batch import BatchLock, batch_dir

    doc = two_variants(2)
    running = doc["variants"][1]["batchId"]
    lock = BatchLock(batch_dir(iom_home, running), running)
    lock.acquire("")
    try:
        r = iom("eval", "delete", doc["id"], "--with-batches")
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert f"batch {running} of experiment {doc['id']} is being run" in r.stderr and "Nothing was deleted" in r.stderr
        assert (iom_home / "experiments" / f"{doc['id']}.json").is_file()
        assert all((iom_home / "batches" / v["batchId"] / "batch.json").is_file() for v in doc["variants"])
    finally:
        lock.release()
    r = iom("eval", "delete", doc["id"], "--with-batches")
    assert r.returncode == 0 and not any((iom_home / "batches" / v["batchId"]).exists() for v in doc["variants"])


def test_a_hand_edited_batch_id_is_not_followed_out_of_batches(iom_home):
    """`--with-batches` checks each batch's lock before deleting anything; a batch id that is a
    path (a hand edit) must not make it open or create a lock file outside batches/."""
    from studio.eval.experiments import delete_experiment

    outside = iom_home / "elsewhere"
    outside.mkdir()
    (iom_home / "batches").mkdir(exist_ok=True)  # so that batches/../elsewhere resolves
    (iom_home / "experiments").mkdir(exist_ok=True)
    (iom_home / "experiments" / "xpath.json").write_text(json.dumps(
        {"id": "xpath", "data": "d.csv", "scorers": [], "variants": [{"variant": "v", "batchId": "../elsewhere"}]}))
    assert delete_experiment(iom_home, "xpath", with_batches=True) == []
    assert not (iom_home / "experiments" / "xpath.json").exists() and list(outside.iterdir()) == []


def test_row_diffs_pair_rows_by_index_where_either_side_lacks_some(iom_home):
    """Two batches stopped at different rows, their lines written in the order rows finished (a
    row run again after a crash written twice): each index once, in order, the missing side
    empty; the last line of a row is the one compared, as load_rows kept it."""
    from studio.eval.batch import rows_file

    def write(batch_id, rows):
        path = rows_file(iom_home, batch_id)
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def row(index, label, status="succeeded"):
        return {"index": index, "status": status, "inputs": {"text": f"t{index}"}, "expected": {"sentiment": "pos"},
                "output": {"label": label}}

    write("ba", [row(2, "pos"), row(0, "neg"), row(3, "pos"), row(0, "pos")])  # row 0 ran again: now "pos"
    write("bb", [row(4, "neg"), row(1, "neg"), row(0, "pos"), row(2, "neg", "failed")])
    doc = {"id": "x", "scorers": ["sentiment:exact"], "variants": [
        {"variant": "a", "batchId": "ba", "fields": {"sentiment": "label"}, "scores": [{"scorer": "sentiment:exact", "perRow": {"0": 1.0}}]},
        {"variant": "b", "batchId": "bb", "fields": {"sentiment": "label"}, "scores": [{"scorer": "sentiment:exact", "perRow": {}}]}]}
    every = list(row_diffs(iom_home, doc, "1", "2", only_different=False))
    assert [d["index"] for d in every] == [0, 1, 2, 3, 4]
    assert every[0]["a"] == {"status": "succeeded", "fields": {"sentiment": "pos"}, "scores": {"sentiment:exact": 1.0}, "error": None}
    assert every[1]["a"]["status"] is None and every[1]["inputs"] == {"text": "t1"}
    assert every[3]["b"] == {"status": None, "fields": {"sentiment": None}, "scores": {"sentiment:exact": None}, "error": None}
    assert [d["index"] for d in row_diffs(iom_home, doc, "a", "b")] == [1, 2, 3, 4]  # row 0 is the same on both


def test_listing_experiments_reads_their_figures_not_each_rows_scores(iom_home):
    """Per-row scores (a figure per row, scorer and variant) are kept beside the experiment's
    figures: listing reads only the figures, loading one joins them again."""
    from studio.eval.experiments import experiments_root, list_experiments, per_row_path, save_experiment

    def variant(name, scores):
        return {"variant": name, "batchId": f"b{name}", "quality": 0.5,
                "scores": [{"scorer": k, "mean": 0.5, "perRow": rows} for k, rows in scores.items()]}
    doc = {"id": "xsplit", "data": "d.csv", "created": "2026-12-07", "scorers": ["a:exact", "b:contains"],
           "variants": [variant("one", {"a:exact": {"0": 1.0, "1": 0.0}, "b:contains": {"0": None, "1": 1.0}}),
                        variant("two", {"a:exact": {"0": 0.0}, "b:contains": {}})]}
    save_experiment(iom_home, json.loads(json.dumps(doc)))
    assert "perRow" not in (experiments_root(iom_home) / "xsplit.json").read_text()
    listed, = list_experiments(iom_home)
    assert [s.get("perRow") for v in listed["variants"] for s in v["scores"]] == [None] * 4
    assert load_experiment(iom_home, "xsplit") == doc
    # one saved before per-row scores were kept apart has them in its own file
    (experiments_root(iom_home) / "xold.json").write_text(json.dumps({**doc, "id": "xold"}))
    assert load_experiment(iom_home, "xold") == {**doc, "id": "xold"}
    # a per-row file gone: the figures still read, the row scores are empty
    per_row_path(iom_home, "xsplit").unlink()
    again = load_experiment(iom_home, "xsplit")
    assert again["variants"][0]["quality"] == 0.5 and [s["perRow"] for v in again["variants"] for s in v["scores"]] == [{}] * 4


def test_an_experiment_saved_before_scores_counted_fields_is_counted_from_its_rows(iom_home):
    """An old experiment's scores say nothing of rows without the scored field; its batch's rows
    do: a score that read no answered row's field is not a quality to save."""
    from studio.eval.batch import rows_file
    from studio.eval.caveats import unread_scores

    path = rows_file(iom_home, "bx")
    path.parent.mkdir(parents=True)
    rows = [{"index": 0, "status": "succeeded", "output": {"text": "pos"}},
            {"index": 1, "status": "failed", "output": {"label": "pos"}},  # failed: not counted
            {"index": 2, "status": "succeeded", "output": {"text": "neg", "lang": "en"}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    variant = {"batchId": "bx", "fields": {"sentiment": "label"},
               "scores": [{"scorer": "sentiment:exact"}, {"scorer": "lang:exact"}, {"scorer": "sentiment:llm_judge"}]}
    assert unread_scores(variant, iom_home) == [  # the judge reads the field named for its column too
        {"scorer": "sentiment:exact", "field": "label", "answered": 2, "missingField": 2},
        {"scorer": "sentiment:llm_judge", "field": "label", "answered": 2, "missingField": 2}]
    # with no field named, the judge reads the whole output; lang is in one answered row of two
    assert unread_scores({**variant, "fields": {}}, iom_home) == [
        {"scorer": "sentiment:exact", "field": "sentiment", "answered": 2, "missingField": 2}]
