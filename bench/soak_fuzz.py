"""The long fuzz: every entry point that takes user data, driven with 10,000+ generated
documents and inputs each (the test run does 2,000), counting instead of stopping at the first
failure. A one-sentence UserError is a correct answer; anything else is a traceback; an
example that takes longer than --hang-s seconds is a hang (interrupted with SIGALRM).

    python bench/soak_fuzz.py [--examples 10000] [--hang-s 10] [--only NAME] [--json]

Runs in its own temporary IOM_HOME; prints what it tried and found."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from studio.errors import UserError  # noqa: E402
from tests.fuzz import targets as t  # noqa: E402


class Hang(Exception):
    pass


def soak(name: str, strategy, call, examples: int, hang_s: float) -> dict:
    counts: Counter = Counter()
    kinds: Counter = Counter()
    first: list[str] = []

    def on_alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(value):
        counts["tried"] += 1
        signal.setitimer(signal.ITIMER_REAL, hang_s)
        try:
            call(value)
            counts["answered"] += 1
        except UserError:
            counts["refused_in_one_sentence"] += 1
        except Hang:
            counts["hangs"] += 1
        except Exception as e:  # noqa: BLE001 — what the soak is here to count
            counts["tracebacks"] += 1
            kinds[type(e).__name__] += 1
            if len(first) < 3:
                first.append(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}\n  input: {value!r:.300}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    started = time.perf_counter()
    check()
    return {"entry_point": name, "tried": counts["tried"], "answered": counts["answered"],
            "refused_in_one_sentence": counts["refused_in_one_sentence"], "tracebacks": counts["tracebacks"],
            "hangs": counts["hangs"], "traceback_kinds": dict(kinds), "seconds": round(time.perf_counter() - started, 1),
            "first_tracebacks": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--hang-s", type=float, default=10.0)
    parser.add_argument("--only", help="one entry point by name")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IOM_HOME"] = tmp
        entry = t.Targets(Path(tmp))
        plan = {
            "model import (IoM and prototype formats)": (
                t.model_like | t.prototype_like | t.wild | t.st.lists(t.prototype_like, max_size=3), entry.model_import),
            "pipeline load + validate + dry run": (t.pipelines, entry.pipeline_cycle),
            "pipeline run with generated templates": (
                t.st.tuples(t.mutated_sample() | t.pipeline_like, t.run_inputs), lambda v: entry.pipeline_run(*v)),
            "run inputs (review-triage)": (t.run_inputs, entry.sample_run),
            "JSON reader (files, bodies)": (t.json_bytes(), entry.json_reader),
            "CLI --input": (t.json_bytes(), entry.cli_input),
        }
        for name, (strategy, call) in plan.items():
            if args.only and args.only not in name:
                continue
            result = soak(name, strategy, call, args.examples, args.hang_s)
            results.append(result)
            print(f"{name}: tried {result['tried']:,}, answered {result['answered']:,}, "
                  f"refused in one sentence {result['refused_in_one_sentence']:,}, tracebacks {result['tracebacks']}, "
                  f"hangs {result['hangs']} ({result['seconds']} s)", flush=True)
            for text in result["first_tracebacks"]:
                print("  " + text.replace("\n", "\n  "))
        entry.close()
    total = {k: sum(r[k] for r in results) for k in ("tried", "tracebacks", "hangs")}
    print(f"total: tried {total['tried']:,}, tracebacks {total['tracebacks']}, hangs {total['hangs']}")
    if args.json:
        print(json.dumps({"entry_points": results, "total": total}))


if __name__ == "__main__":
    main()
