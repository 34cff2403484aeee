"""Batch runs: one pipeline (or one model) over every row of a dataset.

Each row is a normal engine run (or hub call): recorded, priced and cached per node policy
like a run from the canvas, with a run id derived from the batch so it can be found again.
Batch state lives in its own files, not in analytics: `IOM_HOME/batches/<id>/batch.json`
and `rows.jsonl`, one line appended and flushed as each row finishes. The batch id is a hash
of target + data file content + limit, so running the same batch again resumes it: rows
with a line are kept, only the missing ones (those in flight at a crash) are run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import itertools
import json
import math
import os
import re
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Container, Iterable, Iterator

from studio import jsonwrite
from studio.arrow_write import table_writer, write_batches
from studio.atomic import NotSaved, append_whole, where_to_write, write_json
from studio.errors import UserError, disk_fault
from studio.eval.datasets import DatasetLock, default_mapping, read_rows, resolve
from studio.paths import left_out, read_each
from studio.providers.local import processes
from studio.spec.base import utcnow
from studio.spec.chat import CHAT_TYPES

ProgressFn = Callable[[int, int], None]  # (rows done, rows total)
StopFn = Callable[[], bool]  # asked before each row starts: True once the user asked to stop
PROBE_GRACE_S = 0.25  # how long a run waits out a look at its lock (BatchLock.is_held)
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # batch and experiment ids name files: no paths


@dataclass
class BatchPlan:
    id: str
    target: str
    kind: str  # "pipeline" | "model"
    data: str  # the data file as resolved
    dataset_id: str | None
    rows: int
    inputs: dict[str, str]  # target input name -> column
    expected: dict[str, str]  # expected-value name -> column
    limit: int | None = None
    concurrency: int = 8
    executor: str = "local"
    swaps: dict[str, str] = field(default_factory=dict)  # pipeline node id -> model id to use instead
    # False: every node calls its model even where a cached output exists (the outputs still
    # refresh the cache), so the rows' cost and latency are a fresh run's
    use_cache: bool = True
    # what produced the rows (`target_version`): a pipeline or model edited since is another batch
    target_version: str | None = None
    created: str = field(default_factory=lambda: utcnow().isoformat())
    data_hash: str | None = None  # the data file's sha256 when the batch started: a changed file is another batch

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "kind": self.kind, "data": self.data,
                "datasetId": self.dataset_id, "rows": self.rows, "inputs": self.inputs,
                "expected": self.expected, "limit": self.limit, "concurrency": self.concurrency,
                "executor": self.executor, "swaps": self.swaps, "useCache": self.use_cache,
                "targetVersion": self.target_version, "created": self.created, "dataHash": self.data_hash}

    @classmethod
    def from_json(cls, d: dict) -> "BatchPlan":
        return cls(id=d["id"], target=d["target"], kind=d["kind"], data=d["data"], dataset_id=d.get("datasetId"),
                   rows=d["rows"], inputs=d.get("inputs") or {}, expected=d.get("expected") or {},
                   limit=d.get("limit"), concurrency=d.get("concurrency", 8), executor=d.get("executor", "local"),
                   swaps=d.get("swaps") or {}, use_cache=d.get("useCache", True),
                   target_version=d.get("targetVersion"), created=d.get("created", ""), data_hash=d.get("dataHash"))


def target_label(target: str, swaps: dict[str, str]) -> str:
    """A batch's target as a variant names it: `review-triage@sentiment=local/sentiment-vader`."""
    return target + ("@" + ",".join(f"{k}={v}" for k, v in sorted(swaps.items())) if swaps else "")


def batches_root(home: Path) -> Path:
    return home / "batches"


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def batch_id_for(target: str, data_hash: str, limit: int | None, swaps: dict[str, str] | None = None,
                 inputs: list | None = None, use_cache: bool = True, version: str | None = None) -> str:
    """The same rows through the same pipeline or model, run the same way, resume one batch.
    An edited pipeline or model (`version`) is another batch, and so is a run without the cache
    (its figures mean something else)."""
    key = json.dumps([target, data_hash, limit] + ([sorted(swaps.items())] if swaps else []) + [inputs or []]
                     + ([] if use_cache else ["no-cache"]) + ([version] if version else []))
    return "b" + hashlib.sha256(key.encode()).hexdigest()[:15]


def _target_inputs(studio, target: str) -> tuple[str, list[str]]:
    """("pipeline"|"model", the names of its inputs)."""
    if studio.pipelines.exists(target):
        pipe = studio.pipelines.get(target)
        names: list[str] = []
        for node in pipe.nodes:
            if node.kind == "input":
                names += list(((node.input_schema or {}).get("properties") or {}).keys())
        return "pipeline", names
    spec = studio.models.find(target)
    if spec is None:
        raise UserError(f"{target!r} is neither a saved pipeline nor a registry model; "
                        "'iom pipelines list' and 'iom models list' show the ids.")
    schema = spec.input_schema or {}
    names = list((schema.get("properties") or {}).keys())
    # what a row most likely fills first: a chat model's one-message shorthand (spec/chat.py)
    # and whole prompt, else the schema's required inputs
    first = ["text", "prompt", "messages"] if spec.model_type in CHAT_TYPES else list(schema.get("required") or [])
    return "model", list(dict.fromkeys(first + names))


