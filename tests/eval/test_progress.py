"""The terminal's progress bars (rich, on stderr): drawn for a batch and for each variant of
an experiment when stderr is a terminal (a real pseudo-terminal here), never into --json."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, what the terminal showed) of `iom ARGS` with stderr on a pty."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "studio", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=follower, env={**os.environ, "TERM": "xterm", "COLUMNS": "120"})
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    out = proc.stdout.read().decode()
    proc.wait(60)
    return proc.returncode, out, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))


def test_batch_and_experiment_draw_bars_on_a_terminal(iom_home):
    code, out, shown = on_a_terminal("batch", "run", "review-triage", "--data", str(SAMPLE), "--limit", "3")
    assert code == 0 and "3 succeeded" in out
    assert re.search(r"batch b[0-9a-f]+ .*3/3", shown), shown[-400:]
    code, out, shown = on_a_terminal("eval", "run", "--data", str(SAMPLE), "-v", "review-triage",
                                     "-v", "local/sentiment-vader#sentiment=label", "-s", "sentiment:classification",
                                     "--limit", "3")
    assert code == 0 and "review-triage" in out
    for variant in ("review-triage", "local/sentiment-vader#sentiment=label"):  # a bar each, to the end
        assert re.search(re.escape(variant) + r" .*3/3", shown), shown[-400:]
    code, out, shown = on_a_terminal("eval", "run", "--data", str(SAMPLE), "-v", "review-triage",
                                     "-s", "sentiment:classification", "--limit", "3", "--json")
    assert code == 0 and out.lstrip().startswith("{") and "3/3" not in shown  # --json: no bar
