"""Quality feeds routing: an experiment's measured scores saved into the registry, then a
capability node picks by them and its run record explains the choice with the numbers."""

from __future__ import annotations

import re

import subprocess
import sys
from pathlib import Path

import pytest

from studio.core import Studio
from studio.errors import UserError
from studio.spec import load_pipeline

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


def _pipeline(choose: dict):
    return load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "pick", "name": "Pick",
        "nodes": [{"id": "in", "kind": "input", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                  {"id": "c", "kind": "capability", "choose": {"capability": "classify", **choose}},
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "sourcePort": "text", "target": "c", "targetPort": "text"},
                  {"id": "e2", "source": "c", "sourcePort": "out", "target": "out", "targetPort": "in"}]})


def iom(*args):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True)


async def test_capability_node_picks_by_saved_scores(iom_home):
    # both built-in classifiers have the 'classify' capability and cost nothing; only a
    # measurement tells them apart on the sentiment labels
    r = iom("eval", "run", "--data", str(SAMPLE), "-v", "local/sentiment-vader#sentiment=label",
            "-v", "local/language-detect#sentiment=language", "-s", "sentiment:classification", "--limit", "12", "--json")
    assert r.returncode == 0, r.stderr
    exp = __import__("json").loads(r.stdout)
    vader = exp["variants"][0]["quality"]
    assert vader > 0.5 and exp["variants"][1]["quality"] == 0.0

    s = Studio(iom_home)
    try:
        # nothing measured yet: a minimum quality cannot be met, and the run says why
        record = await s.engine.run(_pipeline({"strategy": "cheapest", "minQuality": 0.5}), {"text": "Great phone!"})
        assert record.status == "failed" and "measured quality of at least 0.5" in (record.nodes["c"].error or record.error)
        saved = iom("eval", "save-quality", exp["id"], "--capability", "classify")
        assert saved.returncode == 0 and "local/sentiment-vader" in saved.stdout
        shown = __import__("json").loads(iom("models", "show", "local/sentiment-vader", "--json").stdout)
        assert [(m["capability"], m["score"], m["dataset"], m["rows"], m["current"]) for m in shown["measuredQuality"]] == [
            ("classify", vader, "reviews.csv", 12, True)]
        for choose in ({"strategy": "cheapest", "minQuality": 0.5}, {"strategy": "best"}, {"strategy": "quality_per_dollar"}):
            record = await s.engine.run(_pipeline(choose), {"text": "Great phone!"})
            node = record.nodes["c"]
            assert node.model_id == "local/sentiment-vader", (choose, node.reason)
            assert f"quality {vader:.3f} (measured on reviews.csv" in node.reason
            # latency from the analytics of the experiment's 12 recorded calls (plus this test's own runs,
            # once the writer has committed them), not the declared figure
            seen = re.search(r"measured p50 of (\d+) recent answer\(s\), 0% of \1 call\(s\) failed", node.reason)
            assert seen and int(seen.group(1)) >= 12, node.reason
            if "minQuality" in choose:  # the 0.0-quality model was filtered out by the threshold
                assert "of 1 model(s)" in node.reason
            else:
                assert "next: local/language-detect quality 0.000" in node.reason
        # the score belongs to the model as it was measured: a new description keeps it, new
        # default params (a different sentiment threshold) make it a model nobody has measured
        vader_spec = s.models.get("local/sentiment-vader")
        s.models.save(vader_spec.model_copy(update={"description": "reworded"}))
        record = await s.engine.run(_pipeline({"strategy": "best"}), {"text": "Great phone!"})
        assert f"quality {vader:.3f} (measured on reviews.csv" in record.nodes["c"].reason
        s.models.save(vader_spec.model_copy(update={"default_params": {"threshold": 0.5}}))
        from studio.registry.quality import measured_for
        assert [m["current"] for m in measured_for(iom_home, s.models.get("local/sentiment-vader"))] == [False]
        record = await s.engine.run(_pipeline({"strategy": "cheapest", "minQuality": 0.5}), {"text": "Great phone!"})
        assert record.status == "failed" and "measured quality of at least 0.5" in (record.nodes["c"].error or record.error)
        record = await s.engine.run(_pipeline({"strategy": "best"}), {"text": "Great phone!"})
        node = record.nodes["c"]  # the one measured model left is the 0.0 one
        assert node.model_id == "local/language-detect" and "next: local/sentiment-vader quality not measured" in node.reason
        await s.aclose()
    finally:
        s.close()