def plan_batch(studio, target: str, data: str, *, limit: int | None = None, concurrency: int = 8,
               executor: str = "local", swaps: dict[str, str] | None = None,
               scored: set[str] | frozenset = frozenset(), use_cache: bool = True) -> BatchPlan:
    """Resolve target and data; the same target + data + limit (+ swaps) gives the same batch id."""
    if limit is not None and limit < 1:
        raise UserError("--limit must be 1 or more.")
    if concurrency < 1:
        raise UserError("--concurrency must be 1 or more.")
    kind, input_names = _target_inputs(studio, target)
    swaps = dict(swaps or {})
    if swaps and kind != "pipeline":
        raise UserError(f"{target} is a model; node swaps (NODE=MODEL) apply to pipelines only.")
    if kind == "pipeline":
        # an invalid pipeline is refused once, before any row, not failed row by row; with its
        # swaps too (a model that does not take what the node sends failed every row, and an
        # experiment then saved a quality for a model that never answered)
        from studio.engine.executor import PipelineInvalid

        problems = studio.engine.validate(swapped_pipeline(studio, target, swaps))
        if problems and swaps:
            swapped = ", ".join(f"{node}={value}" for node, value in swaps.items())
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(f"pipeline {target} with {swapped} is not valid: {problems[0]}{more}; swap in a model "
                            "that takes and gives what the node's edges carry.")
        if problems:
            raise PipelineInvalid(target, problems)
    ds, path, fmt = resolve(studio.home, data)
    columns: list[str] = []
    count = 0
    for row in read_rows(path, fmt):
        if count == 0:
            columns = list(row.keys())
        count += 1
        if limit is not None and count >= limit:
            break
    if count == 0:
        raise UserError(f"{path.name} has no rows; a batch needs at least one.")
    if limit is not None and count < limit:  # the whole data: the batch without --limit, not a new one
        limit = None
    inputs, expected = default_mapping(columns, input_names, ds.inputs if ds else None, ds.expected if ds else None,
                                       scored)
    missing = [n for n in input_names if n not in inputs]
    if kind == "pipeline" and missing:
        raise UserError(f"the data has no column for input {missing[0]!r} of {target}; its columns are "
                        f"{', '.join(columns)}. Rename that column to the input's name, or map it with 'iom datasets map ID --input NAME=COLUMN'.")
    if kind == "model" and input_names and not inputs:  # every row would be refused by the model
        named = " or ".join(repr(n) for n in input_names[:3])
        raise UserError(f"the data has no column for an input of {target} ({', '.join(input_names)}); its columns are "
                        f"{', '.join(columns)}. Name a column {named}, or map one with "
                        "'iom datasets map ID --input NAME=COLUMN'.")
    version = target_version(studio, kind, target, swaps)
    data_hash = _file_hash(path)
    bid = batch_id_for(target, data_hash, limit, swaps, sorted(inputs.items()), use_cache, version)
    return BatchPlan(id=bid, target=target, kind=kind, data=str(path), dataset_id=ds.id if ds else None,
                     rows=count, inputs=inputs, expected=expected, limit=limit, concurrency=concurrency,
                     executor=executor, swaps=swaps, use_cache=use_cache, target_version=version, data_hash=data_hash)


def target_version(studio, kind: str, target: str, swaps: dict[str, str]) -> str:
    """A digest of what turns a row into its output: the pipeline's nodes and edges after the
    swaps (not its name, labels or layout), and what each model it can call is
    (`answer_version`; a capability node's candidates included). Without it in the batch id,
    a pipeline edited on the canvas and evaluated again found its old batch complete and
    reported the old version's rows. (What a capability node reads at run time to choose,
    measured quality and latency, is routing's live data, not part of the version.)"""
    from studio.engine.cache import answer_version

    pipe = swapped_pipeline(studio, target, swaps) if kind == "pipeline" else None
    doc: dict[str, Any] = {}
    if pipe is not None:
        doc = {"nodes": [n.model_dump(mode="json", exclude={"label"}) for n in pipe.nodes],
               "edges": [e.model_dump(mode="json") for e in pipe.edges]}
    versions: dict[str, str | None] = dict.fromkeys(pipe.model_ids() if pipe is not None else [target])
    versions.update((s.id, answer_version(s)) for s in batch_models(studio, kind, target, pipe) if s is not None)
    doc["models"] = dict(sorted(versions.items()))  # an id the registry lacks counts as None
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def warm_builtin_models(specs: Iterable) -> None:
    """Load the built-in models among `specs` before a batch's first row is timed. Their first
    call reads libraries and lexicons (~0.5 s for the five), and counted in the first rows it
    made whichever variant of an experiment ran first look slower: 12 rows of review-triage
    measured p50 676 ms cold against 115 ms warm."""
    from studio.providers.local import LOCAL_MODELS

    for name in builtin_names(specs):
        LOCAL_MODELS[name].warm()


