"""A small known data set with hand-computed figures (see test_queries.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from studio.spec.calls import Usage
from studio.spec.records import CallRecord

DAY1 = datetime(2026, 1, 10, tzinfo=timezone.utc)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=timezone.utc)


def call(id, time, model, provider, pipeline, status="ok", error_class=None, latency=0.0, ttft=None,
         tin=0, tout=0, cost=None, cache_hit=False, saved=None, fell_back_from=None, run_id=None):
    return CallRecord(id=id, time=time, model_id=model, provider=provider, pipeline_id=pipeline, run_id=run_id,
                      status=status, error_class=error_class, latency_ms=latency, ttft_ms=ttft,
                      usage=Usage(input_tokens=tin, output_tokens=tout, source="provider"), cost_usd=cost,
                      cache_hit=cache_hit, saved_usd=saved, fell_back_from=fell_back_from)


KNOWN = [
    call("c1", at(10, 10), "m/a", "openai", "p1", latency=100, ttft=20, tin=10, tout=80, cost=0.10),
    call("c2", at(10, 10), "m/a", "openai", "p1", latency=200, tin=10, tout=100, cost=0.20),
    call("c3", at(10, 11), "m/a", "openai", None, status="error", error_class="timeout", latency=300),
    call("c4", at(10, 12), "m/b", "anthropic", "p2", latency=400, ttft=100, tin=5, tout=30),
    call("c5", at(10, 12), "m/b", "anthropic", "p2", latency=10, tout=30, cost=0.0, cache_hit=True, saved=0.05),
    call("c6", at(10, 13), "m/c", "local", "p1", latency=50, cost=0.0, fell_back_from="m/a"),
    call("c7", at(11, 9), "m/b", "anthropic", "p2", status="error", error_class="rate_limited", latency=5),
]


def load_known(store) -> None:
    for record in KNOWN:
        store.record_call(record, {"prompt": f"input of {record.id}"}, {"text": f"output of {record.id}"})
    store.flush()
