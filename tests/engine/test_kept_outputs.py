"""The node outputs a run keeps for "run from node" are written after the run returns (off its
path), yet a second process — `iom run --from` after `iom run` — finds them, and so does a run
from node in the same process right after the first."""

from __future__ import annotations

import asyncio
import json
import shutil

from studio.engine.kept_outputs import KeptOutputs
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
    path.write_text(json.dumps({"a": 0, "b": 0}))
    kept.merge(path, json.dumps({"a": 1}))
    kept.merge(path, json.dumps({"a": 2, "c": 2}))
    assert json.loads(path.read_text()) == {"a": 0, "b": 0}  # not yet: the run has returned, the write waits
    await asyncio.sleep(0.5)
    assert json.loads(path.read_text()) == {"a": 2, "b": 0, "c": 2}
    kept.merge(path, json.dumps({"b": 3}))
    kept.settle(path)  # a reader in this process writes what is queued first
    assert json.loads(path.read_text()) == {"a": 2, "b": 3, "c": 2}


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
    a provider) was kept there in plain text, masked everywhere else."""
    key = "sk-proj-" + "AAAAQQQQ1111zzzz2222yyyy3333"
    text = json.dumps({"text": f"Lovely room, cold breakfast, and my key is {key} by mistake."})
    ran = iom(iom_home, "run", "review-triage", "--input", text, "--no-cache", "--json")
    assert ran.returncode == 0, ran.stderr
    kept = (iom_home / "cache" / "runs" / "review-triage.json").read_text("utf-8")
    assert key not in kept and "my key is ••••" in kept
