"""How long `python run.py` takes from launch until its first page answers 200.

    python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def one_start() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, IOM_HOME=home, IOM_PORT=str(port))
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "run.py"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    time.sleep(0.02)
                if proc.poll() is not None:
                    raise SystemExit(f"run.py exited with {proc.returncode}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = [one_start() for _ in range(args.runs)]
    print(f"run.py to first page (fresh IOM_HOME, seeding included), {args.runs} runs: "
          f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")


if __name__ == "__main__":
    main()
