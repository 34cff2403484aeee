"""Load from every face at once — the gateway under steady load and `iom run` / `iom invoke`
from the terminal beside it — and a count of what reached the database. Shared by
tests/analytics/test_faces.py and bench/bench_faces.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers.studio_server import ROOT, StudioServer, cli_env

REVIEW = '{"text": "The room was lovely but breakfast was cold."}'


@dataclass
class FacesResult:
    run_ids: list[str] = field(default_factory=list)
    invokes_ok: int = 0
    failures: list[str] = field(default_factory=list)  # one line per CLI command that failed or printed a traceback
    gateway_ok: int = 0
    gateway_failed: int = 0
    seconds: float = 0.0


def iom(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, env=cli_env(home), text=True,
                          capture_output=True, timeout=timeout)


class GatewayLoad:
    """`workers` clients calling pipeline/review-triage through the gateway until stopped, each
    pausing `pause_s` between calls: a steady load that leaves the CPU to the other faces."""

    def __init__(self, server: StudioServer, workers: int = 2, pause_s: float = 0.05):
        self.pause_s = pause_s
        self.server = server
        self.ok = 0
        self.failed = 0
        self.acknowledged_at: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(workers)]
        self._lock = threading.Lock()

    def __enter__(self) -> "GatewayLoad":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _loop(self) -> None:
        body = {"model": "pipeline/review-triage", "messages": [{"role": "user", "content": "Great room, cold breakfast."}]}
        with httpx.Client(base_url=self.server.url, headers=self.server.headers, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    r = client.post("/v1/chat/completions", json=body)
                except httpx.HTTPError:
                    with self._lock:
                        self.failed += 1
                    if self._stop.wait(0.05):
                        return
                    continue
                with self._lock:
                    if r.status_code == 200:
                        self.ok += 1
                        self.acknowledged_at.append(time.time())
                    else:
                        self.failed += 1
                if self._stop.wait(self.pause_s):
                    return


def cli_load(home: Path, runs: int, invokes: int, concurrency: int = 4) -> FacesResult:
    """`runs` × iom run and `invokes` × iom invoke, `concurrency` at a time, interleaved."""
    result = FacesResult()
    jobs = [("run", "review-triage", "--input", REVIEW)] * runs + \
           [("invoke", "local/sentiment-vader", "--input", REVIEW)] * invokes
    jobs = [job for pair in zip(jobs[:runs], jobs[runs:]) for job in pair] + jobs[2 * min(runs, invokes):]

    def one(args: tuple[str, ...]) -> None:
        done = iom(home, *args)
        if done.returncode != 0 or "Traceback" in done.stderr or "Traceback" in done.stdout:
            result.failures.append(f"iom {' '.join(args[:2])}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
            return
        if args[0] == "run":
            line = next((x for x in done.stderr.splitlines() if x.startswith("run ") and ": succeeded" in x), None)
            if line is None:
                result.failures.append(f"iom run printed no success line: {done.stderr.strip()[-300:]}")
            else:
                result.run_ids.append(line.split()[1].rstrip(":"))
        else:
            result.invokes_ok += 1

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, jobs))
    result.seconds = time.monotonic() - started
    return result


def count_records(home: Path) -> dict[str, int]:
    """Runs and stand-alone sentiment calls in the database (open it only when no server runs)."""
    import duckdb

    con = duckdb.connect(str(home / "analytics.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone()
        invokes = con.execute("SELECT count(*) FROM calls WHERE run_id IS NULL AND model_id = 'local/sentiment-vader'").fetchone()[0]
        calls = con.execute("SELECT count(*), count(DISTINCT id) FROM calls").fetchone()
        ids = {r[0] for r in con.execute("SELECT id FROM runs").fetchall()}
    finally:
        con.close()
    return {"runs": runs[0], "distinct_runs": runs[1], "invokes": invokes, "calls": calls[0],
            "distinct_calls": calls[1], "run_ids": ids}
