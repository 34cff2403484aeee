"""Batch runs: every row a normal engine run, state in rows.jsonl, resumable after SIGKILL."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from studio.core import Studio
from studio.errors import UserError
from studio.recording import MemoryRecorder
import studio.eval.batch as batch_module
from studio.eval.batch import batch_dir, load_plan, load_rows, plan_batch, run_batch, run_row
from tests.fakes.in_flight import InFlight

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


def iom(*args, **kw):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, capture_output=True, text=True, **kw)


async def test_rows_are_recorded_engine_runs(iom_home):
    s = Studio(iom_home)
    memory = MemoryRecorder()  # the Recorder protocol: what the analytics writer would receive
    s.engine.recorder = s.providers.recorder = memory
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=6, concurrency=3)
        seen = []
        agg = await run_batch(s, plan, progress=lambda d, t: seen.append((d, t)))
        await s.aclose()
        assert agg["done"] == 6 and agg["succeeded"] == 6 and agg["complete"]
        assert seen[-1] == (6, 6)
        rows = load_rows(iom_home, plan.id)
        assert sorted(rows) == list(range(6))
        first = rows[0]
        assert first["expected"]["sentiment"] == "positive" and first["output"]["sentiment"] in ("positive", "negative", "neutral")
        assert first["runId"] == f"{plan.id}-0" and first["costUsd"] == 0.0
        # each row is a normal recorded run, linked to the batch by its id
        assert sorted(memory.runs) == sorted(f"{plan.id}-{i}" for i in range(6))
        assert all(r.status == "succeeded" for r in memory.runs.values())
    finally:
        s.close()


async def test_a_stopped_batch_starts_no_further_row_and_resumes(iom_home):
    s = Studio(iom_home)
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=10, concurrency=2)
        done: list[int] = []
        agg = await run_batch(s, plan, progress=lambda d, t: done.append(d), stop=lambda: done[-1] >= 3)
        # asked before each row starts: the rows in flight when it said so (at most 2) finish
        assert 3 <= agg["done"] <= 4 and not agg["complete"]
        first = load_rows(iom_home, plan.id)
        assert len(first) == agg["done"]
        memory = MemoryRecorder()
        s.engine.recorder = s.providers.recorder = memory
        agg = await run_batch(s, plan)
        await s.aclose()
        assert agg["done"] == 10 and agg["complete"] and sorted(load_rows(iom_home, plan.id)) == list(range(10))
        # only the rows not run before ran now
        assert sorted(memory.runs) == sorted(f"{plan.id}-{i}" for i in range(10) if i not in first)
    finally:
        s.close()


async def test_a_spoilt_row_line_is_left_out_and_run_again_not_a_stop_for_the_rows_after_it(iom_home):
    """Bytes that are not UTF-8 in rows.jsonl (a bad disk, an editor) ended every read of the
    batch in a UnicodeDecodeError: its page, `iom batch show` and `export`."""
    s = Studio(iom_home)
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=5)
        await run_batch(s, plan)
        path = batch_dir(iom_home, plan.id) / "rows.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        spoilt = json.loads(lines[2])["index"]
        path.write_bytes(b"".join(lines[:2] + [b'{"index": \xff\xfe\n'] + lines[3:]))
        assert sorted(load_rows(iom_home, plan.id)) == sorted(set(range(5)) - {spoilt})
        agg = await run_batch(s, plan)
        await s.aclose()
        assert agg["done"] == 5 and agg["complete"] and sorted(load_rows(iom_home, plan.id)) == list(range(5))
    finally:
        s.close()


async def test_a_whole_batch_is_read_a_row_at_a_time_in_index_order_as_load_rows_sees_it(iom_home, tmp_path,
                                                                                             monkeypatch):
    """show and export go through rows_in_order (the file read twice, offsets kept between) and
    write Arrow batches of EXPORT_CHUNK rows: the same rows as load_rows, the later line of an
    index winning, a spoilt line left out."""
    s = Studio(iom_home)
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=5, concurrency=3)
        await run_batch(s, plan)
        await s.aclose()
    finally:
        s.close()
    path = batch_dir(iom_home, plan.id) / "rows.jsonl"
    again = {**json.loads(path.read_bytes().splitlines()[0]), "output": {"text": "the later line"}}
    with path.open("ab") as f:
        f.write(b'{"index": 3, "spoilt\n' + json.dumps(again).encode() + b"\n")
    kept = load_rows(iom_home, plan.id)
    assert list(batch_module.rows_in_order(iom_home, plan.id)) == [kept[i] for i in range(5)]
    assert kept[again["index"]]["output"] == {"text": "the later line"}
    assert batch_module.row_count(iom_home, plan.id) == 5

    monkeypatch.setattr(batch_module, "EXPORT_CHUNK", 2)
    assert batch_module.export_rows(iom_home, plan.id, tmp_path / "rows.parquet") == 5
    table = pq.read_table(tmp_path / "rows.parquet")
    assert table.column("index").to_pylist() == [0, 1, 2, 3, 4]
    assert json.loads(table.column("output")[again["index"]].as_py()) == {"text": "the later line"}
    chunks = list(batch_module.csv_chunks(iom_home, plan.id))
    with_header = b"".join(chunks).decode().splitlines()
    assert with_header[0].startswith('"index","run_id","status"') and len(with_header) == 6
    assert len(chunks) == 3 and chunks[0].decode().count("\n") == 3  # the header and 2 rows, then 2, then 1
    assert [line.split(",")[0] for line in with_header[1:]] == ["0", "1", "2", "3", "4"]


async def test_a_full_disk_stops_the_batch_in_one_sentence_and_the_rows_kept_are_whole(iom_home, monkeypatch):
    """The disk refuses a row's line part way: the batch stops with the sentence, no part of that
    line stays in rows.jsonl (it would spoil the next), and the batch run again goes on from the
    rows kept to the end."""
    s = Studio(iom_home)
    real_write, lines = os.write, []

    def write(fd, data):  # os.write everywhere (the spool's too): the rows file's writes counted
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("rows.jsonl"):
            return real_write(fd, data)
        if len(lines) == 4:  # the fifth row's line: a part goes in, then the disk is full
            real_write(fd, bytes(data[:40]))
            raise OSError(28, "No space left on device")
        lines.append(data)
        return real_write(fd, data)
    try:
        plan = plan_batch(s, "review-triage", str(SAMPLE), limit=8, concurrency=1)
        monkeypatch.setattr(os, "write", write)  # what studio.atomic.append_whole calls
        with pytest.raises(UserError) as full:
            await run_batch(s, plan)
        monkeypatch.undo()
        rows_file = iom_home / "batches" / plan.id / "rows.jsonl"
        assert str(full.value) == (f"could not keep a finished row in {rows_file} (No space left on device): free space "
                                   "on that disk, then run the batch again: it goes on from the rows kept.")
        assert rows_file.read_bytes().endswith(b"\n") and sorted(load_rows(iom_home, plan.id)) == [0, 1, 2, 3]
        agg = await run_batch(s, plan)
        await s.aclose()
        assert agg["done"] == 8 and agg["complete"] and sorted(load_rows(iom_home, plan.id)) == list(range(8))
    finally:
        s.close()


def test_same_target_and_data_resume_and_unknown_target(iom_home):
    s = Studio(iom_home)
    try:
        a = plan_batch(s, "review-triage", str(SAMPLE), limit=4)
        b = plan_batch(s, "review-triage", str(SAMPLE), limit=4, concurrency=1)
        assert a.id == b.id and plan_batch(s, "review-triage", str(SAMPLE), limit=5).id != a.id
        with pytest.raises(UserError, match="neither a saved pipeline nor a registry model"):
            plan_batch(s, "nope", str(SAMPLE))
    finally:
        s.close()


def test_a_swap_that_breaks_the_pipeline_is_refused_before_any_row(iom_home):
    """Every row failed with the same "pipeline is not valid" and the experiment showed 100 %
    errors (and saved a quality of 0 for the swapped-in model)."""
    s = Studio(iom_home)
    try:
        with pytest.raises(UserError, match="pipeline review-triage with sentiment=local/language-detect is not valid: "
                                            "e7: starts on port .compound., which node .sentiment. does not have"):
            plan_batch(s, "review-triage", str(SAMPLE), limit=5, swaps={"sentiment": "local/language-detect"})
        assert plan_batch(s, "review-triage", str(SAMPLE), limit=5, swaps={"sentiment": "local/sentiment-vader"}).rows == 5
    finally:
        s.close()


def test_no_cache_is_its_own_batch_and_calls_every_node(iom_home):
    """The offline sample's models are deterministic, so a second batch over the same rows finds
    every node cached; --no-cache runs them again, as a separate batch with a fresh run's figures."""
    first = iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "3", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["cachedRows"] == 0
    other = iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "3", "--concurrency", "1")
    assert "reused cached outputs" not in other.stdout  # the same batch: resumed, nothing to run
    limit4 = json.loads(iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "4", "--json").stdout)
    assert limit4["cachedRows"] == 3  # another batch over the same first rows: answered from the cache
    fresh = iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "4", "--no-cache", "--json")
    assert fresh.returncode == 0, fresh.stderr
    fresh = json.loads(fresh.stdout)
    assert fresh["id"] != limit4["id"] and fresh["cachedRows"] == 0 and fresh["succeeded"] == 4
    shown = json.loads(iom("batch", "show", fresh["id"], "--json").stdout)
    assert shown["useCache"] is False and all(r["cachedNodes"] == 0 for r in shown["rowResults"])
    assert "4 row(s) reused cached outputs" not in iom("batch", "show", limit4["id"]).stdout
    assert "3 row(s) reused cached outputs" in iom("batch", "show", limit4["id"]).stdout
    listed = {line.split()[0]: line.split()[-1] for line in iom("batch", "list").stdout.splitlines()[1:]}
    assert listed[limit4["id"]] == "3" and listed[fresh["id"]] == "off"  # the "from cache" column
    refused = iom("batch", "run", "--resume", limit4["id"], "--no-cache")
    assert refused.returncode == 1 and "--no-cache makes a separate batch" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_batch_whose_data_file_changed_is_not_resumed_over_the_new_file(iom_home, tmp_path):
    """--resume went on over the changed file and reported one batch of rows from two files as complete."""
    data = tmp_path / "texts.csv"
    data.write_text("text\n" + "".join(f"first file {i}\n" for i in range(6)), encoding="utf-8")
    first = json.loads(iom("batch", "run", "local/sentiment-vader", "--data", str(data), "--limit", "3", "--json",
                           env={**os.environ, "IOM_HOME": str(iom_home)}).stdout)
    data.write_text("text\n" + "".join(f"second file {i}\n" for i in range(6)), encoding="utf-8")
    again = iom("batch", "run", "--resume", first["id"], env={**os.environ, "IOM_HOME": str(iom_home)})
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"the data file {data} has changed since batch {first['id']} started" in again.stderr


