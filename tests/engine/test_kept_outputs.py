"""The node outputs a run keeps for "run from node" are written after the run returns (off its
path), yet a second process — `iom run --from` after `iom run` — finds them, and so does a run
from node in the same process right after the first."""

from __future__ import annotations

import asyncio
import json
import shutil

from studio.engine.kept_outputs import KeptOutputs, read_nodes
from tests.helpers.faces import REVIEW, iom


def test_the_next_process_reuses_the_outputs_the_last_one_kept(iom_home):
    first = iom(iom_home, "run", "review-triage", "--input", REVIEW, "--no-cache", "--json")
    assert first.returncode == 0, first.stderr
    sentiment = json.loads(first.stdout)["nodes"]["sentiment"]["output"]
    again = iom(iom_home, "run", "review-triage", "--input", REVIEW, "--from", "merge", "--json")
    assert again.returncode == 0, again.stderr
    nodes = json.loads(again.stdout)["nodes"]
    assert nodes["sentiment"]["status"] == "cached" and "last run" in nodes["sentiment"]["reason"]
    assert nodes["sentiment"]["output"] == sentiment
    assert nodes["merge"]["status"] == "succeeded"


async def test_queued_outputs_are_written_shortly_and_merged_in_order(tmp_path):
    kept, path = KeptOutputs(tmp_path), tmp_path / "runs" / "p.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"version": 2, "nodes": {"a": 0, "b": 0}}))
    kept.merge(path, json.dumps({"a": 1}))
    kept.merge(path, json.dumps({"a": 2, "c": 2}))
    assert read_nodes(path) == {"a": 0, "b": 0}  # not yet: the run has returned, the write waits
    await asyncio.sleep(0.5)
    assert read_nodes(path) == {"a": 2, "b": 0, "c": 2}
    kept.merge(path, json.dumps({"b": 3}))
    kept.settle(path)  # a reader in this process writes what is queued first
    assert read_nodes(path) == {"a": 2, "b": 3, "c": 2}


