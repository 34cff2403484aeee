"""How long the studio takes from launch until its first page answers 200: `python run.py`
(cold start of the server), and `./scripts/start` when nothing changed since the last start
(the README's first command a second time: it must not reinstall anything). Beside them, in
the same rounds, a bare NiceGUI app with one page (bench/nicegui_hello.py): the floor no
change to the studio can go below, and the studio's start as a ratio of it.

    python bench/bench_startup.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
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


def one_start(command: list[str]) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, IOM_HOME=home, IOM_PORT=str(port))
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    time.sleep(0.02)
                if proc.poll() is not None:
                    raise SystemExit(f"{' '.join(command)} exited with {proc.returncode}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="also print one JSON object with the figures")
    args = parser.parse_args()
    server = [sys.executable, "run.py"]
    script = [str(ROOT / "scripts" / "start")]
    one_start(script)  # installs what is missing, once; the measured starts below find it there
    hello = [sys.executable, str(ROOT / "bench" / "nicegui_hello.py")]
    cold, warm, floor = [], [], []
    for _ in range(args.runs):  # interleaved, so all see the same machine load
        cold.append(one_start(server))
        warm.append(one_start(script))
        floor.append(one_start(hello))
    print(f"run.py to first page (fresh IOM_HOME, seeding included), {args.runs} runs: "
          f"median {statistics.median(cold):.2f} s, min {min(cold):.2f} s, max {max(cold):.2f} s")
    print(f"./scripts/start again (nothing changed) to first page, {args.runs} runs: "
          f"median {statistics.median(warm):.2f} s, min {min(warm):.2f} s, max {max(warm):.2f} s")
    print(f"bare NiceGUI app with one page to first page, {args.runs} runs: median {statistics.median(floor):.2f} s; "
          f"the studio's cold start is {statistics.median(cold) / statistics.median(floor):.2f}x that")
    if args.json:
        print(json.dumps({"startup_s": round(statistics.median(cold), 3),
                          "warm_start_s": round(statistics.median(warm), 3),
                          "nicegui_floor_s": round(statistics.median(floor), 3),
                          "startup_over_nicegui": round(statistics.median(cold) / statistics.median(floor), 3),
                          "runs": args.runs}))


if __name__ == "__main__":
    main()