def test_model_target_calls_the_hub(iom_home):
    r = iom("batch", "run", "local/sentiment-vader", "--data", str(SAMPLE), "--limit", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["succeeded"] == 3
    shown = json.loads(iom("batch", "show", out["id"], "--json").stdout)
    assert [row["index"] for row in shown["rowResults"]] == [0, 1, 2]
    assert "label" in shown["rowResults"][0]["output"]


def test_sigkill_then_resume_loses_no_row(iom_home, tmp_path):
    data = tmp_path / "reviews60.csv"
    with SAMPLE.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))[:61]
    with data.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    proc = subprocess.Popen([sys.executable, "-m", "studio", "batch", "run", "review-triage", "--data", str(data),
                             "--concurrency", "2", "--json"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    lines_file = None
    while time.monotonic() < deadline:
        found = list((iom_home / "batches").glob("*/rows.jsonl")) if (iom_home / "batches").exists() else []
        if found and len(found[0].read_text("utf-8").splitlines()) >= 5:
            lines_file = found[0]
            break
        time.sleep(0.05)
    assert lines_file is not None, "the batch wrote no rows: " + proc.stderr.read().decode()[-500:] if proc.poll() is not None else "no rows in 60 s"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {json.loads(l)["index"]: l for l in lines_file.read_text("utf-8").splitlines() if l.endswith("}")}
    assert 5 <= len(before) < 60, "the kill came after the batch finished; the test proves nothing"

    r = iom("batch", "run", "review-triage", "--data", str(data), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["done"] == 60
    after = [json.loads(l) for l in lines_file.read_text("utf-8").splitlines()]
    indices = [a["index"] for a in after]
    assert sorted(indices) == list(range(60)), "a row was lost or run twice"
    # rows finished before the kill were kept as they were, not redone
    kept = lines_file.read_text("utf-8").splitlines()
    for index, line in before.items():
        assert line in kept


@pytest.mark.parametrize("command, stop", [("batch", "SIGINT"), ("eval", "SIGINT"), ("batch", "SIGTERM"),
                                           ("batch", "SIGTERM to a background job"), ("batch on ray", "SIGINT")])
def test_ctrl_c_says_what_is_kept_and_how_to_go_on(iom_home, tmp_path, command, stop):
    """Two rows answer, the third is held at the fake's gate; Ctrl-C (SIGINT) then ends the
    command with one sentence and the shell's 130, and the two rows are kept. SIGTERM (a closed
    terminal, `timeout`) the same: it ended the command with no word of what was kept."""
    from studio.spec.calls import CANONICAL_SCHEMAS
    from studio.spec.model import ModelSpec
    from tests.fakes.provider_server import FakeProvider
    from tests.ui.fake_chat import held_plain_answer, plain_answer

    data = tmp_path / "questions.csv"
    data.write_text("prompt,answer\n" + "".join(f"q{i},ok\n" for i in range(5)), encoding="utf-8")
    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", plain_answer("ok"), plain_answer("ok"), held_plain_answer("ok"))
        s = Studio(iom_home)
        s.models.save(ModelSpec(id="t/held", name="held", provider="openai", api="openai-chat",
                                endpoint=fake.url("/v1/chat/completions"), model="m", key_ref="HELD_KEY",
                                input_schema=CANONICAL_SCHEMAS["llm"][0], output_schema=CANONICAL_SCHEMAS["llm"][1]))
        s.close()
        args = (["batch", "run", "t/held", "--data", str(data)] if command.startswith("batch") else
                ["eval", "run", "--data", str(data), "-v", "t/held", "-s", "answer:exact"])
        if command == "batch on ray":  # (its wait for a task outlived the Ray it waited on: it never exited)
            args += ["--executor", "ray"]
        # As from a terminal: a suite started in the background (`cmd &`, some CI runners) hands
        # every child SIGINT ignored, and the command then never saw the Ctrl-C (it hung, unless
        # a Ray test in the same worker had installed a handler first). A handled signal is
        # reset to its default in the child, and Python then turns it into KeyboardInterrupt.
        # A script's background job (`iom batch run … &`) starts with SIGINT ignored: SIGTERM, sent on
        # as SIGINT, then did nothing and the batch ran all its rows.
        before = signal.signal(signal.SIGINT, signal.SIG_IGN if "background" in stop else signal.default_int_handler)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "studio", *args, "--concurrency", "1"], cwd=ROOT,
                                    env={**os.environ, "HELD_KEY": "k"}, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        finally:
            signal.signal(signal.SIGINT, before)
        deadline = time.monotonic() + 60
        while len(fake.requests) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(fake.requests) == 3, proc.stderr.read() if proc.poll() is not None else "no third request in 60 s"
        proc.send_signal(getattr(signal, stop.split()[0]))
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a command that never exits fails here, and is not left running
            proc.kill()  # (one left spinning slowed the rest of the suite into other failures)
            out, err = proc.communicate()
            pytest.fail(f"the command did not exit within 60 s of {stop}: {err[-2000:]}")
    assert proc.returncode == 130 and "Traceback" not in err, err
    batch_id = next((iom_home / "batches").iterdir()).name
    if command.startswith("batch"):
        assert err.strip() == (f"interrupted: 2 of 5 rows of batch {batch_id} are done and kept; run the same command "
                               f"again (or 'iom batch run --resume {batch_id}') to go on from there.")
    else:
        assert err.strip() == ("interrupted at t/held with 2 of 5 rows done, which are kept; run the same command "
                               "again to go on from there.")
    assert sorted(load_rows(iom_home, batch_id)) == [0, 1]


def test_a_running_batch_is_not_run_twice_nor_deleted(iom_home, tmp_path, monkeypatch):
    """While `iom batch run` writes a batch's rows, the same command in another process would
    call every pending row again (paid twice), and `iom batch delete` / `iom eval delete
    --with-batches` would drop the folder the runner still appends to. Both are refused in one
    sentence; once the run ends, the batch is complete and deletes."""
    from studio.spec import ModelSpec
    from studio.spec.calls import CANONICAL_SCHEMAS
    from tests.engine.conftest import chat_reply
    from tests.fakes.provider_server import FakeProvider, Reply

    monkeypatch.setenv("BATCH_TEST_KEY", "sk-batch-test-000000000000")
    data = tmp_path / "prompts.csv"
    data.write_text("prompt\n" + "".join(f"question {i}\n" for i in range(12)), encoding="utf-8")

    # The first answer at once, the others held until the refusals were tried: the run is still
    # going whatever the machine's speed (a fixed sleep a row left too short a window under load).
    release, answered = threading.Event(), itertools.count()

    def slow(req):
        if next(answered):
            release.wait(60)
        return Reply(json=chat_reply("an answer"))

    with FakeProvider() as fake:
        fake.reply("/v1/chat/completions", slow)
        s = Studio(iom_home)
        llm_in, llm_out = CANONICAL_SCHEMAS["llm"]
        s.models.save(ModelSpec(id="t/slow", name="slow", provider="openai", api="openai-chat",
                                endpoint=fake.url("/v1/chat/completions"), model="m", key_ref="BATCH_TEST_KEY",
                                input_schema=llm_in, output_schema=llm_out))
        s.close()
        command = ["batch", "run", "t/slow", "--data", str(data), "--concurrency", "1", "--json"]
        proc = subprocess.Popen([sys.executable, "-m", "studio", *command], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not list(iom_home.glob("batches/*/rows.jsonl")) or \
                    not next(iom_home.glob("batches/*/rows.jsonl")).read_text("utf-8").strip():
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-500:]
                time.sleep(0.05)
            folder = next(iom_home.glob("batches/*/rows.jsonl")).parent
            again = iom(*command)
            assert again.returncode == 1 and again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
            assert f"batch {folder.name} is being run" in again.stderr and "run the same command again" in again.stderr
            gone = iom("batch", "delete", folder.name)
            assert gone.returncode == 1 and "is being run" in gone.stderr and "then delete it" in gone.stderr
            assert (folder / "batch.json").is_file()
            assert proc.poll() is None, "the run ended before the refusals were tried; the test proves nothing"
            release.set()
            out, err = proc.communicate(timeout=60)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["succeeded"] == 12 and len(fake.requests) == 12  # no row was called twice
    assert iom("batch", "delete", folder.name).returncode == 0 and not folder.exists()


def _strict_json(text: str):
    """json.loads refusing NaN and Infinity, as JSON.parse and strict parsers do."""
    def refuse(word):
        raise ValueError(f"{word} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_missing_number_is_written_as_null_not_nan(iom_home, tmp_path):
    """pandas and Parquet spell a missing number NaN, and it reached `iom datasets show --json`,
    rows.jsonl, `iom batch show --json` and the export's cells as a bare `NaN`, which is not JSON."""
    import pyarrow as pa

    data = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"text": ["good", "bad"], "label": [1.5, float("nan")]}), data)
    assert iom("datasets", "import", str(data), "--id", "typed").returncode == 0
    shown = iom("datasets", "show", "typed", "--json")
    assert shown.returncode == 0 and [r["label"] for r in _strict_json(shown.stdout)["preview"]] == [1.5, None]
    head = iom("datasets", "show", "typed")
    assert "NaN" not in head.stdout and '"label": null' in head.stdout, head.stdout

    run = iom("batch", "run", "local/sentiment-vader", "--data", "typed", "--json")
    assert run.returncode == 0, run.stderr
    bid = json.loads(run.stdout)["id"]
    lines = (batch_dir(iom_home, bid) / "rows.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(_strict_json(line)["expected"]["label"] is None for line in lines) == [False, True]
    rows = _strict_json(iom("batch", "show", bid, "--json").stdout)["rowResults"]
    assert [r["expected"] for r in rows] == [{"label": 1.5}, {"label": None}]
    assert iom("batch", "export", bid, "-o", str(tmp_path / "rows.csv")).returncode == 0
    with (tmp_path / "rows.csv").open(newline="", encoding="utf-8") as f:
        assert [_strict_json(r["expected"]) for r in csv.DictReader(f)] == [{"label": 1.5}, {"label": None}]


def test_export_and_bad_input(iom_home, tmp_path):
    r = iom("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "3", "--json")
    bid = json.loads(r.stdout)["id"]
    out = tmp_path / "rows.parquet"
    assert iom("batch", "export", bid, "-o", str(out)).returncode == 0
    table = pq.read_table(out)
    assert table.num_rows == 3 and "cost_usd" in table.column_names
    assert iom("batch", "export", bid, "-o", str(tmp_path / "r.csv")).returncode == 0
    bad = iom("batch", "export", bid, "-o", str(tmp_path / "r.xlsx"))
    assert bad.returncode == 1 and "parquet or .csv" in bad.stderr and "Traceback" not in bad.stderr
    bad = iom("batch", "run", "review-triage", "--data", "no-such-dataset")
    assert bad.returncode == 1 and "iom datasets list" in bad.stderr
    assert iom("batch", "list").returncode == 0


async def test_an_edited_pipeline_is_another_batch_not_its_old_rows(iom_home):
    """Evaluating a pipeline again after editing it must run the new version: the batch id
    used to be target + data + limit only, so the old batch was found complete and its rows,
    made by the old version, came back as the new one's."""
    s = Studio(iom_home)
    try:
        before = plan_batch(s, "review-triage", str(SAMPLE), limit=2)
        await run_batch(s, before)
        old_rows = load_rows(iom_home, before.id)
        assert all(len(r["output"]["keywords"].split(",")) > 1 for r in old_rows.values()), old_rows
        pipe = s.pipelines.get("review-triage")
        # a new name, labels and layout change nothing the rows depend on: the same batch
        cosmetic = pipe.model_copy(update={"name": "Renamed", "ui": {"viewport": {"x": 5}},
                                           "nodes": [n.model_copy(update={"label": n.label + "!"}) for n in pipe.nodes]})
        s.pipelines.save(cosmetic)
        assert plan_batch(s, "review-triage", str(SAMPLE), limit=2).id == before.id
        # one keyword instead of five: another batch, whose rows are the new version's
        nodes = [n.model_copy(update={"params": {"top": 1}}) if n.id == "keywords" else n for n in cosmetic.nodes]
        s.pipelines.save(cosmetic.model_copy(update={"nodes": nodes}))
        after = plan_batch(s, "review-triage", str(SAMPLE), limit=2)
        assert after.id != before.id
        await run_batch(s, after)
        assert all("," not in r["output"]["keywords"] for r in load_rows(iom_home, after.id).values())
        # the old batch cannot be resumed with rows of the new version
        with pytest.raises(UserError, match="has changed since batch"):
            await run_batch(s, load_plan(iom_home, before.id))
        # a model target: its default params are part of what it is, its description is not
        vader = s.models.get("local/sentiment-vader")
        model_plan = plan_batch(s, vader.id, str(SAMPLE), limit=2)
        s.models.save(vader.model_copy(update={"description": "words only"}))
        assert plan_batch(s, vader.id, str(SAMPLE), limit=2).id == model_plan.id
        s.models.save(vader.model_copy(update={"default_params": {"threshold": 0.5}}))
        assert plan_batch(s, vader.id, str(SAMPLE), limit=2).id != model_plan.id
        await s.aclose()
    finally:
        s.close()


async def test_built_in_models_are_loaded_before_the_first_row_is_timed(iom_home, monkeypatch):
    """A built-in model's first call loads its library and lexicon (~0.5 s for the five);
    counted in the first rows, it made the first variant of an experiment look several times
    slower than the next. A batch loads the models it can call first, and only those. (Here
    in threads; tests/providers/test_local_processes.py has the same for worker processes.)"""
    from studio.providers.local import LOCAL_MODELS
    from studio.providers.local.base import LocalModel

    monkeypatch.setenv("IOM_LOCAL_WORKERS", "0")

    events = []
    monkeypatch.setattr(LocalModel, "warm", lambda self: events.append(("warm", self.name)))
    s = Studio(iom_home)
    real_run_row = run_row

    async def spied_run_row(studio, plan, index, row, pipeline=None):
        events.append(("row", index))
        return await real_run_row(studio, plan, index, row, pipeline=pipeline)
    monkeypatch.setattr(batch_module, "run_row", spied_run_row)
    try:
        pipeline_plan = plan_batch(s, "review-triage", str(SAMPLE), limit=2)
        await run_batch(s, pipeline_plan)
        named = {s.models.get(n.model).model for n in s.pipelines.get("review-triage").nodes if n.model}
        warmed = [e for e in events if e[0] == "warm"]
        assert {name for _, name in warmed} == named and len(warmed) == len(named) and len(named) < len(LOCAL_MODELS)
        assert events.index(("row", 0)) > max(events.index(w) for w in warmed)  # all loaded before any row
        events.clear()
        await run_batch(s, pipeline_plan)  # complete: nothing to run, nothing loaded
        assert events == []
        await run_batch(s, plan_batch(s, "local/sentiment-vader", str(SAMPLE), limit=1))
        assert events[0] == ("warm", s.models.get("local/sentiment-vader").model) and events[1] == ("row", 0)
        await s.aclose()
    finally:
        s.close()


def _prompts(home, n: int, column: str = "text"):
    data = home / "prompts.csv"
    data.write_text(f"{column}\n" + "".join(f"prompt {i}\n" for i in range(n)), encoding="utf-8")
    return data


@pytest.fixture
async def slow_provider(iom_home, memory_keyring):
    """(studio, answer): the studio's `loop/chat` is a loopback provider answering in 0.3 s,
    `answer` counting its calls under way at once."""
    from tests.fakes.provider_server import FakeProvider
    from tests.ui.fake_chat import CHAT_PATH, save_loopback_model

    answer = InFlight(seconds=0.3)
    s = Studio(iom_home)
    try:
        with FakeProvider() as fake:
            fake.reply(CHAT_PATH, answer)
            save_loopback_model(s, fake)
            yield s, answer
            await s.aclose()
    finally:
        s.close()


async def test_a_pipeline_batch_calls_a_provider_as_many_rows_at_a_time_as_asked(slow_provider, iom_home):
    """The engine holds a provider to 64 calls at once (Engine.PROVIDER_CONCURRENCY) for runs
    side by side; a batch asked for 72 rows at a time gets 72, and runs outside a batch are
    held to 64 again after it, though the provider's connection pool has grown to 72."""
    import asyncio

    from studio.engine import Engine, RunOptions
    from studio.spec import load_pipeline

    s, answer = slow_provider
    pipeline = load_pipeline({
        "format": "iom.pipeline", "version": 1, "id": "one-call", "name": "One call",
        "nodes": [{"id": "in", "kind": "input"},
                  {"id": "llm", "kind": "model", "model": "loop/chat", "prompt": "{{ text }}", "policy": {"cache": False}},
                  {"id": "out", "kind": "output"}],
        "edges": [{"id": "e1", "source": "in", "target": "llm", "sourcePort": "out", "targetPort": "in"},
                  {"id": "e2", "source": "llm", "target": "out", "sourcePort": "text", "targetPort": "text"}]})
    s.pipelines.save(pipeline)
    answer.expect(72)
    agg = await run_batch(s, plan_batch(s, "one-call", str(_prompts(iom_home, 72)), concurrency=72))
    assert agg["succeeded"] == 72 and answer.most == 72
    answer.expect(64)
    runs = await asyncio.gather(*(s.engine.run(pipeline, {"text": "q"}, RunOptions(use_cache=False)) for _ in range(72)))
    assert all(r.status == "succeeded" for r in runs) and answer.most == Engine.PROVIDER_CONCURRENCY == 64


async def test_a_batch_above_the_connection_pool_gets_its_calls_at_once(slow_provider, iom_home):
    """A provider's connection pool holds 64; a batch of a model at --concurrency 72 has 72 calls
    under way at once (it had 64)."""
    s, answer = slow_provider
    answer.expect(72)
    agg = await run_batch(s, plan_batch(s, "loop/chat", str(_prompts(iom_home, 72, "prompt")), concurrency=72))
    assert agg["succeeded"] == 72 and answer.most == 72


async def test_a_chat_model_takes_a_text_column_and_data_it_cannot_take_is_refused_at_once(slow_provider, iom_home):
    """Every chat model takes {"text": …} as one user message, so a dataset's 'text' column feeds
    a chat model as it feeds a pipeline (it was left out, and every row failed on an empty
    input); data with no column the model takes is refused before any row, in one sentence."""
    s, answer = slow_provider
    plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 3)), concurrency=3)
    agg = await run_batch(s, plan)
    assert agg["succeeded"] == 3 and answer.most == 3
    assert sorted(r["inputs"]["text"] for r in load_rows(iom_home, plan.id).values()) == ["prompt 0", "prompt 1", "prompt 2"]
    with pytest.raises(UserError) as refused:
        plan_batch(s, "loop/chat", str(_prompts(iom_home, 3, "review")))
    assert str(refused.value) == (
        "the data has no column for an input of loop/chat (text, prompt, messages, images, system); its columns are "
        "review. Name a column 'text' or 'prompt' or 'messages', or map one with 'iom datasets map ID --input NAME=COLUMN'.")


