"""Reading analytics wherever the database is.

DuckDB lets one process hold analytics.duckdb; while the web app runs it is that process. So a
read that cannot open the database here (`DatabaseBusy`) is sent to the web app, which takes
in every spooled record first and then runs the same query (POST /api/analytics/read with the
gateway token; studio/gateway/studio_api.py). Only the queries named in `QUERIES` travel.
Applying the retention setting is handed over the same way (POST /api/analytics/retention).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Callable

from studio.analytics import queries as q
from studio.analytics.retention import RetentionReport
from studio.analytics.store import AnalyticsStore, DatabaseBusy
from studio.errors import UserError

READ_PATH = "/api/analytics/read"
RETENTION_PATH = "/api/analytics/retention"
QUERIES: dict[str, Callable] = {fn.__name__: fn for fn in (
    q.dashboard, q.summary, q.list_runs, q.get_run, q.get_call, q.recent_calls, q.filter_choices, q.latency_by_model)}


def recent_call_stats(store: AnalyticsStore, keys=None, days: int = 7) -> dict[str, dict]:
    """{model_id: {"p50Ms", "errorRate", "calls", "answered"}} from the last days' calls: the
    figures capability routing ranks and limits by, and the registry shows and filters by. The p50
    is of the calls that answered: a refusal comes back fast (a 429 in 20 ms), and counted in it
    made a model failing most of its calls look like the fastest; the error rate is over every
    call made. What is committed is read without waiting for the calls still queued. Where
    another process holds the database (the web app, beside a batch), that process answers.
    Raises what reading the analytics raises."""
    from datetime import timedelta, timezone

    since = datetime.now(timezone.utc) - timedelta(days=days)

    def read(filters: q.Filters) -> list[dict]:
        return read_anywhere(store, q.latency_by_model, filters, keys=keys, committed=True)

    every = read(q.Filters(since=since))
    answered = {r["model_id"]: r for r in read(q.Filters(since=since, status="ok"))}
    stats = {}
    for r in every:
        ok = answered.get(r["model_id"]) or {"calls": 0, "p50_ms": None}
        stats[r["model_id"]] = {"p50Ms": ok["p50_ms"], "calls": r["calls"], "answered": ok["calls"],
                                "errorRate": (r["calls"] - ok["calls"]) / r["calls"] if r["calls"] else 0.0}
    return stats


def read_anywhere(store: AnalyticsStore, fn: Callable, *args, keys=None, committed: bool = False) -> Any:
    """`store.read(fn, *args)` here when we can open the database, else through the web app;
    with no web app running, the command that holds it (a batch) is asked to let it go, as the
    web app asks (studio/analytics/handover.py), and takes it back once this one has read.
    `committed`: what is committed is enough (figures over days, which a run waits for: the
    latency capability nodes route by), so nothing waits for the spool to be taken in, the web
    app has 5 s to answer, and no batch is asked for the database."""
    try:
        return (store.read_committed if committed else store.read)(fn, *args)
    except DatabaseBusy:
        pass
    try:
        return read_remote(store, fn.__name__, *args, keys=keys, committed=committed)
    except DatabaseBusy:
        if committed or not store.take_over(timeout_s=5):
            raise
    return store.read(fn, *args)


def encode_args(args: tuple) -> list:
    out = []
    for a in args:
        if isinstance(a, q.Filters):
            out.append({"filters": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(a).items()}})
        else:
            out.append(a)
    return out


def decode_args(args: Any) -> list:
    if not isinstance(args, list):
        raise UserError("'args' must be a list.")
    out = []
    for a in args:
        if isinstance(a, dict) and isinstance(a.get("filters"), dict):
            f = a["filters"]
            try:
                out.append(q.Filters(**{k: (datetime.fromisoformat(v) if k in ("since", "until") and v else v)
                                        for k, v in f.items()}))
            except (TypeError, ValueError):
                raise UserError("'filters' has a field this studio does not know or a time it cannot read.") from None
        elif isinstance(a, (str, int)) or a is None:
            out.append(a)
        else:
            raise UserError("query arguments are filters, strings or numbers.")
    return out


def serve_read(store: AnalyticsStore, name: Any, args: Any, committed: bool = False) -> str:
    """The web app's side: take in every spooled record (unless what is committed will do), run
    the named query, return JSON text."""
    fn = QUERIES.get(name) if isinstance(name, str) else None
    if fn is None:
        raise UserError(f"no analytics query named {name!r}; known: {', '.join(sorted(QUERIES))}.")
    decoded = decode_args(args)
    if committed:
        return json.dumps(store.read_committed(fn, *decoded), default=str, ensure_ascii=False)
    store.flush()
    return json.dumps(store.read(fn, *decoded), default=str, ensure_ascii=False)


def read_remote(store: AnalyticsStore, name: str, *args, keys=None, committed: bool = False) -> Any:
    return _post(store, READ_PATH, {"query": name, "args": encode_args(args), "committed": committed},
                 "the analytics read", keys=keys, timeout=5 if committed else 60)


def apply_retention_anywhere(store: AnalyticsStore, keys=None) -> RetentionReport:
    """`store.apply_retention()` here when we can open the database, else by the web app that
    holds it (nothing is refused while it runs); with no web app, the command that holds it (a
    batch) is asked to let it go, as `read_anywhere` does."""
    try:
        return store.apply_retention()
    except DatabaseBusy:
        pass
    try:
        doc = _post(store, RETENTION_PATH, {}, "applying the retention setting", keys=keys, timeout=600)
    except DatabaseBusy:
        if not store.take_over(timeout_s=5):
            raise
        return store.apply_retention()
    return RetentionReport(**{**doc, "cutoff": datetime.fromisoformat(doc["cutoff"]) if doc.get("cutoff") else None})


def serve_retention(store: AnalyticsStore) -> str:
    """The web app's side: apply its retention setting (analytics.json as it is now), after
    every record recorded so far; the report as JSON text."""
    return json.dumps(asdict(store.apply_retention()), default=str)


def _post(store: AnalyticsStore, path: str, body: dict, what: str, *, keys, timeout: float) -> Any:
    """POST `body` to the running web app's `path` with the gateway token; its JSON answer.
    DatabaseBusy when no web app runs (another command holds the database)."""
    import httpx

    from studio.serverinfo import running_server

    url = running_server(store.home)
    if url is None:
        raise DatabaseBusy(
            f"the analytics database {store.path} is in use by another IoM Studio command; "
            "try again when it has finished.")
    token = _token(store.home, keys)
    try:
        r = httpx.post(url + path, json=body, headers={"authorization": f"Bearer {token}"}, timeout=timeout,
                       trust_env=False)
    except httpx.HTTPError as e:
        raise UserError(f"the studio at {url} holds the analytics database but did not answer ({type(e).__name__}); "
                        "check that it is running, or stop it, and try again.") from None
    try:
        doc = r.json()
    except ValueError:
        doc = None
    if r.status_code != 200:
        message = (doc or {}).get("error", {}).get("message") if isinstance(doc, dict) else None
        raise UserError(f"the studio at {url} refused {what}: "
                        f"{message or f'HTTP {r.status_code}'}")
    return doc


def _token(home, keys) -> str:
    from studio.secrets import KeyStore
    from studio.security.token import gateway_token

    return gateway_token(home, keys or KeyStore())
