"""Atomic writes: a crash in the middle of a write leaves the previous file whole."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from studio.atomic import NotSaved, write_json, write_text
from studio.errors import UserError


def test_a_process_killed_before_the_rename_leaves_the_old_file(tmp_path):
    target = tmp_path / "models" / "m.json"
    write_json(target, {"version": "old"})
    child = textwrap.dedent(f"""
        import os, signal
        import studio.atomic as atomic
        # Die the hard way at the moment the new content is on disk but not yet renamed.
        atomic.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        atomic.write_json({str(target)!r}, {{"version": "new", "pad": "x" * 100000}})
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=os.getcwd())
    assert proc.returncode == -9
    assert target.read_text() == '{\n  "version": "old"\n}\n'


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    folder = tmp_path / "w"
    target = folder / "a.txt"
    write_text(target, "before")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(NotSaved) as refused:  # a UserError: one sentence where the UI or the CLI shows it
        write_text(target, "after")
    monkeypatch.undo()
    assert target.read_text() == "before"
    assert [p.name for p in folder.iterdir()] == ["a.txt"]
    assert str(refused.value) == (f"could not save {target} (No space left on device): free space on that disk, or "
                                  "make the folder writable, and try again; the file as it was before is unchanged.")
    assert isinstance(refused.value, UserError) and isinstance(refused.value, OSError)  # caches carry on on OSError


def test_json_is_written_with_sorted_keys_and_two_space_indent(tmp_path):
    write_json(tmp_path / "x.json", {"b": 1, "a": {"d": 2, "c": 3}})
    assert (tmp_path / "x.json").read_text() == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


def test_a_pipe_is_written_into_and_a_symlink_stays_a_link(tmp_path):
    """`-o /dev/null` as root replaced /dev/null with a regular file: a new file was renamed over
    whatever the path named. A pipe (a device, a socket) is written straight into now, and a
    symlink's target is replaced, the link kept."""
    import stat
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    write_text(pipe, "through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)

    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_json(link, {"new": True})
    assert link.is_symlink() and json.loads(real.read_text()) == {"new": True}