def test_an_unpriced_row_is_one_with_a_call_of_unknown_cost_whether_it_answered_or_failed():
    """A failed row whose call was sent and failed was left out of the unpriced rows, so a batch
    whose every call failed so said it cost $0."""
    plan = batch_module.BatchPlan(id="b", target="p", kind="pipeline", data="d.csv", dataset_id=None, rows=5,
                                  inputs={}, expected={})
    rows = [{"status": "succeeded", "costUsd": 0.002, "unpricedCalls": 0},
            {"status": "succeeded", "costUsd": 0.001, "unpricedCalls": 1},  # answered, one call's price unknown
            {"status": "failed", "costUsd": None, "unpricedCalls": 1},  # its failed call was sent: cost unknown
            {"status": "failed", "costUsd": 0.004, "unpricedCalls": 1},  # a priced node, then a sent call failed
            {"status": "failed", "costUsd": 0.0, "unpricedCalls": 0}]  # refused before anything was sent
    agg = batch_module.Tally.of(rows).result(plan)
    assert (agg["succeeded"], agg["failed"], agg["unpricedRows"]) == (2, 3, 3)
    assert round(agg["costUsd"], 6) == 0.007
    only_sent_failures = batch_module.Tally.of(rows[2:3]).result(plan)
    assert only_sent_failures["costUsd"] is None and only_sent_failures["unpricedRows"] == 1


