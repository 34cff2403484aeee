"""Batches set up for tests through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def stopped_batch(home: Path, *args: str, keep: int, env: dict | None = None) -> str:
    """A batch run by `iom batch run ARGS`, then cut back to its first `keep` rows, as a run
    killed part way leaves it; its id."""
    r = subprocess.run([sys.executable, "-m", "studio", "batch", "run", *args, "--json"], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    batch_id = json.loads(r.stdout)["id"]
    rows = home / "batches" / batch_id / "rows.jsonl"
    rows.write_text("".join(rows.read_text("utf-8").splitlines(keepends=True)[:keep]), encoding="utf-8")
    return batch_id