def test_latency_falls_back_to_declared_and_errors_count():
    from studio.engine.choose import choose_model
    from studio.spec.model import ModelSpec
    from studio.spec.pipeline import CapabilityChoice

    def spec(mid, ms):
        return ModelSpec(id=mid, name=mid, provider="local", api="local", model=mid, capabilities=["x"], latency_ms=ms)
    a, b = spec("t/a", 100), spec("t/b", 300)
    choice = CapabilityChoice(capability="x", strategy="fastest")
    chosen, why, _ = choose_model(choice, [a, b], {}, lambda s: True)
    assert chosen.id == "t/a" and "~100 ms (declared)" in why
    # measured: a is fast but fails 80% of its calls, b is measured at 250 ms with no error
    calls = {"t/a": {"p50Ms": 90.0, "calls": 10, "errorRate": 0.8}, "t/b": {"p50Ms": 250.0, "calls": 10, "errorRate": 0.0}}
    chosen, why, _ = choose_model(choice, [a, b], {}, lambda s: True, calls=calls)
    assert chosen.id == "t/b" and "~250 ms (measured p50 of 10 recent answer(s), 0% of 10 call(s) failed)" in why



def test_a_per_call_price_is_not_routed_as_free_or_within_a_price_per_token():
    """The $0.50-a-call model with free tokens counted as $0/Mtok: the cheapest, and within any
    maximum price."""
    from studio.engine.choose import choose_model
    from studio.spec.model import ModelSpec
    from studio.spec.pipeline import CapabilityChoice

    def spec(mid, **prices):
        return ModelSpec(id=mid, name=mid, provider="local", api="local", model=mid, capabilities=["x"],
                         latency_ms=100, prices=prices)
    fee = spec("t/a-fee", input_per_token=0, output_per_token=0, per_call=0.5)
    tokens = spec("t/b-tokens", input_per_token=1e-6, output_per_token=2e-6)
    chosen, why, rest = choose_model(CapabilityChoice(capability="x", strategy="cheapest"), [fee, tokens], {}, lambda s: True)
    assert chosen.id == "t/b-tokens" and [s.id for s in rest] == ["t/a-fee"]
    assert "~$0.0015 a call ($1 / $2 per Mtok)" in why and "next: t/a-fee quality not measured, ~$0.5 a call ($0.5/call)" in why
    limited = CapabilityChoice(capability="x", strategy="cheapest", max_price_per_token=1e-5)
    assert choose_model(limited, [fee, tokens], {}, lambda s: True)[0].id == "t/b-tokens"
    with pytest.raises(UserError, match="within the node's limits"):
        choose_model(limited, [fee], {}, lambda s: True)


def test_cheapest_is_the_lowest_expected_cost_of_the_call_not_the_larger_price():
    """Ranked by max(input, output) price, 'cheapest' chose $4/$4 per Mtok over $0.1/$5, which
    costs less than half as much for a call of equal input and output and far less for an
    input-heavy one. The reason names the call's estimated tokens and each model's cost."""
    from studio.engine.choose import choose_model, expected_tokens
    from studio.spec.model import ModelSpec
    from studio.spec.pipeline import CapabilityChoice, Node

    def spec(mid, **prices):
        return ModelSpec(id=mid, name=mid, provider="local", api="local", model=mid, capabilities=["x"],
                         latency_ms=100, prices=prices)
    pa = spec("t/pa", input_per_token=0.1e-6, output_per_token=5e-6)
    pb = spec("t/pb", input_per_token=4e-6, output_per_token=4e-6)
    fee = spec("t/pc-fee", input_per_token=0, output_per_token=0, per_call=0.001)
    cheapest = CapabilityChoice(capability="x", strategy="cheapest")
    chosen, why, rest = choose_model(cheapest, [pb, pa], {}, lambda s: True)
    assert chosen.id == "t/pa" and [s.id for s in rest] == ["t/pb"], why
    assert ("(prices for a call of ~500 in / 500 out tokens, the default estimate): t/pa quality not measured, "
            "~$0.00255 a call ($0.1 / $5 per Mtok)") in why and "next: t/pb quality not measured, ~$0.004 a call" in why
    # a per-call fee counts with the tokens: cheaper than both for a long call, dearer for a short one
    chosen, why, _ = choose_model(cheapest, [pb, pa, fee], {}, lambda s: True, tokens=(20_000, 500))
    assert chosen.id == "t/pc-fee" and "~20,000 in / 500 out tokens, as estimated for this call" in why, why
    assert choose_model(cheapest, [pb, pa, fee], {}, lambda s: True, tokens=(100, 50))[0].id == "t/pa"
    # the estimate: about four characters a token of the templates and inputs; max_tokens out
    node = Node(id="c", kind="capability", choose=cheapest, prompt="Summarise: {{ text }}", params={"max_tokens": 64})
    assert expected_tokens(node, {"text": "x" * 4000}) == (1005, 64)
    assert expected_tokens(node.model_copy(update={"params": {}}), {"text": "hi"})[1] == 500