def test_a_batchs_cost_does_not_depend_on_the_order_its_rows_finished():
    """The cost was a running sum in finish order: the same rows finished in another order
    (concurrency) gave totals a last bit apart, and the Pareto marks of equal variants flipped."""
    import math
    import random

    plan = batch_module.BatchPlan(id="b", target="p", kind="pipeline", data="d.csv", dataset_id=None, rows=80,
                                  inputs={}, expected={})
    pick = random.Random(1)
    rows = [{"status": "succeeded", "costUsd": pick.randint(10, 40) * 1e-6 / 3} for _ in range(80)]
    forward, backward = (batch_module.Tally.of(order).result(plan)["costUsd"] for order in (rows, rows[::-1]))
    assert forward == backward == math.fsum(r["costUsd"] for r in rows)


async def test_a_model_targets_failed_rows_cost_what_is_known(iom_home, memory_keyring):
    """A row whose calls reached the provider and failed is unpriced (it was a failed row at
    cost unknown, counted as no unpriced row: the batch said $0); one the circuit breaker
    refused before anything was sent costs $0 (it said unpriced)."""
    from tests.fakes.provider_server import FakeProvider, Reply
    from tests.ui.fake_chat import CHAT_PATH, save_loopback_model

    s = Studio(iom_home)
    try:
        with FakeProvider() as fake:
            save_loopback_model(s, fake)
            fake.reply(CHAT_PATH, lambda req: Reply(status=500, json={"error": {"message": "boom"}}))
            plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 3, "prompt")), concurrency=1)
            agg = await run_batch(s, plan)
            rows = load_rows(iom_home, plan.id)
            # the breaker opens after 5 failures in a row: row 0 sends 3 attempts, row 1 two (its third
            # refused), row 2 none
            assert len(fake.requests) == 5 and agg["failed"] == 3
            assert [(rows[i]["costUsd"], rows[i]["unpricedCalls"]) for i in range(3)] == [(None, 3), (None, 2), (0.0, 0)]
            assert agg["unpricedRows"] == 2 and agg["costUsd"] == 0.0
        await s.aclose()
    finally:
        s.close()


