"""Durable before reported: `iom run` is killed (SIGKILL) at random points, 20 times; every
run that printed "succeeded" is in the history afterwards, and nothing is stored twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INPUT = '{"text": "The room was lovely but breakfast was cold."}'


def iom(iom_home: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, IOM_HOME=str(iom_home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return subprocess.Popen([sys.executable, "-m", "studio", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_every_run_that_printed_success_survives_sigkill(iom_home):
    rng = random.Random(15)
    warm = iom(iom_home, "run", "review-triage", "--input", INPUT)  # seeds the samples, measures a run
    started = time.monotonic()
    _, err = warm.communicate(timeout=120)
    one_run_s = time.monotonic() - started
    assert warm.returncode == 0, err
    reported = {err.split("run ", 1)[1].split(":", 1)[0]}
    killed_after_success = 0
    for attempt in range(20):
        proc = iom(iom_home, "run", "review-triage", "--input", INPUT)
        if attempt % 2:  # kill at a random moment of the run's life
            time.sleep(rng.uniform(0, one_run_s * 1.2))
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        else:  # kill the instant it has said "succeeded"
            err = ""
            for line in proc.stderr:
                err += line
                if ": succeeded" in line:
                    proc.send_signal(signal.SIGKILL)
                    killed_after_success += 1
                    break
            proc.communicate(timeout=60)
        for line in err.splitlines():
            if line.startswith("run ") and ": succeeded" in line:
                reported.add(line.split()[1].rstrip(":"))
    listing = iom(iom_home, "runs", "list", "--json", "--limit", "1000")
    out, err = listing.communicate(timeout=120)
    assert listing.returncode == 0, err
    stored = [r["id"] for r in json.loads(out)]
    assert len(stored) == len(set(stored))
    missing = reported - set(stored)
    print(f"printed success: {len(reported)}, recorded: {len(reported) - len(missing)} "
          f"(killed right after the success line: {killed_after_success})")
    assert killed_after_success >= 5 and len(reported) >= 10
    assert not missing