def test_a_file_of_the_format_before_stamps_is_started_again(tmp_path):
    """Its outputs cannot be told current: they are made again once, not reused."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"a": {"text": "old"}}))
    assert read_nodes(path) == {}


async def test_outputs_queued_for_a_data_dir_that_is_gone_are_not_written(tmp_path):
    """The write at exit made a removed data dir again (each bench_engine run left its temporary
    one in /tmp)."""
    home = tmp_path / "home"
    home.mkdir()
    kept = KeptOutputs(home)
    kept.merge(home / "cache" / "runs" / "p.json", json.dumps({"a": 1}))  # queued: a loop is running
    shutil.rmtree(home)
    kept.write_all()  # what the timer and atexit do
    assert not home.exists()


def test_the_kept_outputs_hold_no_key(iom_home):
    """The file was written as the run's outputs were: a key typed into the input (or echoed by
    a provider) was kept there in plain text, masked everywhere else. Masked, it was then sent
    on by `--from` as the upstream text ("my key is ••••"): such an output is not kept at all."""
    key = "sk-proj-" + "AAAAQQQQ1111zzzz2222yyyy3333"
    text = json.dumps({"text": f"Lovely room, cold breakfast, and my key is {key} by mistake."})
    ran = iom(iom_home, "run", "review-triage", "--input", text, "--no-cache", "--json")
    assert ran.returncode == 0, ran.stderr
    path = iom_home / "cache" / "runs" / "review-triage.json"
    assert key not in path.read_text("utf-8") and "••••" not in path.read_text("utf-8")
    nodes = read_nodes(path)
    assert "output" not in nodes["in"] and nodes["in"]["notKept"] == "it held a secret"
    assert "output" in nodes["sentiment"]  # (its label holds no key)

    again = iom(iom_home, "run", "review-triage", "--input", text, "--from", "merge", "--no-cache", "--json")
    assert again.returncode == 0, again.stderr
    ran_nodes = json.loads(again.stdout)["nodes"]
    assert ran_nodes["in"]["status"] == "succeeded"  # run again, from the real input
    assert ran_nodes["summary"]["status"] == "succeeded"  # (its sentences held the key too)
    assert "note: 'in', 'summary' ran again" in again.stderr and "held a secret" in again.stderr
    assert ran_nodes["sentiment"]["status"] == "cached"  # what held no key is reused


def test_from_reuses_only_what_was_made_from_this_input_and_these_nodes(iom_home, tmp_path):
    """`--input X --from NODE` took every upstream output of the last run, made from another
    input, and the run record said X; an upstream node edited since was reused as well."""
    first = iom(iom_home, "run", "review-triage", "--input", REVIEW, "--no-cache", "--json")
    assert first.returncode == 0, first.stderr
    other = json.dumps({"text": "Awful. Dirty room, rude staff, never again."})
    again = iom(iom_home, "run", "review-triage", "--input", other, "--from", "merge", "--no-cache", "--json")
    assert again.returncode == 0, again.stderr
    nodes = json.loads(again.stdout)["nodes"]
    assert all(n["status"] == "succeeded" for n in nodes.values()), nodes  # nothing of the other input reused
    assert nodes["sentiment"]["output"] != json.loads(first.stdout)["nodes"]["sentiment"]["output"]
    assert "every node before 'merge' ran again" in again.stderr

    same = iom(iom_home, "run", "review-triage", "--input", other, "--from", "merge", "--no-cache", "--json")
    nodes = json.loads(same.stdout)["nodes"]
    assert nodes["sentiment"]["status"] == "cached" and "note:" not in same.stderr, same.stderr

    # an upstream node edited since its output was kept: run again, the others reused
    exported = tmp_path / "p.json"
    assert iom(iom_home, "pipelines", "export", "review-triage", "-o", str(exported)).returncode == 0
    doc = json.loads(exported.read_text())
    keywords = next(n for n in doc["nodes"] if n["id"] == "keywords")
    keywords.setdefault("params", {})["top"] = 2
    exported.write_text(json.dumps(doc))
    assert iom(iom_home, "pipelines", "import", str(exported), "--replace").returncode == 0
    edited = iom(iom_home, "run", "review-triage", "--input", other, "--from", "merge", "--no-cache", "--json")
    assert edited.returncode == 0, edited.stderr
    nodes = json.loads(edited.stdout)["nodes"]
    assert nodes["keywords"]["status"] == "succeeded" and nodes["sentiment"]["status"] == "cached", nodes
    assert "'keywords' ran again" in edited.stderr


async def test_a_cache_folder_that_is_a_file_is_said_in_one_sentence_and_a_from_run_still_runs(
        engine, registry, fake, iom_home, caplog):
    """IOM_HOME/cache a file: keeping the outputs warned "[Errno 20] Not a directory: …/runs/t.json"
    (naming a file that is not the problem), and a run --from then failed on that error."""
    import logging

    from studio.engine import RunOptions
    from tests.engine.conftest import chat_reply, openai_model
    from tests.engine.test_cache_integrity import flow
    from tests.fakes.provider_server import Reply

    (iom_home / "cache").write_text("not a folder")
    openai_model(registry, fake, "t/m", "/v1/chat/completions")
    fake.reply("/v1/chat/completions", Reply(json=chat_reply("a")))
    with caplog.at_level(logging.WARNING, logger="studio.engine.kept_outputs"):
        for options in (RunOptions(), RunOptions(), RunOptions(from_node="out")):
            record = await engine.run(flow(), {"text": "q"}, options)
            engine.write_kept_outputs()
            assert record.status == "succeeded" and record.outputs == {"text": "a"}, record.error
    assert record.nodes["x"].status == "succeeded"  # nothing kept to reuse: it ran again
    warned = [r.getMessage() for r in caplog.records if r.name == "studio.engine.kept_outputs"]
    assert warned == [f"could not keep the node outputs for a later 'run from node': {iom_home / 'cache'} is a file, "
                      "not a folder; move it away or delete it (until then such a run calls the nodes before it "
                      "again)."], warned