def builtin_names(specs: Iterable) -> list[str]:
    """The built-in models among `specs`, by their names in LOCAL_MODELS."""
    from studio.providers.local import LOCAL_MODELS

    names = {spec.model for spec in specs if spec is not None and spec.api == "local"}
    return sorted(names & LOCAL_MODELS.keys())


def in_workers(plan: "BatchPlan") -> bool:
    """Whether the batch's built-in models run in worker processes (providers/local/processes.py):
    when it runs several rows at a time with the local executor."""
    return plan.executor == "local" and plan.concurrency > 1


def batch_models(studio, kind: str, target: str, pipeline=None) -> list:
    """The registry models a batch may call: its model target, or its pipeline's model nodes,
    fallbacks and every model with the capability of one of its capability nodes (None for
    an id the registry does not have)."""
    if kind == "model":
        return [studio.models.find(target)]
    capabilities = {n.choose.capability for n in pipeline.nodes if n.choose}
    chosen = [s for s in studio.models.all() if capabilities & set(s.capabilities)] if capabilities else []
    return [studio.models.find(i) for i in sorted(pipeline.model_ids())] + chosen


def check_unchanged(studio, plan: BatchPlan) -> None:
    """Refuses to add rows to a batch whose pipeline or model was edited since it started: its
    finished rows came from the earlier version. (A batch saved before versions has none.)"""
    if plan.data_hash is not None and Path(plan.data).is_file() and _file_hash(Path(plan.data)) != plan.data_hash:
        # (--resume ID went on over the changed file: one batch of rows from two files, "complete")
        raise UserError(f"the data file {plan.data} has changed since batch {plan.id} started, so its finished rows "
                        f"came from the earlier file; run 'iom batch run {plan.target} --data {plan.data}' for a "
                        "batch of the file as it is now.")
    if plan.target_version is None:
        return
    if target_version(studio, plan.kind, plan.target, plan.swaps) != plan.target_version:
        what = "pipeline" if plan.kind == "pipeline" else "model"
        raise UserError(f"{what} {plan.target} has changed since batch {plan.id} started, so its finished rows "
                        f"came from the earlier version; run 'iom batch run {plan.target} --data ...' again "
                        "for a batch of the current one.")


def swapped_pipeline(studio, target: str, swaps: dict[str, str]):
    """The saved pipeline with some nodes changed, in memory: a model node pointed at another
    registry model (`NODE=MODEL_ID`), a capability node given another policy
    (`NODE=STRATEGY` or `NODE=STRATEGY:MIN_QUALITY`, e.g. `pick=cheapest:0.85`)."""
    pipe = studio.pipelines.get(target)
    if not swaps:
        return pipe
    nodes = {n.id: n for n in pipe.nodes}
    changed = {}
    for node_id, value in swaps.items():
        node = nodes.get(node_id)
        if node is None or node.kind not in ("model", "capability"):
            raise UserError(f"pipeline {target} has no model or capability node {node_id!r}; "
                            f"'iom pipelines show {target}' lists them.")
        if node.kind == "model":
            if studio.models.find(value) is None:
                raise UserError(f"no model {value!r} in the registry; 'iom models list' shows the ids.")
            changed[node_id] = node.model_copy(update={"model": value})
        else:
            changed[node_id] = node.model_copy(update={"choose": _policy(node, value)})
    return pipe.model_copy(update={"nodes": [changed.get(n.id, n) for n in pipe.nodes]})


def _policy(node, value: str):
    """A capability node's choice under the policy `STRATEGY[:MIN_QUALITY]`."""
    from typing import get_args

    from studio.spec.pipeline import Strategy

    if node.choose is None:
        raise UserError(f"capability node {node.id!r} has no capability to choose by; set one on the canvas first.")
    strategy, _, floor = value.partition(":")
    if strategy not in get_args(Strategy):
        raise UserError(f"capability node {node.id!r} takes a policy, not {value!r}: one of "
                        f"{', '.join(get_args(Strategy))}, optionally with a minimum quality (e.g. cheapest:0.85).")
    if not floor:
        return node.choose.model_copy(update={"strategy": strategy})
    try:
        min_quality = float(floor)
    except ValueError:
        min_quality = float("nan")  # fails the range check below, with the same sentence
    if not 0 <= min_quality <= 1:
        raise UserError(f"the minimum quality in {value!r} must be a number from 0 to 1 (e.g. cheapest:0.85).")
    return node.choose.model_copy(update={"strategy": strategy, "min_quality": min_quality})


# -- state files ------------------------------------------------------------------------------

