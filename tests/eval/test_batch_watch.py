"""Following batches from their files: what `iom batch list` and the Evaluate page show of a
batch that another process runs, read on from where the last look stopped."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

from studio.core import Studio
from studio.eval.batch import BatchLock, aggregate, batch_dir, delete_batch, load_rows, plan_batch, run_batch
from studio.eval.batch_watch import BatchWatch

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


async def test_the_watch_counts_rows_as_a_run_writes_them_and_says_its_state(iom_home):
    s = Studio(iom_home)
    watch = BatchWatch(iom_home)
    assert watch.summaries() == []
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=6, concurrency=1)
        looks: list[tuple[int, str]] = []

        def look(done: int, total: int) -> None:  # what a page looking now would see
            (b,) = watch.summaries()
            looks.append((b["done"], b["state"]))
        await run_batch(s, plan, progress=look, stop=lambda: len(looks) > 3)
        assert looks == [(0, "running"), (1, "running"), (2, "running"), (3, "running")]
        (b,) = watch.summaries()
        assert (b["id"], b["done"], b["state"]) == (plan.id, 3, "stopped")  # running it again resumes it

        rows_file = batch_dir(iom_home, plan.id) / "rows.jsonl"
        with rows_file.open("a", encoding="utf-8") as f:  # a line still being written: not yet a row
            f.write('{"index": 5, "status": "succ')
        assert watch.summaries()[0]["done"] == 3
        rows_file.write_text(rows_file.read_text("utf-8").rsplit("\n", 1)[0] + "\n", encoding="utf-8")

        await run_batch(s, plan)
        (b,) = watch.summaries()
        full = aggregate(plan, load_rows(iom_home, plan.id))  # the figures of a read of the whole file
        assert b["state"] == "finished" and {k: b[k] for k in full} == full and b["done"] == 6
        assert BatchWatch(iom_home).summaries() == [b]  # a first look sees the same

        delete_batch(iom_home, plan.id)
        assert watch.summaries() == []
    finally:
        await s.aclose()
        s.close()


def test_a_look_at_the_lock_neither_creates_it_nor_turns_a_run_away(tmp_path):
    lock = BatchLock(tmp_path, "b1")
    assert not lock.is_held() and not (tmp_path / "lock").exists()  # a listing writes nothing
    lock.acquire("then")
    assert lock.is_held()
    lock.release()

    # a look holds a shared lock for a moment; a run starting then waits it out, not refused
    fd = os.open(tmp_path / "lock", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    threading.Timer(0.05, os.close, (fd,)).start()
    lock.acquire("then")
    lock.release()


def test_iom_batch_list_says_which_batch_stopped_part_way(iom_home):
    def iom(*args):
        return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True)

    assert iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "2").returncode == 0
    s = Studio(iom_home)
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=5)
        batch_dir(iom_home, plan.id).mkdir(parents=True)
        (batch_dir(iom_home, plan.id) / "batch.json").write_text(__import__("json").dumps(plan.to_json()))
    finally:
        s.close()
    listed = iom("batch", "list")
    assert listed.returncode == 0, listed.stderr
    states = {line.split()[0]: line.split()[4] for line in listed.stdout.splitlines()[1:]}
    assert states[plan.id] == "stopped" and sorted(states.values()) == ["finished", "stopped"]
    assert "a stopped batch goes on where it stopped" in listed.stderr

    exp = iom("eval", "run", "--data", str(SAMPLE), "-v", "review-triage@sentiment=local/sentiment-vader",
              "-s", "sentiment:classification", "--limit", "1")
    assert exp.returncode == 0, exp.stderr
    targets = [line.split()[1] for line in iom("batch", "list").stdout.splitlines()[1:]]
    assert "review-triage@sentiment=local/sentiment-vader" in targets  # told apart from the plain pipeline's batch


def test_a_plan_or_rows_edited_by_hand_are_left_out_not_a_crash(iom_home):
    import json

    def batch(name: str, plan: dict, rows: str = "") -> None:
        folder = iom_home / "batches" / name
        folder.mkdir(parents=True)
        (folder / "batch.json").write_text(json.dumps(plan))
        (folder / "rows.jsonl").write_text(rows)
    good = {"id": "good", "target": "t", "kind": "model", "data": "d.csv", "rows": 3, "created": "2026-01-01"}
    batch("good", good, '{"index": 0, "status": "succeeded"}\n{"index": 7, "status": "succeeded"}\n'
                        '{"index": 1}\n[1]\nnot json\n{"index": 0, "status": "failed"}\n')
    batch("wordy", {**good, "id": "wordy", "rows": "many"})
    batch("huge", {**good, "id": "huge", "rows": 10**15}, '{"index": 99999999999, "status": "succeeded"}\n')
    batch("nodate", {**good, "id": "nodate", "created": None})
    (iom_home / "batches" / "noplan").mkdir()
    summaries = {b["id"]: b for b in BatchWatch(iom_home).summaries()}
    assert set(summaries) == {"good", "huge"}
    assert (summaries["good"]["done"], summaries["good"]["state"]) == (1, "stopped")  # row 0 once; 7 is past its rows
    assert summaries["huge"]["done"] == 1