async def test_a_row_whose_breaker_opened_between_retries_keeps_the_providers_error(iom_home, memory_keyring):
    """A row sent and answered HTTP 500 "boom", whose next attempt the breaker refused, said
    "the provider is overloaded right now … circuit breaker open": the provider's error was lost,
    and the studio's own breaker was worded as the provider's state."""
    from tests.fakes.provider_server import FakeProvider, Reply
    from tests.ui.fake_chat import CHAT_PATH, save_loopback_model

    s = Studio(iom_home)
    try:
        with FakeProvider() as fake:
            save_loopback_model(s, fake)
            fake.reply(CHAT_PATH, lambda req: Reply(status=500, json={"error": {"message": "boom"}}))
            plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 3, "prompt")), concurrency=1)
            await run_batch(s, plan)
            errors = [r["error"] for _, r in sorted(load_rows(iom_home, plan.id).items())]
        await s.aclose()
    finally:
        s.close()
    # row 0: three attempts, each a 500; row 1: two, then the breaker (5 failures) refused the third
    assert "(HTTP 500) — boom." in errors[0] and "breaker" not in errors[0], errors[0]
    assert "(HTTP 500) — boom; then the circuit breaker opened." in errors[1], errors[1]
    # row 2: refused before anything was sent
    assert "circuit breaker open" in errors[2] and "boom" not in errors[2]
    assert not any("overloaded" in e for e in errors), errors