def test_measured_latency_is_of_the_calls_that_answered(iom_home):
    """A refusal comes back fast: with a flaky model's 429s (20 ms) counted in its p50, a
    'fastest' node chose the model that failed 6 calls in 10 and answered in 2 s over a steady
    one at 500 ms. The p50 is now of the answers; the error rate is still of every call."""
    from studio.engine.choose import choose_model
    from studio.spec.model import ModelSpec
    from studio.spec.pipeline import CapabilityChoice
    from studio.spec.records import CallRecord

    s = Studio(iom_home)
    try:
        calls = [("t/flaky", "error", 20.0)] * 6 + [("t/flaky", "ok", 2000.0)] * 4 + [("t/steady", "ok", 500.0)] * 10
        for i, (model, status, ms) in enumerate(calls):
            s.analytics.record_call(CallRecord(id=f"c{i}", model_id=model, provider="openai", status=status,
                                               error_class="rate_limited" if status == "error" else None,
                                               latency_ms=ms))
        s.analytics.flush()  # routing reads what is committed, not what is still queued
        stats = s.engine.recent_call_stats()
        assert stats["t/flaky"] == {"p50Ms": 2000.0, "calls": 10, "answered": 4, "errorRate": 0.6}
        assert stats["t/steady"] == {"p50Ms": 500.0, "calls": 10, "answered": 10, "errorRate": 0.0}
        specs = [ModelSpec(id=m, name=m, provider="local", api="local", model=m, capabilities=["x"], latency_ms=100)
                 for m in ("t/flaky", "t/steady")]
        chosen, why, _ = choose_model(CapabilityChoice(capability="x", strategy="fastest"), specs, {},
                                      lambda spec: True, calls=stats)
        assert chosen.id == "t/steady", why
        assert "~500 ms (measured p50 of 10 recent answer(s), 0% of 10 call(s) failed)" in why
        assert "next: t/flaky" in why and "~2000 ms (measured p50 of 4 recent answer(s), 60% of 10 call(s) failed)" in why
        # every recent call failed: no measured latency, the declared one, and the reason says so
        chosen, why, _ = choose_model(CapabilityChoice(capability="x", strategy="fastest"), specs[:1], {},
                                      lambda spec: True, calls={"t/flaky": {"p50Ms": None, "calls": 3, "answered": 0,
                                                                            "errorRate": 1.0}})
        assert "~100 ms (declared; its 3 recent call(s) all failed)" in why
    finally:
        s.close()


async def test_policy_variants_of_a_capability_node_run_side_by_side(iom_home):
    """One saved pipeline, its capability node under two policies: each variant is its own batch,
    and the policy decides the outcome (nothing is measured yet, so a quality floor fails)."""
    from studio.errors import UserError
    from studio.eval.batch import swapped_pipeline
    from studio.eval.experiments import Variant, run_experiment
    from studio.eval.scorers import ScorerSpec

    s = Studio(iom_home)
    try:
        s.pipelines.save(_pipeline({"strategy": "balanced"}))
        node = {n.id: n for n in swapped_pipeline(s, "pick", {"c": "cheapest:0.85"}).nodes}["c"]
        assert (node.choose.strategy, node.choose.min_quality, node.choose.capability) == ("cheapest", 0.85, "classify")
        for bad, says in (("cheap", "one of cheapest, fastest"), ("best:2", "from 0 to 1"), ("best:x", "from 0 to 1")):
            try:
                swapped_pipeline(s, "pick", {"c": bad})
                raise AssertionError(f"{bad!r} was accepted")
            except UserError as e:
                assert says in str(e), str(e)
        doc = await run_experiment(s, str(SAMPLE), [Variant.parse("pick@c=balanced#sentiment=label"),
                                                    Variant.parse("pick@c=cheapest:0.5#sentiment=label")],
                                   [ScorerSpec.parse("sentiment:classification")], limit=4)
        await s.aclose()
    finally:
        s.close()
    balanced, floored = doc["variants"]
    assert balanced["batchId"] != floored["batchId"]
    assert balanced["errorRate"] == 0.0 and floored["errorRate"] == 1.0


