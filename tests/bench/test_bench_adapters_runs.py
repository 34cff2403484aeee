"""bench_adapters.py runs end to end on a few calls and prints its JSON (its model's keyRef was
IOM_BENCH_KEY, which the studio now refuses as one of its own names: the bench broke unseen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_adapters_runs_and_prints_its_figures(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run([sys.executable, "bench/bench_adapters.py", "--calls", "20", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures["adapter_ratio"]) == {"plain", "stream"} and all(r > 0 for r in figures["adapter_ratio"].values())
