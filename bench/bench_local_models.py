"""Latency of the built-in local models: first call (loads the library) and warm calls, on
a short review and on a ~1,000-word text. Prints figures; asserts nothing.

    python -m bench.bench_local_models
"""

from __future__ import annotations

import statistics
import time

from studio.providers.local import LOCAL_MODELS
from tests.providers import local_texts as T

SHORT = T.EN_REVIEW
LONG = " ".join([T.EN_ARTICLE, T.EN_REVIEW, T.EN_POSITIVE, T.EN_NEGATIVE] * 6)
REPEATS = 30


def timed(model, text):
    start = time.perf_counter()
    model.run({"text": text}, {})
    return (time.perf_counter() - start) * 1000


def main():
    print(f"short text: {len(SHORT.split())} words; long text: {len(LONG.split())} words; {REPEATS} warm runs")
    print(f"{'model':18} {'first call ms':>14} {'short median ms':>16} {'long median ms':>15}")
    for name, model in LOCAL_MODELS.items():
        first = timed(model, SHORT)
        short = statistics.median(timed(model, SHORT) for _ in range(REPEATS))
        long = statistics.median(timed(model, LONG) for _ in range(REPEATS))
        print(f"{name:18} {first:14.1f} {short:16.2f} {long:15.2f}")


if __name__ == "__main__":
    main()