async def test_recent_call_figures_are_read_once_a_while_not_per_run(iom_home, monkeypatch):
    """Capability nodes take latency and error rates from the analytics (the writer's commit
    and two queries over days of calls): one read serves the runs of CALL_STATS_FRESH_S; a
    failed read is not kept, so the next run asks again, and the run that met it routes by
    the last figures read (declared ones before any)."""
    s = Studio(iom_home)
    try:
        reads = []
        real = s.engine.recent_call_stats

        def counted(days=7):
            reads.append(days)
            if len(reads) in (2, 4):
                raise RuntimeError("analytics unreadable")
            return real(days)

        monkeypatch.setattr(s.engine, "recent_call_stats", counted)
        pipeline = _pipeline({"strategy": "fastest"})
        for _ in range(3):
            record = await s.engine.run(pipeline, {"text": "Great phone!"})
            assert record.status == "succeeded", record.error
        assert len(reads) == 1
        assert "(declared)" in record.nodes["c"].reason  # the one read came before any call
        monkeypatch.setattr(type(s.engine), "CALL_STATS_FRESH_S", 0.0)
        record = await s.engine.run(pipeline, {"text": "Great phone!"})  # the failed read: declared figures
        assert record.status == "succeeded" and "(declared)" in record.nodes["c"].reason, record.nodes["c"].reason
        # asked again: the calls committed so far (routing does not wait for the writer). The model
        # of the first run was called once; its three later answers came from the output cache,
        # which says nothing of the model's latency
        s.analytics.flush()
        record = await s.engine.run(pipeline, {"text": "Great phone!"})
        assert len(reads) == 3 and "measured p50 of 1 recent answer(s), 0% of 1 call(s) failed" in record.nodes["c"].reason, record.nodes["c"].reason
        monkeypatch.setattr(type(s.engine), "CALL_STATS_FRESH_S", 60.0)
        record = await s.engine.run(pipeline, {"text": "Great phone!"})
        assert len(reads) == 3 and "measured p50 of 1 recent answer(s), 0% of 1 call(s) failed" in record.nodes["c"].reason, record.nodes["c"].reason
        monkeypatch.setattr(type(s.engine), "CALL_STATS_FRESH_S", 0.0)
        record = await s.engine.run(pipeline, {"text": "Great phone!"})  # a failed read after a good one
        assert len(reads) == 4 and "measured p50 of 1 recent answer(s)" in record.nodes["c"].reason, record.nodes["c"].reason
        await s.aclose()
    finally:
        s.close()


async def test_runs_asking_at_once_share_one_read_that_does_not_wait_for_the_writer(iom_home, monkeypatch):
    """A batch's first rows all reach their capability node at once: each used to read the
    figures itself, and each read waited for the writer to commit what was queued (eight rows
    waited 330-560 ms, and 130-170 ms at every refresh). They now share one read of what is
    committed."""
    import asyncio
    import threading

    from studio.spec.records import CallRecord

    s = Studio(iom_home)
    try:
        s.analytics.record_call(CallRecord(id="c0", model_id="t/a", provider="openai", latency_ms=40.0))
        s.analytics.flush()
        reads = []
        real = s.engine.recent_call_stats

        def counted(days=7):
            reads.append(days)
            return real(days)

        monkeypatch.setattr(s.engine, "recent_call_stats", counted)
        hold = threading.Event()
        s.analytics.submit(lambda cur: None)  # the writer is up; now keep it busy, as under a batch
        blocked = asyncio.get_running_loop().run_in_executor(None, s.analytics.submit, lambda cur: hold.wait(10))
        try:
            figures = await asyncio.wait_for(asyncio.gather(*(s.engine.call_stats() for _ in range(8))), 5)
        finally:
            hold.set()
            await blocked
        assert len(reads) == 1 and all(f == figures[0] for f in figures)
        assert figures[0]["t/a"]["p50Ms"] == 40.0
        await s.aclose()
    finally:
        s.close()