async def test_an_export_has_every_field_of_a_row_and_show_marks_an_unpriced_row(iom_home, memory_keyring, tmp_path):
    """`iom batch export` (CSV, Parquet; the page's Download CSV is the CSV) left out a row's
    unpriced calls and cached nodes: a partly unpriced batch exported as fully priced. `iom
    batch show` printed such a row's priced part alone as its cost ($0.000005)."""
    from tests.fakes.provider_server import FakeProvider, Reply
    from tests.ui.fake_chat import CHAT_PATH, plain_answer, save_loopback_model

    s = Studio(iom_home)
    try:
        with FakeProvider() as fake:
            save_loopback_model(s, fake)
            # row 0 is sent, fails (its cost unknown), and answers on its retry; rows 1, 2 answer at once
            fake.reply(CHAT_PATH, Reply(status=500, json={"error": {"message": "boom"}}), plain_answer("ok"))
            plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 3, "prompt")), concurrency=1)
            await run_batch(s, plan)
        await s.aclose()
    finally:
        s.close()
    shown = iom("batch", "show", plan.id, "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["rowResults"]
    assert [r["unpricedCalls"] for r in rows] == [1, 0, 0] and all(r["status"] == "succeeded" for r in rows)

    def snake(key: str) -> str:
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    assert iom("batch", "export", plan.id, "-o", str(tmp_path / "rows.parquet")).returncode == 0
    assert iom("batch", "export", plan.id, "-o", str(tmp_path / "rows.csv")).returncode == 0
    with (tmp_path / "rows.csv").open(newline="", encoding="utf-8") as f:
        csv_rows = list(csv.DictReader(f))
    # the Evaluate page's Download CSV streams the same file
    assert b"".join(batch_module.csv_chunks(iom_home, plan.id)) == (tmp_path / "rows.csv").read_bytes()
    for exported, text in ((pq.read_table(tmp_path / "rows.parquet").to_pylist(), False), (csv_rows, True)):
        assert len(exported) == len(rows)
        for shown_row, row in zip(rows, exported):
            for key, value in shown_row.items():  # field for field, as `batch show --json` has it
                got = row[snake(key)]
                if key in ("inputs", "output", "expected"):
                    got = json.loads(got)
                elif text:  # CSV cells are text: an empty cell is a missing value
                    got = None if got == "" else type(value)(got) if value is not None else got
                assert got == value, (key, got, value)

    table = iom("batch", "show", plan.id).stdout.splitlines()
    cost = {line.split()[0]: line for line in table if line[:1].isdigit()}
    assert "$0.000005 + 1 unpriced" in cost["0"] and "unpriced" not in cost["1"], table


async def test_a_model_targets_rows_are_retried_and_share_the_models_breaker(iom_home, memory_keyring):
    """A model target's row made one call: a provider's passing 429 failed the row, and a model
    that was down was called for every row. Now each row is tried as a model node's call is by
    default (two retries, a 429's retry-after honoured), under the model's circuit breaker."""
    from tests.fakes.provider_server import FakeProvider
    from tests.ui.fake_chat import CHAT_PATH, overloaded, plain_answer, rate_limited, save_loopback_model

    s = Studio(iom_home)
    try:
        with FakeProvider() as fake:
            save_loopback_model(s, fake)
            fake.reply(CHAT_PATH, rate_limited(0), plain_answer("ok"))
            plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 1, "prompt")), concurrency=1)
            assert (await run_batch(s, plan))["succeeded"] == 1 and len(fake.requests) == 2

            fake.requests.clear()
            fake.reply(CHAT_PATH, lambda req: overloaded())
            plan = plan_batch(s, "loop/chat", str(_prompts(iom_home, 6, "text")), concurrency=1)
            agg = await run_batch(s, plan)
            rows = load_rows(iom_home, plan.id).values()
            # the engine's breaker opens after 5 failures in a row: 3 attempts of the first row, 2 of
            # the second, whose third it refuses, as it refuses every later row's first
            assert agg["failed"] == 6 and len(fake.requests) == 5
            assert sum("circuit breaker open" in r["error"] for r in rows) == 5
        await s.aclose()
    finally:
        s.close()


