"""`iom batch run --executor ray` beside and on a REAL Ray cluster that `ray start --head` left
running on this machine, as a person who uses Ray has one: without an address the batch starts
a Ray of its own (a bare ray.init() joined that cluster and refused the job's CPUs); with
`--ray-address` it runs on the cluster, which asks for a token (Ray 2.5x's default)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "datasets" / "reviews.csv"
RAY = Path(sys.executable).with_name("ray")  # the venv's ray CLI (the 'scale' extra; no skip)
TOKEN = "c0ffee" * 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(env: dict, home: Path, batch_id: str) -> dict:
    shown = subprocess.run([sys.executable, "-m", "studio", "batch", "show", batch_id, "--json"], cwd=ROOT,
                           env={**env, "IOM_HOME": str(home)}, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    return {r["index"]: (r["status"], r["output"], r["costUsd"]) for r in json.loads(shown.stdout)["rowResults"]}


def test_a_batch_runs_beside_and_on_a_cluster_that_ray_start_left(tmp_path):
    # the cluster's files in a short dir of their own (Ray's socket paths must stay under 108
    # bytes), which the commands below take as their TMPDIR: Ray finds the cluster there
    where = Path(tempfile.mkdtemp(prefix="rc"))
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(where),  # no ~/.ray/auth_token of the user's
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false", f"--temp-dir={where / 'ray'}"],
                            env={**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN,
                                 "RAY_USAGE_STATS_ENABLED": "0"},  # ray start would report usage over the internet
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        said = ""
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in said:
            line = head.stdout.readline()
            assert line and time.monotonic() < deadline, f"ray start did not start:\n{said}"
            said += line
        # ray start's later output is not read: it only says where its logs are

        def batch(home: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "studio", "batch", "run", "review-triage", "--data", str(SAMPLE),
                                   "--limit", "6", "--json", *args], cwd=ROOT, capture_output=True, text=True,
                                  env={**env, "IOM_HOME": str(tmp_path / home), **extra})

        local = batch("local")
        assert local.returncode == 0, local.stderr
        batch_id = json.loads(local.stdout)["id"]
        expected = _rows(env, tmp_path / "local", batch_id)
        assert len(expected) == 6 and {s for s, _, _ in expected.values()} == {"succeeded"}

        # no address: a Ray of the job's own, though the cluster is found in TMPDIR
        beside = batch("beside", "--executor", "ray")
        assert beside.returncode == 0, beside.stderr
        assert _rows(env, tmp_path / "beside", batch_id) == expected

        # the cluster's address without the token mode: one sentence that says what to set
        refused = batch("refused", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}")
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == (
            f"error: the Ray cluster at 127.0.0.1:{port} asks for a token: set RAY_AUTH_MODE=token (Ray reads "
            "the token from RAY_AUTH_TOKEN, else ~/.ray/auth_token), then run this again.")

        on = batch("on", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
                   RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
        assert on.returncode == 0, on.stderr
        assert _rows(env, tmp_path / "on", batch_id) == expected
    finally:
        head.send_signal(signal.SIGTERM)  # --block: ray start stops what it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        head.stdout.close()
        shutil.rmtree(where, ignore_errors=True)