def test_a_score_is_used_for_the_model_version_it_was_measured_on():
    from studio.engine.cache import answer_version
    from studio.engine.choose import choose_model
    from studio.spec.model import ModelSpec
    from studio.spec.pipeline import CapabilityChoice

    a = ModelSpec(id="t/a", name="a", provider="local", api="local", model="vader-sentiment", capabilities=["x"])
    choice = CapabilityChoice(capability="x", strategy="best")
    entry = {"score": 0.9, "dataset": "d.csv", "date": "2026-12-01T00:00:00", "experiment": "x1"}
    for version, says in ((answer_version(a), "quality 0.900 (measured on d.csv 2026-12-01)"),
                          (None, "quality 0.900 (measured on d.csv 2026-12-01)"),  # saved before versions were kept
                          ("0123456789abcdef", "quality not measured since the model was edited (its score is from experiment x1)")):
        _, why, _ = choose_model(choice, [a], {}, lambda s: True, quality={"t/a": {**entry, "modelVersion": version}})
        assert says in why, why


def test_a_capability_nodes_candidates_are_part_of_its_batch(iom_home):
    """A model registered with the capability is one the node may now choose: another batch."""
    from studio.eval.batch import plan_batch

    s = Studio(iom_home)
    try:
        s.pipelines.save(_pipeline({"strategy": "cheapest"}))
        before = plan_batch(s, "pick", str(SAMPLE), limit=2).id
        vader = s.models.get("local/sentiment-vader")
        s.models.save(vader.model_copy(update={"id": "local/vader-copy", "name": "copy"}))
        assert plan_batch(s, "pick", str(SAMPLE), limit=2).id != before
    finally:
        s.close()


def test_a_model_measured_by_two_variants_is_saved_once_and_the_note_says_which(iom_home):
    from studio.registry.quality import load_quality, save_from_experiment

    def variant(name, target, swaps, quality):
        return {"variant": name, "target": target, "swaps": swaps, "quality": quality, "rows": 4, "batchId": "b",
                "scores": [{"scorer": "sentiment:exact", "field": "sentiment", "answered": 4, "missingField": 0}]}
    doc = {"id": "x1", "data": "d.csv", "scorers": ["sentiment:exact"], "created": "2026-12-06T00:00:00",
           "variants": [variant("local/a", "local/a", {}, 0.5), variant("p@s=local/a", "p", {"s": "local/a"}, 0.75)]}
    saved, notes = save_from_experiment(iom_home, doc, "sentiment", lambda m: object())
    assert saved == [("local/a", 0.75)] and load_quality(iom_home)["sentiment"]["local/a"]["score"] == 0.75
    assert notes == ["local/a: measured by more than one variant; saved the last one's quality (p@s=local/a: 0.750), not 0.500."]
    doc["variants"][0]["quality"] = 0.75
    assert save_from_experiment(iom_home, doc, "sentiment", lambda m: object()) == ([("local/a", 0.75)], [])
    damaged = '{"sentiment": {"local/a": {"score": 0.75,'  # cut short: mendable by hand, so never written over
    (iom_home / "quality.json").write_text(damaged)
    with pytest.raises(UserError, match="cannot be read .* Nothing was saved"):
        save_from_experiment(iom_home, doc, "sentiment", lambda m: object())
    assert (iom_home / "quality.json").read_text() == damaged


def test_scores_saved_among_the_models_move_beside_health_json_and_a_model_named_quality_stays(tmp_path):
    """The first versions saved scores as models/quality.json, where the registry read them as a
    model it could not read (a warning on every `iom models list`)."""
    import json

    from studio.registry.quality import load_quality

    scores = {"sentiment": {"local/sentiment-vader": {"score": 0.8, "dataset": "reviews"}}}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "quality.json").write_text(json.dumps(scores))
    studio = Studio(tmp_path, seed_samples=False)
    assert studio.models.problems() == [] and not (tmp_path / "models" / "quality.json").exists()
    assert load_quality(tmp_path) == scores

    other = tmp_path / "other"
    first = Studio(other)
    first.models.save(first.models.get("local/sentiment-vader").model_copy(update={"id": "quality"}))
    again = Studio(other)  # a model whose id is "quality" has that file: it stays a model
    assert again.models.get("quality").id == "quality" and not (other / "quality.json").exists()


