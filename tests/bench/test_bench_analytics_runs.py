"""bench_analytics.py runs end to end on small figures and prints its JSON: the benches import the
studio's own functions, and one that was renamed (export_calls) left the bench broken unseen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_analytics_runs_and_prints_its_figures(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run([sys.executable, "bench/bench_analytics.py", "--ingest", "500", "--rows", "4000", "--repeat", "1",
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 4000
    assert set(figures["ingest_rows_per_s"]) == {"plain", "audit", "runs"}
    assert all(rate > 0 for rate in figures["ingest_rows_per_s"].values())
    assert set(figures["dashboard_ms"]) == {"all_time", "last_7_days"}
