"""Records from several processes reach the one database exactly once: a process that cannot
get analytics.duckdb (another one owns it) spools its records, and the owner takes them in;
a record is on disk before record_call returns, so a killed process loses nothing it reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio.analytics import AnalyticsStore
from studio.analytics import queries as q
from studio.analytics.spool import segments
from studio.spec.records import CallRecord

ROOT = Path(__file__).resolve().parents[2]


def child(home: Path, count: int, *flags: str, tag: str = "c") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.analytics.spool_child", str(home), str(count), tag, *flags],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def counts(store: AnalyticsStore) -> tuple[int, int]:
    return store.read(lambda cur: cur.execute("SELECT count(*), count(DISTINCT id) FROM calls").fetchone())


def test_a_process_beside_the_owner_spools_and_the_owner_takes_it_in(iom_home):
    owner = AnalyticsStore(iom_home, interval_s=0.2)
    assert owner.start()
    proc = child(iom_home, 300, tag="x")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    owner.flush()
    assert counts(owner) == (300, 300)
    assert [r["id"] for r in owner.read(q.list_runs)] == ["run-x"]
    owner.flush()  # the child's segment is read to its end and its writer is gone: deleted
    assert [p.name for p in segments(iom_home)] == []
    assert owner.read(lambda cur: cur.execute("SELECT count(*) FROM spool_progress").fetchone()[0]) == 0
    owner.close()


def test_a_killed_process_beside_the_owner_loses_nothing_it_reported(iom_home):
    owner = AnalyticsStore(iom_home, interval_s=0.2)
    assert owner.start()
    proc = child(iom_home, 400, "--hang", tag="k")
    reported = 0
    for line in proc.stdout:
        reported = int(line.split()[1])
        if reported >= 200:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    owner.flush()
    total, distinct = counts(owner)
    assert total == distinct >= reported >= 200
    owner.close()


def test_an_owner_killed_before_its_commit_is_taken_in_on_the_next_start(iom_home):
    proc = child(iom_home, 250, "--own", "--hang", tag="o")
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "the run" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)  # its writer commits once a second: most records are only spooled
    proc.wait(timeout=10)
    assert lines and "the run" in lines[-1], proc.stderr.read()
    store = AnalyticsStore(iom_home)
    store.flush()
    assert counts(store) == (250, 250)
    assert store.read(q.get_run, "run-o")["status"] == "succeeded"
    store.close()
    store = AnalyticsStore(iom_home)  # reopening reads nothing twice
    store.flush()
    assert counts(store) == (250, 250)
    assert segments(iom_home) == []
    store.close()


def test_many_processes_at_once_each_record_stored_once(iom_home):
    owner = AnalyticsStore(iom_home, interval_s=0.2)
    assert owner.start()
    procs = [child(iom_home, 200, tag=f"p{n}-") for n in range(4)]
    for n in range(2):  # calls of the owner itself, interleaved with the children's
        for i in range(100):
            owner.record_call(CallRecord(id=f"own{n}-{i}", model_id="m/a", provider="p"), {"i": i})
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    owner.flush()
    assert counts(owner) == (1000, 1000)
    owner.close()


def test_spooled_lines_carry_no_secret(iom_home):
    from studio.secrets import redactor

    secret = "sk-" + "Q1w2E3r4T5y6U7i8O9p0"
    redactor.remember("plain-secret-value-42")
    store = AnalyticsStore(iom_home)
    store.record_call(CallRecord(id="a", model_id="m/a", provider="p", status="error",
                                 error_message="refused key plain-secret-value-42"),
                      {"prompt": "hi", "api_key": "zzz-structural", "note": secret}, {"text": "Bearer tok_abcdefghijkl"})
    text = segments(iom_home)[0].read_text("utf-8")
    assert "plain-secret-value-42" not in text and secret not in text
    assert "zzz-structural" not in text and "tok_abcdefghijkl" not in text and '\\"prompt\\":\\"hi\\"' in text
    store.close()


def test_run_lines_carry_no_secret_and_clean_runs_keep_their_content(iom_home):
    """A run is serialised once and walked string by string only when its text shows a secret:
    a remembered value (also one JSON has to escape), a key shape, a bearer token or a
    secret-named field, in any case, nested anywhere."""
    from studio.analytics.lines import decode, run_line
    from studio.secrets import redactor
    from studio.spec.records import RunRecord

    redactor.remember('pass"word\\with-escapes-7')
    clean = RunRecord(id="r0", pipeline_id="p", pipeline_name="P", inputs={"text": "hello", "n": [1, {"a": "b"}]})
    assert decode(run_line(clean))[1].inputs == clean.inputs
    for inputs in ({"deep": [{"x": 'say pass"word\\with-escapes-7'}]}, {"note": "sk-" + "Q1w2E3r4T5y6U7i8O9p0"},
                   {"h": {"Authorization": "opaque-value-999"}}, {"t": "Bearer tok_abcdefghijkl"}):
        line = run_line(RunRecord(id="r1", pipeline_id="p", pipeline_name="P", inputs=inputs)).decode()
        for secret in ("with-escapes-7", "Q1w2E3r4T5y6U7i8O9p0", "opaque-value-999", "tok_abcdefghijkl"):
            assert secret not in line, (inputs, line)


def test_a_backlog_larger_than_one_read_is_taken_in_before_a_read(iom_home, monkeypatch):
    from studio.analytics import spool as spool_module

    monkeypatch.setattr(spool_module, "READ_CHUNK", 4096)  # a few lines a round
    store = AnalyticsStore(iom_home, interval_s=1.0)
    assert store.start()  # we own the database: the child only spools
    proc = child(iom_home, 300, tag="b")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    store.flush()  # one flush takes in the whole backlog, 4 KB a round
    assert counts(store) == (300, 300)
    store.close()


def test_a_line_longer_than_one_read_is_taken_in_and_so_is_what_follows(iom_home, monkeypatch):
    """A call with an image in its input makes a line of megabytes. A line longer than one read
    (READ_CHUNK, 8 MB) used to stop its segment for good: it and every later line of that
    process were never stored, not even after a restart."""
    from studio.analytics import spool as spool_module

    monkeypatch.setattr(spool_module, "READ_CHUNK", 4096)
    spooler = AnalyticsStore(iom_home)  # it only spools: its writer never starts to take the database
    spooler._ensure_writer = lambda: None
    spooler.record_call(CallRecord(id="before", model_id="m/a", provider="p"))
    spooler.record_call(CallRecord(id="image", model_id="m/a", provider="p"),
                        {"image": "data:image/png;base64," + "A" * 20_000}, {"text": "a cat"})
    spooler.record_call(CallRecord(id="after", model_id="m/a", provider="p"))
    spooler._segment.close()  # as a process that ended: its segment stays for the owner
    owner = AnalyticsStore(iom_home)
    try:
        ids = owner.read(lambda cur: [r[0] for r in cur.execute("SELECT id FROM calls ORDER BY id").fetchall()])
        assert ids == ["after", "before", "image"]
        assert segments(iom_home) == []  # read to its end, its writer gone: deleted
    finally:
        owner.close()


def test_only_the_last_line_of_each_run_is_decoded_and_each_is_read_as_decode_reads_it():
    """A run is spooled when it starts and when it ends; the writer stores only the last, so it
    decodes only the last (read off the line's id). A line whose id it cannot read plainly (an
    escape in it) or that another writer spaced differently is kept, in its place."""
    from studio.analytics.lines import decode, decode_run, latest_runs, run_line
    from studio.spec.records import NodeRun, RunRecord

    def line(run_id: str, status: str = "running") -> bytes:
        return run_line(RunRecord(id=run_id, pipeline_id="p", status=status, inputs={"text": "héllo"},
                                  nodes={"a": NodeRun(node_id="a", output={"x": 1.5})}))

    a1, b1, a2, b2 = line("a"), line("b"), line("a", "succeeded"), line("b", "failed")
    quoted1, quoted2 = line('q"1'), line('q"1', "succeeded")  # the id holds an escape: both kept
    spaced = b'{"kind": "run", "record": ' + a1[len(b'{"kind":"run","record":'):]
    assert latest_runs([a1, b1, quoted1, a2, spaced, quoted2, b2]) == [quoted1, a2, spaced, quoted2, b2]
    assert latest_runs([]) == []
    old_surrogate = a2.replace("héllo".encode(), b"h\xed\xa0\x80llo")  # as lines were spooled before they were replaced
    for raw in (a2, a2.rstrip(b"\n"), spaced, quoted2, old_surrogate):  # with and without the newline
        assert decode_run(raw) == decode(raw)[1]
    with pytest.raises(ValueError):
        decode_run(b'{"kind":"run","record":{"id":"a","pipeline_id":')
    with pytest.raises(ValueError):
        decode_run(b'{"kind":"call","record":{}}')


def test_a_run_started_and_ended_within_one_write_is_stored_as_it_ended(iom_home):
    """Both lines of a run, taken in together from memory (the owner's queue) and from a file
    (a process that could only spool): the stored run is its last record, nodes and all."""
    from studio.spec.records import NodeRun, RunRecord

    owner = AnalyticsStore(iom_home, interval_s=1.0)
    assert owner.start()
    run = RunRecord(id="run-o", pipeline_id="p1", nodes={"n": NodeRun(node_id="n")})
    owner.record_run(run)
    run.status, run.nodes["n"].status, run.nodes["n"].output = "succeeded", "succeeded", {"y": "o"}
    owner.record_run(run)
    proc = child(iom_home, 0, tag="x")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = {run_id: owner.read(q.get_run, run_id) for run_id in ("run-o", "run-x")}
    owner.close()
    for run_id, stored in got.items():
        assert stored["status"] == "succeeded", stored
        assert [(n["node_id"], n["status"], n["output"]) for n in stored["nodes"]] == [
            ("n", "succeeded", {"y": run_id[-1]})]


def test_the_web_app_takes_the_database_from_a_command_that_holds_it_and_nothing_is_lost(iom_home):
    """A long command (a batch) that took the database first held it to its end, and a web app
    started beside it could read nothing till then. Now the web app asks; the command writes
    what it has queued, lets go, and spools what it records after that."""
    import time

    from studio.analytics import handover

    proc = child(iom_home, 200, "--own", "--then", "150", tag="h")
    assert proc.stdout.readline().startswith("recorded 50")
    while not proc.stdout.readline().startswith("recorded 200 and the run"):
        pass
    web = AnalyticsStore(iom_home, interval_s=0.2)
    assert not web.start(take_over=True)  # the command holds it
    deadline = time.monotonic() + 20
    while not web.is_owner and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web.is_owner and not handover.requested(iom_home)
    assert not (iom_home / "spool" / handover.FILE).exists()  # withdrawn once it is ours
    (iom_home / "go").touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "recorded 150 more" in out
    web.flush()
    assert counts(web) == (350, 350)
    assert [r["id"] for r in web.read(q.list_runs)] == ["run-h"]
    web.close()


def test_a_request_counts_only_while_its_process_holds_it(iom_home):
    from studio.analytics import handover

    path = iom_home / "spool" / handover.FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")  # left by a web app that was killed: its lock went with it
    assert not handover.requested(iom_home)
    request = handover.Request(iom_home)
    request.make()
    assert request.held and handover.requested(iom_home)
    request.withdraw()
    assert not request.held and not path.exists() and not handover.requested(iom_home)


def test_a_read_beside_a_process_that_spools_without_a_pause_waits_only_for_what_came_before(iom_home):
    """`flush` took in rounds until a round found no new line: beside a batch that spools all
    the time every round found some, and the web app's analytics page waited for the batch's
    end (past a minute: a timeout). It now waits for what was recorded before it asked."""
    import time

    owner = AnalyticsStore(iom_home, interval_s=1.0)
    assert owner.start()
    proc = child(iom_home, 30000, "--pace", "0.001", tag="p")  # ~30 s of calls, one a millisecond
    try:
        while not proc.stdout.readline().startswith("recorded 500"):
            pass
        started = time.monotonic()
        owner.flush()
        took = time.monotonic() - started
        stored, distinct = counts(owner)
        assert proc.poll() is None, "the child ended before the read did: the test proves nothing"
        assert took < 10 and 500 <= stored == distinct < 30000, (took, stored)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    owner.close()


def test_iom_analytics_beside_a_batch_with_no_web_app_reads_and_the_batch_takes_the_database_back(iom_home):
    """With no web app to answer for it, `iom analytics` was refused while a command held the
    database; it now asks that command to let go, reads, and leaves it to take back."""
    import json

    proc = child(iom_home, 200, "--own", "--then", "100", tag="b")
    while not proc.stdout.readline().startswith("recorded 200 and the run"):
        pass
    env = dict(os.environ, IOM_HOME=str(iom_home))
    read = subprocess.run([sys.executable, "-m", "studio", "analytics", "--since", "1d", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["summary"]["calls"] == 200
    (iom_home / "go").touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err and "recorded 100 more" in out, err
    store = AnalyticsStore(iom_home)
    assert counts(store) == (300, 300)
    store.close()


def test_a_record_the_disk_does_not_take_is_refused_whole_and_spoils_nothing(tmp_path, monkeypatch):
    """A full disk mid-line: the call is not reported as recorded (one sentence, naming the
    folder), the segment keeps no part of the line, and the records after it are read whole."""
    from studio.analytics import spool

    store = AnalyticsStore(tmp_path)
    real_write, full = os.write, [False]

    def write(fd, data):
        if full[0]:  # the disk takes a part of the line, then refuses the rest
            real_write(fd, bytes(data[:100]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", write)  # what the spool's append (studio.atomic.append_whole) calls
    try:
        store.record_call(CallRecord(id="before", model_id="m/a", provider="openai"))
        full[0] = True
        with pytest.raises(spool.NotRecorded) as refused:
            store.record_call(CallRecord(id="lost", model_id="m/a", provider="openai"), {"prompt": "q" * 1000})
        full[0] = False
        store.record_call(CallRecord(id="after", model_id="m/a", provider="openai"))
        store.flush()
        stored = store.read(lambda cur: sorted(r[0] for r in cur.execute("SELECT id FROM calls").fetchall()))
    finally:
        store.close()
    assert str(refused.value) == (f"could not keep the call's record in {tmp_path / 'spool'} (No space left on device): "
                                  "free space on that disk, or make the folder writable, and try again.")
    assert stored == ["after", "before"] and store.write_errors == 0


def test_a_command_whose_record_cannot_be_kept_says_so_in_one_sentence(iom_home):
    """No traceback, and no output reported as if recorded: the spool folder cannot be made."""
    (iom_home / "spool").write_text("a file where the spool folder goes")
    done = subprocess.run([sys.executable, "-m", "studio", "invoke", "local/text-stats", "--input", '{"text": "hi"}'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "IOM_HOME": str(iom_home)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: could not keep the call's record in {iom_home / 'spool'} (")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_new_segment_is_never_seen_without_its_lock(iom_home, monkeypatch):
    """A segment was made under its own name and locked a moment later: the owner's writer,
    looking in between, saw an empty file whose writer had gone and deleted it, and every
    record of that command went into the deleted file (the command still said it succeeded)."""
    from studio.analytics import spool

    real_flock = spool.fcntl.flock
    seen_unlocked: list[str] = []

    def watching_flock(fd, op):  # what an owner looking now would find (its own looks unwatched)
        spool.fcntl.flock = real_flock
        try:
            seen_unlocked.extend(p.name for p in spool.segments(iom_home) if spool.writer_gone(p))
        finally:
            spool.fcntl.flock = watching_flock
        return real_flock(fd, op)

    segment = spool.SpoolSegment(iom_home)
    monkeypatch.setattr(spool.fcntl, "flock", watching_flock)
    segment.append(b'{"x": 1}\n')
    monkeypatch.setattr(spool.fcntl, "flock", real_flock)
    assert seen_unlocked == [] and [p.name for p in spool.segments(iom_home)] == [segment.name]
    assert not spool.writer_gone(segment.path)
    assert [p.name for p in spool.spool_dir(iom_home).iterdir()] == [segment.name]  # nothing left of the making
    segment.close()
    assert spool.writer_gone(segment.path)
