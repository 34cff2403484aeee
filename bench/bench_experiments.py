"""Reading saved experiments as the Evaluate page and `iom eval list|show` do: listing N
experiments of R rows (two variants, two scorers each: 4 R per-row scores an experiment), and
loading one whole (its figures and per-row scores), in a fresh IOM_HOME.

    python bench/bench_experiments.py [--experiments 30] [--rows 10000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from studio.eval.experiments import experiments_root, list_experiments, load_experiment, save_experiment


def experiment(i: int, rows: int, rng: random.Random) -> dict:
    def scores():
        return [{"scorer": f"label:{kind}", "kind": kind, "mean": 0.5,
                 "perRow": {str(r): rng.choice([0.0, 1.0]) for r in range(rows)}} for kind in ("exact", "contains")]
    return {"id": f"x{i:04d}", "data": "reviews.csv", "created": f"2026-12-{i % 28 + 1:02d}T00:00:00",
            "scorers": ["label:exact", "label:contains"],
            "variants": [{"variant": f"v{v}", "target": "review-triage", "swaps": {}, "batchId": f"b{i:04d}{v}",
                          "rows": rows, "quality": 0.5, "scores": scores()} for v in range(2)]}


def median_ms(fn, repeat: int) -> float:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        took.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(took), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=30)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for i in range(args.experiments):
            save_experiment(home, experiment(i, args.rows, rng))
        files = [p for p in experiments_root(home).rglob("*") if p.is_file()]
        figures = {
            "experiments": args.experiments, "rows": args.rows,
            "filesMb": round(sum(p.stat().st_size for p in files) / 1e6, 1),
            "listMs": median_ms(lambda: list_experiments(home), args.repeat),
            "loadOneMs": median_ms(lambda: load_experiment(home, "x0000"), args.repeat),
        }
    print(f"{args.experiments} experiments of {args.rows:,} rows ({figures['filesMb']} MB on disk): "
          f"listing {figures['listMs']} ms, loading one {figures['loadOneMs']} ms (medians of {args.repeat})")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