async def test_a_model_targets_deterministic_rows_are_answered_from_the_output_cache(iom_home):
    """A pipeline's deterministic nodes were answered from the cache; a model target's rows
    called the model every time, in every new batch of the same rows."""
    from studio.recording import MemoryRecorder

    s = Studio(iom_home)
    memory = MemoryRecorder()
    s.engine.recorder = s.providers.recorder = s.recorder = memory
    try:
        first = await run_batch(s, plan_batch(s, "local/sentiment-vader", str(SAMPLE), limit=3, concurrency=1))
        assert first["succeeded"] == 3 and first["cachedRows"] == 0
        plan = plan_batch(s, "local/sentiment-vader", str(SAMPLE), limit=4, concurrency=1)
        again = await run_batch(s, plan)
        assert again["succeeded"] == 4 and again["cachedRows"] == 3 and again["costUsd"] == 0.0
        assert [c.cache_hit for c, _, _ in memory.calls] == [False] * 3 + [True] * 3 + [False]
        earlier = plan_batch(s, "local/sentiment-vader", str(SAMPLE), limit=3)
        assert load_rows(iom_home, plan.id)[0]["output"] == load_rows(iom_home, earlier.id)[0]["output"]
        uncached = await run_batch(s, plan_batch(s, "local/sentiment-vader", str(SAMPLE), limit=4, use_cache=False))
        assert uncached["cachedRows"] == 0
        await s.aclose()
    finally:
        s.close()