def batch_dir(home: Path, batch_id: str) -> Path:
    return batches_root(home) / batch_id


def delete_batch(home: Path, batch_id: str) -> int:
    """Remove a batch's saved plan and rows (its runs stay in the analytics), even a plan that
    no longer reads; returns how many rows it had. Nothing outside batches/ is touched. A batch
    being run is refused: its runner would go on writing rows into a folder that is gone."""
    import shutil

    folder = batch_folder(home, batch_id)
    lock = BatchLock(folder, batch_id)
    lock.acquire("wait for it to finish (or stop it), then delete it.")
    try:
        rows = row_count(home, batch_id)
        shutil.rmtree(folder)
    finally:
        lock.release()
    return rows


class BatchBusy(UserError):
    """The batch is being run: by another studio process, or by this one."""


class BatchLock:
    """An exclusive `flock` on the batch folder's lock file, held while its rows are written or
    it is deleted. A second run of the same batch would call every pending row again (and pay
    for it twice); a delete would lose the rows the running one still writes. The OS releases
    the lock when the holder ends, however it ends (a SIGKILL leaves nothing to clean up)."""

    def __init__(self, folder: Path, batch_id: str):
        self.path, self.batch_id = folder / "lock", batch_id
        self._fd: int | None = None

    def acquire(self, then: str) -> None:
        """Take the lock or raise BatchBusy, whose sentence ends with `then`. A holder that lets
        go within PROBE_GRACE_S is waited for: `is_held` holds it for a moment to look."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + PROBE_GRACE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                os.close(fd)
                raise BatchBusy(f"batch {self.batch_id} is being run (by this or another studio process); {then}") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def is_held(self) -> bool:
        """Whether a run holds the lock, looked at without creating the file (a page that lists
        batches writes nothing) and with a shared lock that `acquire` waits out."""
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # (which lets go of the shared lock)


def batch_folder(home: Path, batch_id: str) -> Path:
    if not SAFE_ID.fullmatch(batch_id):
        raise UserError(f"{batch_id!r} is not a batch id; 'iom batch list' shows the batches.")
    folder = batch_dir(home, batch_id)
    if not (folder / "batch.json").is_file():
        raise UserError(f"no batch {batch_id!r}; 'iom batch list' shows the batches.")
    return folder


def load_plan(home: Path, batch_id: str) -> BatchPlan:
    path = batch_folder(home, batch_id) / "batch.json"
    try:
        return BatchPlan.from_json(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        raise UserError(f"no batch {batch_id!r}; 'iom batch list' shows the batches.") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"{path} is not a batch plan as the studio writes it (edited by hand, or cut short); "
                        f"'iom batch delete {batch_id}' removes the batch.") from None


# what reading a batch.json that is not a plan as the studio writes it raises
PLAN_ERRORS = (ValueError, KeyError, TypeError, AttributeError, OSError)


def read_plan_file(meta: Path) -> BatchPlan:
    """A batch.json as the studio writes it; one of PLAN_ERRORS otherwise (edited by hand)."""
    plan = BatchPlan.from_json(json.loads(meta.read_text("utf-8")))
    if type(plan.rows) is not int or type(plan.created) is not str:
        raise ValueError("edited by hand")
    return plan


def unreadable_batches(home: Path, listed: Iterable[str]) -> list[str]:
    """The ids of batch folders whose batch.json cannot be read; `listed`: the ids a listing read."""
    return left_out(batches_root(home), "*/batch.json", listed, lambda p: p.parent.name)


def batch_plans(home: Path) -> list[BatchPlan]:
    """Every batch's plan that reads, oldest first, without reading its rows."""
    plans = read_each(batches_root(home), "*/batch.json", read_plan_file, PLAN_ERRORS)
    return sorted(plans, key=lambda p: p.created)


