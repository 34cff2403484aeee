"""Every bench that prints one JSON object, one after another (never side by side: they would
measure each other), gathered into one JSON object keyed by bench name.

    python bench/run_all.py [--quick] [--skip NAME ...] [-o FILE.json]

--quick runs smaller sizes (a smoke run, not figures to quote). bench_gateway installs LiteLLM
into bench/out/ the first time (PyPI). A bench that fails is reported under its name with its
last lines of output; the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (arguments for a full run, arguments for --quick)
BENCHES = {
    "engine": (["--rounds", "3"], ["--rounds", "1"]),
    "adapters": (["--calls", "600"], ["--calls", "100"]),
    "analytics": ([], ["--ingest", "20000", "--rows", "100000", "--repeat", "2"]),
    "startup": (["--runs", "3"], ["--runs", "1"]),
    "gateway": (["--rounds", "3"], ["--rounds", "1", "--calls", "50", "--burst", "100", "--no-litellm"]),
    "batch": ([], ["--rows", "1000", "--upstream-rows", "500", "--skip-ray"]),
    "experiments": ([], ["--experiments", "5", "--rows", "1000", "--repeat", "2"]),
}


def run_one(name: str, args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"bench.bench_{name}", *args, "--json"],
                          cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines and lines[-1].startswith("{"):
        return {**json.loads(lines[-1]), "benchSeconds": round(time.perf_counter() - started, 1)}
    return {"failed": proc.returncode, "tail": (proc.stdout + proc.stderr).strip().splitlines()[-8:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip", nargs="*", default=[], choices=sorted(BENCHES))
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args()
    results = {}
    for name, (full, quick) in BENCHES.items():
        if name in args.skip:
            continue
        print(f"bench_{name} …", file=sys.stderr, flush=True)
        results[name] = run_one(name, quick if args.quick else full)
    text = json.dumps(results, indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