def test_finished_rows_reach_the_disk_before_the_batch_is_done(tmp_path, monkeypatch):
    """rows.jsonl was never synced: after an OS crash or a power cut, rows the batch had called
    (and paid for) ran again on resume."""
    from studio.eval import batch as batch_module

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(batch_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    monkeypatch.setattr(batch_module, "ROWS_SYNC_S", 0.0)
    writer = batch_module.RowWriter(tmp_path / "rows.jsonl")
    writer.write({"index": 0, "status": "succeeded"})
    assert len(synced) == 1  # past the interval: pushed to the disk as it is written
    monkeypatch.setattr(batch_module, "ROWS_SYNC_S", 3600.0)
    writer.write({"index": 1, "status": "succeeded"})
    assert len(synced) == 1
    writer.close()
    assert len(synced) == 2  # and at the end, whatever the interval


def test_a_limit_past_the_last_row_is_the_batch_without_one(iom_home):
    """--limit 99999999999 over 197 rows made a batch of its own, for the same rows."""
    s = Studio(iom_home)
    try:
        whole = plan_batch(s, "review-triage", str(SAMPLE))
        assert plan_batch(s, "review-triage", str(SAMPLE), limit=99_999_999_999).id == whole.id
        assert plan_batch(s, "review-triage", str(SAMPLE), limit=5).id != whole.id
    finally:
        s.close()
