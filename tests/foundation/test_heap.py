"""The long commands keep what the process made before their rows out of the collector's full
passes (studio/heap.py), as the server does at its start; a short command freezes nothing, and
nothing is frozen under pytest."""

import gc
import subprocess
import sys
from pathlib import Path

from studio.heap import freeze_long_lived
from tests.helpers.studio_server import cli_env

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


def in_a_command_process(home: Path, *args: str) -> str:
    """`iom ARGS` run by studio.cli.main in a fresh process, then what the collector holds."""
    probe = ("import gc, sys\nfrom studio.cli import main\n"
             f"code = main({list(args)!r})\n"
             "print('exit', code, 'frozen', gc.get_freeze_count(), 'collector', gc.isenabled())\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=cli_env(home), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_batch_freezes_what_exists_before_its_rows_and_a_short_command_does_not(tmp_path):
    last = in_a_command_process(tmp_path, "batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "2")
    exit_code, frozen, collector = last.split()[1], int(last.split()[3]), last.split()[5]
    assert (exit_code, collector) == ("0", "True")
    assert frozen > 10_000  # the imports, the studio and its registry: tens of thousands of objects
    last = in_a_command_process(tmp_path, "models", "list")
    assert last.startswith("exit 0 frozen 0 ")


def test_the_collector_is_turned_back_on_with_what_exists_frozen(monkeypatch):
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    gc.disable()
    try:
        freeze_long_lived()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
        gc.enable()


def test_under_pytest_nothing_is_frozen_and_the_collector_is_on():
    gc.disable()
    try:
        freeze_long_lived()
        assert gc.isenabled()
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