def test_a_variant_whose_every_row_failed_saves_no_quality(iom_home):
    """A swap that broke the pipeline failed every row; its scores of 0 were saved as the swapped
    model's quality, and a "best" node then chose by a measurement of nothing."""
    from studio.registry.quality import load_quality, save_from_experiment

    def variant(name, swaps, quality, error_rate):
        return {"variant": name, "target": "p", "swaps": swaps, "quality": quality, "rows": 4, "batchId": "b",
                "errorRate": error_rate, "scores": [{"scorer": "sentiment:exact", "field": "sentiment", "answered": 4,
                                                     "missingField": 0}]}
    doc = {"id": "x2", "data": "d.csv", "scorers": ["sentiment:exact"], "created": "2026-12-06T00:00:00",
           "variants": [variant("p@s=local/a", {"s": "local/a"}, 0.0, 1.0), variant("p@s=local/b", {"s": "local/b"}, 0.5, 0.25)]}
    saved, notes = save_from_experiment(iom_home, doc, "sentiment", lambda m: object())
    assert saved == [("local/b", 0.5)] and "local/a" not in load_quality(iom_home)["sentiment"]
    assert notes == ["local/a: not saved, because every row of p@s=local/a failed, so none of its answers was scored; "
                     "mend what made the rows fail and run the experiment again."]


def test_quality_saved_by_several_processes_at_once_keeps_every_score(iom_home):
    """quality.json is read, changed and written whole: "Save quality for routing" in the web app
    and `iom eval save-quality` at once lost each other's scores. Now a file lock makes each save one step."""
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = """
import sys, time
from pathlib import Path
from studio.registry.quality import save_from_experiment
home, who, go = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, go - time.time()))  # all start saving together
for i in range(20):
    v = {"variant": f"p{who}/m{i}", "target": f"p{who}/m{i}", "swaps": {}, "quality": 0.5, "rows": 1, "batchId": "b",
         "scores": [{"scorer": "s:exact", "field": "s", "answered": 1, "missingField": 0}]}
    doc = {"id": "x", "data": "d.csv", "scorers": ["s:exact"], "created": "2026-12-06T00:00:00", "variants": [v]}
    save_from_experiment(home, doc, "sentiment", lambda m: object())
"""
    go = time.time() + 2.0  # past every process's imports
    procs = [subprocess.Popen([sys.executable, "-c", script, str(iom_home), str(n), str(go)],
                              cwd=Path(__file__).resolve().parents[2]) for n in range(6)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    saved = json.loads((iom_home / "quality.json").read_text("utf-8"))["sentiment"]
    missing = {f"p{n}/m{i}" for n in range(6) for i in range(20)} - set(saved)
    assert not missing, f"{len(missing)} of 120 scores lost"


def test_a_key_missing_health_from_before_the_key_was_set_does_not_keep_the_model_out():
    """A model checked as key_missing stayed refused by capability nodes after its key was set
    (in the environment, or by another process), until the next check up to 30 minutes later."""
    from studio.engine.choose import choose_model
    from studio.spec.model import HealthStatus, ModelSpec
    from studio.spec.pipeline import CapabilityChoice

    spec = ModelSpec(id="t/a", name="a", provider="local", api="local", model="a", capabilities=["x"], key_ref="A_KEY")
    stale = {"t/a": HealthStatus(state="key_missing", detail="key A_KEY is not set")}
    chosen, _, _ = choose_model(CapabilityChoice(capability="x"), [spec], stale, lambda s: True)
    assert chosen.id == "t/a"


def test_no_model_left_for_its_health_names_the_models_and_how_to_check_again():
    from studio.engine.choose import choose_model
    from studio.errors import UserError
    from studio.spec.model import HealthStatus, ModelSpec
    from studio.spec.pipeline import CapabilityChoice

    def spec(mid):
        return ModelSpec(id=mid, name=mid, provider="local", api="local", model=mid, capabilities=["x"])
    health = {"t/a": HealthStatus(state="auth_failed"), "t/b": HealthStatus(state="unreachable")}
    with pytest.raises(UserError) as e:
        choose_model(CapabilityChoice(capability="x"), [spec("t/a"), spec("t/b")], health, lambda s: True)
    assert str(e.value) == ("no registered model offers 'x' within the node's limits: t/a (auth failed), t/b "
                            "(unreachable) were left out for their last health check; once fixed, check again "
                            "with 'iom models check ID' (or \"Check now\" on the Registry page).")