def _row_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(offset, row) of each line of a rows file that reads as a row; a line that does not
    (cut short by a crash, spoilt bytes) is left out: that row runs again."""
    try:
        with path.open("rb") as f:  # bytes: a spoilt line must not stop the lines after it
            offset = 0
            for line in f:
                at, offset = offset, offset + len(line)
                try:
                    row = json.loads(line)
                except ValueError:  # (UnicodeDecodeError among them)
                    continue
                if isinstance(row, dict) and isinstance(row.get("index"), int):
                    yield at, row
    except FileNotFoundError:
        return


def rows_file(home: Path, batch_id: str) -> Path:
    return batch_dir(home, batch_id) / "rows.jsonl"


def row_count(home: Path, batch_id: str) -> int:
    """How many rows are done, without keeping them (a million-row batch's rows are gigabytes as dicts)."""
    return len(BatchRows(home, batch_id))


def rows_in_order(home: Path, batch_id: str) -> Iterator[dict]:
    """The finished rows by index, one at a time (BatchRows, read once)."""
    yield from BatchRows(home, batch_id)


class BatchRows:
    """A batch's finished rows by index, handed out one at a time at each pass: what is kept is
    each row's offset in the file (read once, the last line of an index, as load_rows), not the
    row (100k rows were 430 MB as a dict of dicts). A pass reads the disk: off the event loop."""

    def __init__(self, home: Path, batch_id: str):
        self.path = rows_file(home, batch_id)
        self._offsets: dict[int, int] | None = None

    def offsets(self) -> dict[int, int]:
        if self._offsets is None:
            self._offsets = {row["index"]: at for at, row in _row_lines(self.path)}
        return self._offsets

    def __iter__(self) -> Iterator[dict]:
        offsets = self.offsets()
        if not offsets:  # (no rows file yet)
            return
        with self.path.open("rb") as f:
            for index in sorted(offsets):
                f.seek(offsets[index])
                yield json.loads(f.readline())

    def __len__(self) -> int:
        return len(self.offsets())


def load_rows(home: Path, batch_id: str) -> dict[int, dict]:
    """Finished rows by index (see _row_lines), every row in memory: for a glance at a small
    batch (the tests'); what goes through a batch's rows uses BatchRows."""
    return {row["index"]: row for _, row in _row_lines(rows_file(home, batch_id))}


def aggregate(plan: BatchPlan, rows: dict[int, dict]) -> dict[str, Any]:
    return Tally.of(rows.values()).result(plan)


def percentile(values, p: float) -> float | None:
    """The nearest-rank percentile `p` (0..1) of `values`, None when there are none."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]


def answered_latency(row: dict) -> float | None:
    """The latency a variant's speed is judged by: a row's that answered. A failed row stops
    early (a refused key in 5 ms), and counted it made a failing variant look fast."""
    return row.get("latencyMs") if row["status"] == "succeeded" else None


class Tally:
    """The aggregates of finished rows, kept as they finish: a running batch holds counts and
    one float a row that answered (the latency percentiles), not a dict a row, so its memory
    stays flat."""

    def __init__(self) -> None:
        self.done = self.succeeded = self.priced = self.unpriced = self.cached = 0
        # the priced rows' costs, summed exactly (math.fsum) when asked: a running sum in the order
        # rows finished differed in its last bits from run to run, and so did the Pareto marks
        self.costs = array("d")
        self.latencies = array("d")

    @classmethod
    def of(cls, rows: Iterable[dict]) -> "Tally":
        tally = cls()
        for row in rows:
            tally.add(row)
        return tally

    def add(self, row: dict) -> None:
        self.done += 1
        self.succeeded += row["status"] == "succeeded"
        if row.get("costUsd") is not None:
            self.priced += 1
            self.costs.append(row["costUsd"])
        # a row with a call nobody knows the price of (an answer without a price, or an attempt
        # that failed after it was sent), whether the row then failed or not: never counted as $0
        if row.get("costUsd") is None or row.get("unpricedCalls"):
            self.unpriced += 1
        ms = answered_latency(row)
        if ms is not None:
            self.latencies.append(ms)
        self.cached += bool(row.get("cachedNodes"))

    def result(self, plan: BatchPlan) -> dict[str, Any]:
        done, failed = self.done, self.done - self.succeeded
        pct = functools.partial(percentile, self.latencies)
        cost = math.fsum(self.costs)
        return {"done": done, "succeeded": self.succeeded, "failed": failed,
                # the priced rows' sum; None when rows are done and not one of them had a price
                "complete": done >= plan.rows, "costUsd": cost if self.priced or (done and not self.unpriced) else None,
                "unpricedRows": self.unpriced, "latencyP50Ms": pct(0.5), "latencyP95Ms": pct(0.95),
                "errorRate": failed / done if done else None,
                # rows with a node answered from the cache: their cost and latency leave that call out
                "cachedRows": self.cached}


# -- running ----------------------------------------------------------------------------------

def row_inputs(plan: BatchPlan, row: dict) -> dict[str, Any]:
    return {name: row.get(col) for name, col in plan.inputs.items()}


def row_expected(plan: BatchPlan, row: dict) -> dict[str, Any]:
    return {name: row.get(col) for name, col in plan.expected.items()}


async def call_model_target(studio, spec, inputs: dict, run_id: str,
                            failed: Callable[[Any], None] = lambda err: None):
    """A model target's row: its call as a model node's with the default policy makes it —
    retried while the error is retryable (a 429 honours its retry-after; each try given the
    hub's 120 s, as a single call is, and all of them three times that), within the model's
    rate limits and circuit breaker (the engine's, shared with every run in the process; a Ray
    job's, with all its workers). Raises the last ProviderError. With a single attempt, a
    provider's passing 429 failed the row, and a model that was down was called for every row.
    `failed(error)` hears of every attempt that failed."""
    from studio.engine.resilience import BreakerOpen, DeadlinePassed, breaker_refused
    from studio.providers.errors import ErrorKind, ProviderError
    from studio.providers.hub import DEFAULT_TIMEOUT_S, CallContext
    from studio.spec.calls import CallRequest
    from studio.spec.pipeline import NodePolicy

    policy = NodePolicy(timeout_s=DEFAULT_TIMEOUT_S)  # each try as long as one call had (a node's is 60 s)

    async def attempt(left_s: float):
        limiter = studio.engine.limiter(spec)
        if limiter is not None:
            await limiter.acquire()
        request = CallRequest(model_id=spec.id, input=inputs, timeout_s=min(policy.timeout_s, left_s))
        return await studio.providers.call(spec, request, context=CallContext(run_id=run_id))
    last: list[ProviderError] = []  # the row's last failed attempt: its error is the row's, breaker or not

    def heard(error: ProviderError) -> None:
        last[:] = [error]
        failed(error)
    try:
        return await studio.engine.call_with_retries(spec, attempt, retries=policy.retries, failed=heard,
                                                     deadline=time.monotonic() + policy.all_attempts_s)
    except BreakerOpen:
        raise breaker_refused(spec.id, last[0] if last else None) from None
    except DeadlinePassed:
        raise ProviderError(ErrorKind.TIMEOUT, "the row's deadline passed", model_id=spec.id, sent=False) from None


async def model_target_row(studio, spec, inputs: dict, run_id: str, *, use_cache: bool) -> dict[str, Any]:
    """A model target's row, answered as a model node with the default policy would be: from the
    output cache where the call is deterministic and was made before (unless `use_cache` is
    off), else by `call_model_target`, its answer then kept in the cache. Its cost is counted as
    a model node's: every attempt that failed after it was sent is an unpriced call, so a row
    that failed so is unpriced, and one whose attempts were all refused before sending (a
    circuit open) is $0."""
    from studio.providers.errors import ProviderError
    from studio.engine.cache import hit_record

    key = studio.engine.output_cache_key(spec, {}, inputs)
    if key and use_cache:
        hit = studio.engine.cached_answer(key, spec)
        if hit is not None:
            studio.engine.recorder.record_call(hit_record(spec, hit, run_id=run_id, node_id=None), inputs, hit["output"])
            return {"status": "succeeded", "output": hit["output"], "error": None, "costUsd": 0.0, "latencyMs": 0.0,
                    "cachedNodes": 1}
    started = time.perf_counter()
    sent_and_failed = 0

    def failed(error: ProviderError) -> None:
        nonlocal sent_and_failed
        sent_and_failed += error.sent
    try:
        result = await call_model_target(studio, spec, inputs, run_id, failed)
    except ProviderError as e:
        return {"status": "failed", "output": None, "error": f"{type(e).__name__}: {e}",
                "costUsd": None if sent_and_failed else 0.0, "unpricedCalls": sent_and_failed,
                "latencyMs": (time.perf_counter() - started) * 1000}
    if key:
        studio.engine.keep_answer(key, spec, result)
    return {"status": "succeeded", "output": result.output, "error": None, "costUsd": result.cost.usd,
            "unpricedCalls": sent_and_failed + (result.cost.usd is None), "latencyMs": result.latency_ms}


async def run_row(studio, plan: BatchPlan, index: int, row: dict, pipeline=None) -> dict[str, Any]:
    """One row as a normal run (pipeline) or call (model); never raises for a row's failure.
    `pipeline`: the batch's pipeline, resolved once (else read here)."""
    run_id = f"{plan.id}-{index}"
    inputs = row_inputs(plan, row)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"index": index, "runId": run_id, "inputs": inputs, "expected": row_expected(plan, row)}
    try:
        if plan.kind == "pipeline":
            from studio.engine import RunOptions

            pipeline = pipeline or swapped_pipeline(studio, plan.target, plan.swaps)
            record = await studio.engine.run(pipeline, inputs, RunOptions(run_id=run_id, keep_outputs=False,
                                                                          use_cache=plan.use_cache))
            out.update(status=record.status, output=record.outputs, error=record.error,
                       costUsd=record.cost_usd, unpricedCalls=record.unpriced_calls, latencyMs=record.wall_ms,
                       cachedNodes=record.cached_nodes)
        else:
            out.update(await model_target_row(studio, studio.models.get(plan.target), inputs, run_id,
                                              use_cache=plan.use_cache))
    except UserError as e:  # refused before any call (an invalid pipeline, a key not set): $0
        out.update(status="failed", output=None, error=str(e), costUsd=0.0, latencyMs=(time.perf_counter() - t0) * 1000)
    except Exception as e:  # what no one foresaw: the row fails, its cost not known, the batch goes on
        out.update(status="failed", output=None, error=f"{type(e).__name__}: {e}", costUsd=None,
                   latencyMs=(time.perf_counter() - t0) * 1000)
    return out


ROWS_SYNC_S = 0.5  # as the analytics spool: rows pushed to the disk at most this long after they finished


class RowWriter:
    """Appends one JSON line per finished row, straight to the file, so a kill loses only rows in
    flight; a line the disk does not take whole is cut off again and the batch stops, in one
    sentence, with every row before it kept."""

    def __init__(self, path: Path):
        import threading

        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._lock = threading.Lock()  # writes come from worker threads (off the event loop)
        self._synced_at = time.monotonic()

    def write(self, row: dict) -> None:
        from studio.secrets import redact

        line = (redact(jsonwrite.text(row, ensure_ascii=False, default=str)) + "\n").encode("utf-8")
        with self._lock:
            try:
                append_whole(self._fd, line, self._size)
            except OSError as e:
                raise NotSaved(f"could not keep a finished row in {self.path} ({disk_fault(e)}): free space on that "
                               "disk, then run the batch again: it goes on from the rows kept.") from None
            self._size += len(line)
            now = time.monotonic()
            if now - self._synced_at >= ROWS_SYNC_S:  # an OS crash or a power cut then loses at most
                os.fsync(self._fd)                  # this long of rows, not paid for twice on resume
                self._synced_at = now

    def close(self) -> None:
        try:
            os.fsync(self._fd)  # every kept row on the disk before the batch says it is done
        finally:
            os.close(self._fd)


def pending_rows(plan: BatchPlan, done: Container[int]) -> Iterator[tuple[int, dict]]:
    """(index, row) of the rows not in `done`, read lazily; a missing file raises now."""
    rows = itertools.islice(read_rows(Path(plan.data)), plan.limit)
    return ((index, row) for index, row in enumerate(rows) if index not in done)


async def run_batch(studio, plan: BatchPlan, *, progress: ProgressFn | None = None,
                    stop: StopFn | None = None) -> dict[str, Any]:
    """Run (or resume) the batch; returns its aggregates. Rows run `plan.concurrency` at a time.
    Once `stop()` says so, no further row starts; the rows in flight finish and are kept (a
    graceful stop: nothing is cancelled halfway through a write), and running the batch again
    goes on from there."""
    stop = stop or (lambda: False)
    folder = batch_dir(studio.home, plan.id)

    lock = BatchLock(folder, plan.id)
    reading = DatasetLock(studio.home, plan.dataset_id) if plan.dataset_id else None

    def open_state():  # file work in a thread: the UI calls this on NiceGUI's event loop
        check_unchanged(studio, plan)
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire("wait for it to finish, then run the same command again to see its figures.")
        try:
            if reading:
                reading.hold_for_reading()  # until the batch ends: no delete while it reads
            write_json(folder / "batch.json", plan.to_json())
            done: set[int] = set()
            tally = Tally()  # of the rows done, read a row at a time (a resumed million-row batch)
            for row in rows_in_order(studio.home, plan.id):
                done.add(row["index"])
                tally.add(row)
            _trim_partial_line(rows_file(studio.home, plan.id))
            return pending_rows(plan, done), tally, RowWriter(rows_file(studio.home, plan.id))
        except BaseException:
            if reading:
                reading.release()
            lock.release()
            raise
    pending, tally, writer = await asyncio.to_thread(open_state)
    if progress:
        progress(tally.done, plan.rows)

    def finished(result: dict) -> None:
        tally.add(result)
        if progress:
            progress(tally.done, plan.rows)
    try:
        if plan.executor == "ray":
            from studio.eval.ray_executor import run_rows_on_ray

            results = run_rows_on_ray(studio, plan, await asyncio.to_thread(list, pending), stop=stop)
            async for result in results:
                await asyncio.to_thread(writer.write, result)
                finished(result)
        else:
            # one version of the pipeline for every row, even if it is saved again meanwhile
            pipeline = swapped_pipeline(studio, plan.target, plan.swaps) if plan.kind == "pipeline" else None
            models = batch_models(studio, plan.kind, plan.target, pipeline)
            # several rows at a time over built-in models: the models in worker processes, which
            # load them before the first row (as warm_builtin_models does for the threads)
            builtin = builtin_names(models) if in_workers(plan) and tally.done < plan.rows else []
            with calls_at_once(studio, plan.concurrency):
                async with processes.in_use(builtin) as pool:
                    if pool is None and tally.done < plan.rows:
                        await asyncio.to_thread(warm_builtin_models, models)
                    await _run_rows_here(studio, plan, pending, pipeline, writer, finished, stop)
    finally:
        writer.close()
        if reading:
            reading.release()
        lock.release()
    return tally.result(plan)


async def _run_rows_here(studio, plan: BatchPlan, pending: Iterator, pipeline, writer: RowWriter,
                         finished: Callable[[dict], None], stop: StopFn) -> None:
    """The local executor: `plan.concurrency` workers take rows from a queue the file feeds,
    each row written as it finishes; once `stop()` says so, no further row starts."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=plan.concurrency * 2)
    unreadable: list[Exception] = []

    async def feed():
        try:
            async for item in _in_chunks(pending):
                if stop():
                    break
                await queue.put(item)
        except Exception as e:  # a row the file no longer reads: stop the workers, then raise
            unreadable.append(e)
        for _ in range(plan.concurrency):
            await queue.put(None)

    async def work():
        while (item := await queue.get()) is not None:
            if stop():  # queued, not started: left for the next run
                continue
            result = await run_row(studio, plan, *item, pipeline=pipeline)
            await asyncio.to_thread(writer.write, result)
            finished(result)

    await asyncio.gather(feed(), *(work() for _ in range(plan.concurrency)))
    if unreadable:
        raise unreadable[0]


@contextlib.contextmanager
def calls_at_once(studio, n: int) -> Iterator[None]:
    """While a batch runs `n` rows at a time, `n` calls to a provider may be under way at once:
    the engine's per-provider bound and the hub's connection pool are raised to at least `n`,
    so neither holds the user's --concurrency down unseen."""
    studio.providers.connections_at_least(n)
    with studio.engine.calls_per_provider_at_least(n):
        yield


async def _in_chunks(rows: Iterator, chunk: int = 256) -> AsyncIterator:
    """The rows still to run, read a chunk at a time in a thread (off the event loop) as the
    workers need them, rather than all held from the start."""
    while items := await asyncio.to_thread(lambda: list(itertools.islice(rows, chunk))):
        for item in items:
            yield item


def _trim_partial_line(path: Path) -> None:
    """A crash can leave a last line without its newline; cut it so appends start clean."""
    try:
        with path.open("rb+") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            data = path.read_bytes()
            f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


EXPORT_CHUNK = 10_000  # rows per Arrow batch an export writes: its memory, whatever the batch's size


def _export_schema():
    import pyarrow as pa

    return pa.schema([
        ("index", pa.int64()), ("run_id", pa.string()), ("status", pa.string()), ("inputs", pa.string()),
        ("output", pa.string()), ("expected", pa.string()), ("error", pa.string()), ("cost_usd", pa.float64()),
        # a row's calls of unknown cost and nodes answered from the cache: without them an export of a
        # partly unpriced batch summed as if every row were priced
        ("unpriced_calls", pa.int64()), ("cached_nodes", pa.int64()), ("latency_ms", pa.float64())])


def _export_batches(home: Path, batch_id: str, schema) -> Iterator:
    """The batch's finished rows in index order, as Arrow record batches of EXPORT_CHUNK rows."""
    import pyarrow as pa

    load_plan(home, batch_id)  # a batch that is not there, or does not read, is said so first
    rows = ({"index": r["index"], "run_id": r.get("runId"), "status": r["status"],
             "inputs": jsonwrite.text(r.get("inputs"), ensure_ascii=False),
             "output": jsonwrite.text(r.get("output"), ensure_ascii=False),
             "expected": jsonwrite.text(r.get("expected"), ensure_ascii=False),
             "error": r.get("error"), "cost_usd": r.get("costUsd"), "unpriced_calls": r.get("unpricedCalls"),
             "cached_nodes": r.get("cachedNodes"), "latency_ms": r.get("latencyMs")}
            for r in rows_in_order(home, batch_id))
    while chunk := list(itertools.islice(rows, EXPORT_CHUNK)):
        yield pa.RecordBatch.from_pylist(chunk, schema=schema)


def csv_chunks(home: Path, batch_id: str) -> Iterator[bytes]:
    """The batch's rows as CSV, the bytes of EXPORT_CHUNK rows at a time (the web app's download
    streams them: a 100k-row batch's CSV is tens of MB). An unknown batch is said before the first."""
    load_plan(home, batch_id)
    schema = _export_schema()
    buffer = io.BytesIO()  # (Arrow's writer leaves a file it was given open)

    def taken() -> bytes:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return data
    with table_writer("csv", buffer, schema) as writer:
        for batch in _export_batches(home, batch_id, schema):
            writer.write_batch(batch)
            yield taken()
    if buffer.tell():  # the header of a batch with no rows done
        yield taken()


def export_rows(home: Path, batch_id: str, out: Path) -> int:
    """Write the batch's rows as Parquet or CSV (by extension); returns the row count."""
    fmt = {".parquet": "parquet", ".csv": "csv"}.get(out.suffix.lower())
    if fmt is None:
        load_plan(home, batch_id)  # an unknown batch is said first, as before
        raise UserError(f"{out.name}: export writes .parquet or .csv files; use one of those extensions.")
    target, straight = where_to_write(out)  # a symlink's file, or a pipe written into (not replaced)
    tmp = target if straight else target.with_name(f".{target.name}.tmp")
    try:
        schema = _export_schema()
        count = write_batches(_export_batches(home, batch_id, schema), schema, fmt, str(tmp))  # a chunk at a time
        if not straight:
            os.replace(tmp, target)
    except OSError as e:
        raise UserError(f"could not write {out} ({e.strerror or e}).") from None
    finally:
        if not straight:
            tmp.unlink(missing_ok=True)
    return count
