"""The DAG executor: a node starts the moment its inputs are ready; independent branches run
concurrently, so a run takes as long as its critical path.

One `Engine` lives on the Studio; its circuit breakers, rate limiters and provider
semaphores are shared by every run. Each run is a `_Run` that owns its record and events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Protocol

from studio.breaker import CircuitBreaker
from studio.engine import translate
from studio.engine.cache import cache_key, deterministic, hit_record, model_version
from studio.engine.choose import allowed, choose_model, expected_tokens
from studio.engine.events import EventBus, Handler
from studio.engine.graph import Graph
from studio.engine.kept_outputs import KeptOutputs, read_nodes
from studio.engine.output_cache import OutputCache, cache_path
from studio.engine.ports import answer_schema
from studio.engine.resilience import (BreakerOpen, CallDeadlines, DeadlinePassed, RateLimiter, RateLimiters,
                                      backoff_delay, breaker_refused)
from studio.engine.templates import evaluate, node_deadline, render
from studio.engine.validate import Problem, validate_against
from studio.errors import UserError, jmespath_fault
from studio.jsonread import check_shape
from studio.memo import per_object
from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.hub import CallContext
from studio.secrets import read_keys, redactor
from studio.spec.base import utcnow_exact
from studio.spec.calls import CallRequest, CallResult, Usage
from studio.spec.fit import schema_problem
from studio.spec.model import ON_THIS_MACHINE, ModelSpec
from studio.spec.pipeline import Node, NodePolicy, Pipeline
from studio.spec.records import NodeRun, RunRecord, pending_node

# Failures that say the model is unavailable (count against its breaker); a bad request does not.
AVAILABILITY = {ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED, ErrorKind.SERVER, ErrorKind.TIMEOUT,
                ErrorKind.CONNECTION, ErrorKind.MALFORMED}


class ModelCaller(Protocol):
    async def call(self, spec: ModelSpec, request: CallRequest, *, on_text=None,
                   context: CallContext | None = None) -> CallResult: ...


class MissingKeys(UserError):
    """A run that needs keys that are not set: all of them, and the nodes that need each."""

    def __init__(self, pipeline_id: str, needed: dict[str, list[str]]):
        from studio.secrets.store import how_to_set

        self.needed = needed
        self.nodes = {node: key for key, nodes in needed.items() for node in nodes}
        names = sorted(needed)
        which = "; ".join(f"{k} (node{'s' if len(needed[k]) > 1 else ''} {', '.join(repr(n) for n in needed[k])})"
                          for k in names)
        super().__init__(f"pipeline {pipeline_id} needs {len(names)} key{'s' if len(names) > 1 else ''} that "
                         f"{'are' if len(names) > 1 else 'is'} not set: {which}; {how_to_set(names)}. Nothing was called.")


class PipelineInvalid(UserError):
    """Validation found problems; `problems` pins each to a node or edge."""

    def __init__(self, pipeline_id: str, problems: list[Problem]):
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])  # three missing models: all three named
        more = (f" (and {len(problems) - SHOWN_PROBLEMS} more: 'iom pipelines validate {pipeline_id}' lists them)"
                if len(problems) > SHOWN_PROBLEMS else "")
        super().__init__(f"pipeline {pipeline_id} is not valid: {shown}{more}; fix it before running.")


SHOWN_PROBLEMS = 5  # named in PipelineInvalid's sentence; the rest counted


# nodes one task runs in a row before it gives the event loop (the pages, other runs) a turn
CHAIN_TURN = 16

REUSED_FROM_LAST_RUN = "output reused from the last run (--from)"  # a node's reason (iom run reads it)

ANY_OBJECT = {"type": "object"}  # an input node without a schema (one object: its validator is kept)


@dataclass
class RunOptions:
    from_node: str | None = None
    to_node: str | None = None
    dry_run: bool = False
    use_cache: bool = True
    stream: bool = False  # stream text (events of type "text"); on_text or stream_node imply it
    stream_node: str | None = None  # default: the model nodes that feed an output node
    on_text: Callable[[str, str], Any] | None = None  # (node_id, text delta), sync or async
    on_event: Handler | None = None
    run_id: str | None = None
    # keep this run's node outputs for a later "run from node" (the canvas, `iom run --from`);
    # batch rows and gateway calls, many at once, have no use for them and would race on one file
    keep_outputs: bool = True


class Engine:
    # how long capability nodes reuse the recent latency and error figures (see call_stats)
    CALL_STATS_FRESH_S = 30.0
    # Calls to one provider at once outside batches. A provider's API takes as many as the
    # hub's pool has connections for (ProviderHub.CONNECTIONS): at 8, a fan-out of 24 calls
    # took three rounds of its latency where its critical path is one. The built-in models and
    # Ollama compute on this machine a few at a time; more calls would only queue there, their
    # time in that queue counted against each call's timeout. A model's rate limits still apply.
    PROVIDER_CONCURRENCY = 64
    ON_THIS_MACHINE_CONCURRENCY = 8  # the built-in models and Ollama (spec.model.ON_THIS_MACHINE)

    def __init__(self, *, models, caller: ModelCaller, recorder, keys, home: Path,
                 breaker_threshold: int = 5, breaker_cooldown_s: float = 30.0,
                 provider_concurrency: int | None = None, rate_window_s: float = 60.0, rng=None):
        self.models = models
        self.caller = caller
        self.recorder = recorder
        self.keys = keys
        self.home = home
        self.bus = EventBus()
        self.cache = OutputCache(cache_path(home))
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown_s = breaker_cooldown_s
        self.provider_concurrency = provider_concurrency  # one bound for every provider, else the ones above
        self._batch_concurrency: list[int] = []  # of the batches running now (calls_per_provider_at_least)
        self.rng = rng
        self.breakers: dict[str, CircuitBreaker] = {}
        # "per minute" unless a test shrinks the minute; booked with the other processes on this home
        self.rate_limiters = RateLimiters(rate_window_s, bookings=Path(home) / "rate-bookings")
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self.deadlines = CallDeadlines()
        self._validated: dict[tuple, tuple[list[ModelSpec], tuple[Problem, ...], Graph]] = {}
        self._structures: dict[int, tuple[Graph, dict[str, str], frozenset[str]]] = {}  # _structure_stamps
        self._kept_outputs = KeptOutputs(home)
        self._call_stats: tuple[dict[str, dict], float] | None = None  # (figures, when read): call_stats
        self._call_stats_reading: tuple[asyncio.AbstractEventLoop, asyncio.Future] | None = None  # the read under way

    # -- shared state ------------------------------------------------------------------
    def breaker(self, model_id: str) -> CircuitBreaker:
        if model_id not in self.breakers:
            self.breakers[model_id] = CircuitBreaker(self.breaker_threshold, self.breaker_cooldown_s)
        return self.breakers[model_id]

    def limiter(self, spec: ModelSpec) -> RateLimiter | None:
        rl = spec.rate_limit
        return self.rate_limiters.get(spec.id, rl.requests_per_minute, rl.tokens_per_minute) if rl else None

    def semaphore(self, provider: str) -> asyncio.Semaphore:
        """The bound on calls to one provider at once. When a batch raises it, calls already
        holding the smaller one finish under it while new calls take the larger."""
        own = self.provider_concurrency or (
            self.ON_THIS_MACHINE_CONCURRENCY if provider in ON_THIS_MACHINE else self.PROVIDER_CONCURRENCY)
        limit = max([own, *self._batch_concurrency])
        found = self._semaphores.get((provider, limit))
        if found is None:
            found = self._semaphores[(provider, limit)] = asyncio.Semaphore(limit)
        return found

    @contextlib.contextmanager
    def calls_per_provider_at_least(self, n: int) -> Iterator[None]:
        """While a batch runs `n` rows at a time, each provider takes up to `n` of its calls at
        once. The engine's own bound (`PROVIDER_CONCURRENCY`) is for runs side by side; when it
        was 8 for every provider, it held a 64-row batch of a one-model pipeline to 8 calls in
        flight (38.7 rows/s against a 200 ms provider, whose ceiling is 320). Per-model rate
        limits still apply."""
        self._batch_concurrency.append(n)
        try:
            yield
        finally:
            self._batch_concurrency.remove(n)

    def output_cache_key(self, spec: ModelSpec, params: dict, call_input: Any, *, prompt: str | None = None,
                         system: str | None = None, policy: bool | None = None) -> str | None:
        """The output cache's key for this call, None where its answer is not kept: a policy of
        False, or, by default (None), a call that is not deterministic."""
        effective = {**spec.default_params, **params}
        if policy is False or not (policy or deterministic(spec.api, effective)):
            return None
        return cache_key(model_id=spec.id, model_version=model_version(spec), params=effective,
                         prompt=prompt, system=system, call_input=call_input)

    def cached_answer(self, key: str, spec: ModelSpec) -> dict | None:
        """The answer kept under `key` ({"output", "costUsd", "usage"}), None where there is none."""
        return self.cache.get(key, built_in=spec.api == "local")

    def keep_answer(self, key: str, spec: ModelSpec, result: CallResult) -> None:
        """The answer in the output cache under `key` (output_cache_key), with what it cost."""
        self.cache.put(key, {"output": result.output, "costUsd": result.cost.usd,
                             "usage": result.usage.to_json_dict()}, model=spec.id)

    async def call_with_retries(self, spec: ModelSpec, attempt: Callable[[float], Awaitable[CallResult]], *,
                                retries: int, deadline: float,
                                failed: Callable[[ProviderError], None] = lambda err: None) -> CallResult:
        """One model's answer: `attempt(seconds left)` as often as `retries` allows while its
        error is retryable (backoff, a provider's retry-after honoured) and `deadline`
        (time.monotonic()) leaves time, each attempt let through by the model's breaker, which
        is told each outcome; `failed(error)` hears of every failed attempt. Raises the last
        error (at once if it came after the first streamed text), BreakerOpen when the breaker
        refuses an attempt, DeadlinePassed when no time is left for one."""
        breaker = self.breaker(spec.id)
        retried = 0
        while True:
            allowed = breaker.allow()
            if not isinstance(allowed, bool):  # a breaker shared by a Ray job's workers answers by message
                allowed = await allowed
            if not allowed:
                raise BreakerOpen(spec.id)
            left = deadline - time.monotonic()
            if left <= 0:
                breaker.release()
                raise DeadlinePassed(spec.id)
            try:
                result = await attempt(left)
            except ProviderError as err:
                failed(err)
                if err.kind in AVAILABILITY:
                    breaker.failure()
                else:
                    breaker.release()
                if err.retryable and not err.partial_text and retried < retries:
                    delay = backoff_delay(retried, retry_after_s=err.retry_after_s, rng=self.rng)
                    if time.monotonic() + delay < deadline:
                        await asyncio.sleep(delay)
                        retried += 1
                        continue
                raise
            except BaseException:  # cancelled, or the input could not be built: nothing learnt of the model
                breaker.release()
                raise
            breaker.success()
            return result

    # -- public ------------------------------------------------------------------------
    def subscribe(self, handler: Handler) -> Callable[[], None]:
        return self.bus.subscribe(handler)

    def validate(self, pipeline: Pipeline, specs: list[ModelSpec] | None = None) -> list[Problem]:
        """What is wrong with the pipeline over these model specs (the registry's by default)."""
        return list(self._checked(pipeline, specs)[0])

    def _checked(self, pipeline: Pipeline, specs: list[ModelSpec] | None = None) -> tuple[tuple[Problem, ...], Graph]:
        """(problems, graph) of the pipeline. Validation is a pure function of the pipeline and
        the registry, and the same pipeline runs again and again (the gateway, batches, the
        canvas): an unchanged pipeline over unchanged model specs reuses the last answer. The
        pipeline is keyed by its content (the canvas edits it in place); specs by identity,
        since the registry hands out the same object until its file changes (the entry keeps
        them alive, so no id is reused). `specs` is a run's own snapshot of the registry, so
        the folder is not scanned twice."""
        specs = self.models.all() if specs is None else specs
        key = (pipeline.model_dump_json(), tuple(id(s) for s in specs))
        found = self._validated.get(key)
        if found is not None:
            return found[1], found[2]
        problems = tuple(validate_against(pipeline, specs, getattr(self.models, "unreadable", dict)))
        if len(self._validated) >= 32:
            self._validated.pop(next(iter(self._validated)))
        graph = Graph.of(pipeline)  # a pure function of the same content: kept beside the answer
        self._validated[key] = (specs, problems, graph)
        return problems, graph

    def _structure_stamps(self, graph: Graph, node_of: dict[str, Node],
                          specs: dict[str, ModelSpec]) -> tuple[dict[str, str], frozenset[str]]:
        """Each node's stamp as far as the pipeline and the registry make it (its definition,
        its model's version, the edges into it and their sources' stamps), and the nodes an
        input node reaches. A graph from `_checked` stands for one pipeline content over one set
        of spec objects, so this is kept per graph (~3 µs a node to work out)."""
        found = self._structures.get(id(graph))
        if found is not None and found[0] is graph:
            return found[1], found[2]
        incoming, blake2b = graph.incoming, hashlib.blake2b
        stamps: dict[str, str] = {}
        from_inputs: set[str] = set()
        pending = [node_of[n] for n in graph.nodes]
        while pending:  # in the pipeline's order, a node whose sources come later in a later pass
            later = []
            for node in pending:
                edges = incoming[node.id]
                if edges and any(e.source not in stamps for e in edges):
                    later.append(node)
                    continue
                digest = blake2b(_definition(node), digest_size=12)
                spec = specs.get(node.model) if node.model else None
                if spec is not None:
                    digest.update(model_version(spec).encode("ascii"))
                for edge in sorted(edges, key=_edge_id) if len(edges) > 1 else edges:  # what an edge carries, and from where
                    digest.update(f"{edge.source_port}\0{edge.target_port}\0{edge.mapping}\0{edge.template}\0"
                                  f"{stamps[edge.source]}".encode("utf-8"))
                stamps[node.id] = digest.hexdigest()
                if node.kind == "input" or any(e.source in from_inputs for e in edges):
                    from_inputs.add(node.id)
            if len(later) == len(pending):  # a cycle: validation refused the run before this
                break
            pending = later
        if len(self._structures) >= 32:
            self._structures.clear()
        reached = frozenset(from_inputs)
        self._structures[id(graph)] = (graph, stamps, reached)
        return stamps, reached

    async def run(self, pipeline: Pipeline, inputs: dict[str, Any] | None = None,
                  options: RunOptions | None = None) -> RunRecord | dict:
        """Run the pipeline (or plan it, with options.dry_run). Raises UserError before any
        call when the pipeline is invalid, an input is missing or a key is not set."""
        check_shape(inputs, "the run's input")  # lone surrogates or absurd nesting: one sentence, before anything
        run = _Run(self, pipeline, inputs or {}, options or RunOptions())
        return await (run.plan() if run.options.dry_run else run.execute())

    async def call_stats(self) -> dict[str, dict]:
        """`recent_call_stats` as capability nodes use it. Reading them runs two queries over
        days of calls (~23 ms at 1M stored calls, 8 ms at 100k), and figures over days barely
        move in seconds: a read is reused for CALL_STATS_FRESH_S, and runs that ask while one
        is under way share it (a batch's first rows all ask at once: each read its own, and
        eight of them waited 190-270 ms). (Not refreshed in the background: a read that
        outlived the analytics store's close would open the database again.)"""
        kept = self._call_stats
        if kept is not None and time.monotonic() - kept[1] < self.CALL_STATS_FRESH_S:
            return kept[0]
        loop = asyncio.get_running_loop()
        reading = self._call_stats_reading
        if reading is None or reading[0] is not loop:
            reading = self._call_stats_reading = (loop, loop.create_task(self._read_call_stats()))
        try:
            return await asyncio.shield(reading[1])  # one run cancelled does not cancel the others' read
        finally:
            if reading[1].done() and self._call_stats_reading is reading:
                self._call_stats_reading = None

    async def _read_call_stats(self) -> dict[str, dict]:
        try:
            stats = await asyncio.to_thread(self.recent_call_stats)
        except Exception:  # analytics unreadable must not stop a run: the last figures read, else declared ones
            kept = self._call_stats
            return kept[0] if kept is not None else {}
        self._call_stats = (stats, time.monotonic())  # only what was read: after a failure the next run asks again
        return stats

    def measured_quality(self, capability: str) -> dict[str, dict]:
        """The scores saved from experiments for the capability (`IOM_HOME/quality.json`),
        {model_id: {"score", "dataset", …}}, as capability nodes rank by them."""
        from studio.registry.quality import load_quality

        return load_quality(self.home).get(capability, {})

    def recent_call_stats(self, days: int = 7) -> dict[str, dict]:
        """The analytics' `recent_call_stats` (the registry shows the same figures); empty when
        the recorder keeps no analytics (tests; a Ray worker's engine is given the driver's)."""
        if not hasattr(self.recorder, "read_committed"):
            return {}
        from studio.analytics.remote import recent_call_stats

        return recent_call_stats(self.recorder, self.keys, days)

    def last_outputs_path(self, pipeline_id: str) -> Path:
        return self.home / "cache" / "runs" / f"{pipeline_id}.json"

    def keep_outputs(self, pipeline_id: str, outputs_json: str) -> None:
        """Queue a run's node outputs for a later "run from node" (written shortly, off the run's path)."""
        self._kept_outputs.merge(self.last_outputs_path(pipeline_id), outputs_json)

    def write_kept_outputs(self) -> None:
        """Write the queued outputs now: a command's run is reported only once they are kept."""
        self._kept_outputs.write_all()

    def last_outputs(self, pipeline_id: str) -> dict[str, Any]:
        """The node entries kept by earlier runs of the pipeline, in this process or another:
        {node id: {"stamp", "output"}}."""
        path = self.last_outputs_path(pipeline_id)
        self._kept_outputs.settle(path)
        return read_nodes(path)


def _edge_id(edge) -> str:
    return edge.id


@per_object  # a node is replaced when edited (the canvas's session swaps in a new Node), never changed in place
def _definition(node: Node) -> bytes:
    """A node's definition as a digest, for the stamps of its kept outputs (Run._stamps)."""
    return hashlib.blake2b(node.__pydantic_serializer__.to_json(node), digest_size=16).digest()


def _registered_specs(models, pipeline: Pipeline) -> dict[str, ModelSpec]:
    """The specs a run may call: the models its nodes name or fall back to, each read on its
    own (a stat to see an edit), or, with a capability node, which may choose any model, the
    whole registry (a stat per model file: ~0.25 ms a run with 100 models). A model that is
    missing or unreadable is left out, and validation names it."""
    if any(n.kind == "capability" for n in pipeline.nodes):
        return {s.id: s for s in models.all()}
    found = {model_id: models.find(model_id) for model_id in sorted(pipeline.model_ids())}
    return {model_id: spec for model_id, spec in found.items() if spec is not None}


class _Run:
    def __init__(self, engine: Engine, pipeline: Pipeline, inputs: dict, options: RunOptions):
        self.engine = engine
        self.pipeline = pipeline
        self.inputs = inputs
        self.options = options
        self.graph: Graph | None = None  # with validation, in _check
        self.node_of = {n.id: n for n in pipeline.nodes}
        self.specs = _registered_specs(engine.models, pipeline)
        self.record = RunRecord(id=options.run_id or secrets.token_hex(8), pipeline_id=pipeline.id,
                                pipeline_name=pipeline.name, inputs=inputs)
        self.outputs: dict[str, Any] = {}
        self.taken_routes: dict[str, set[str]] = {}
        self.requests: list[dict] = []  # dry run: what each model node would send
        self.failed = False
        self.fell_back: dict[str, str] = {}  # node id -> the model it fell back from
        self.stream_nodes = self._stream_nodes()
        self.call_stats: dict[str, dict] | None = None  # read once per run, for capability nodes
        self.key_is_set: dict[str, bool] = {}  # key name -> set or not, read once per run (_look_up_keys)
        # attempts that reached a provider and failed, retried or not: what each cost is not known
        self.failed_sent_attempts = 0

    # -- set-up ---------------------------------------------------------------------------
    def _check(self) -> None:
        problems, self.graph = self.engine._checked(self.pipeline, list(self.specs.values()))
        if problems:
            raise PipelineInvalid(self.pipeline.id, list(problems))
        for name in (self.options.from_node, self.options.to_node, self.options.stream_node):
            if name and self.node_of.get(name) is None:
                raise UserError(f"pipeline {self.pipeline.id} has no node {name!r}; 'iom pipelines show {self.pipeline.id}' lists them.")

    def _selected(self) -> list[str]:
        nodes = set(self.graph.nodes)
        if self.options.to_node:
            nodes = self.graph.ancestors(self.options.to_node) | {self.options.to_node}
        return [n for n in self.graph.nodes if n in nodes]

    def _reused(self, selected: list[str]) -> dict[str, Any]:
        """With --from, the upstream nodes' outputs of the last run, where one was kept and was
        made from what the node would be given now (`_stamps`): the last run's outputs of another
        input, or of a node edited since, reached the re-run node as if they were this run's."""
        start = self.options.from_node
        if not start:
            return {}
        fresh = self.graph.descendants(start) | {start}
        upstream = [n for n in selected if n not in fresh]
        if not upstream:
            return {}
        last, now = self.engine.last_outputs(self.pipeline.id), self._stamps()
        return {n: kept["output"] for n in upstream
                if isinstance(kept := last.get(n), dict) and "output" in kept and kept.get("stamp") == now[n]}

    def _stamps(self) -> dict[str, str]:
        """What each node's output is made from, as a digest: its definition, the model it calls
        (that model's version in the registry), the edges into it and their sources' stamps, and
        the run's inputs where an input node reaches it. All but the inputs is the validated
        graph's (`_structure_stamps`, worked out once per graph): a run adds its inputs' digest."""
        structure, from_inputs = self.engine._structure_stamps(self.graph, self.node_of, self.specs)
        inputs = json.dumps(self.inputs, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        digest = hashlib.blake2b(inputs, digest_size=12).hexdigest()
        return {n: stamp + digest if n in from_inputs else stamp for n, stamp in structure.items()}

    async def _look_up_keys(self) -> None:
        """Whether each key the run may use is set: its nodes' models, their fallbacks, and
        every model a capability node may choose. Answered from the key store's memory where it
        read the key moments ago, the others in one thread (`read_keys`): the event loop (the
        gateway, the pages) must not wait on the OS keyring."""
        wanted = self.pipeline.model_ids()
        for node in self.pipeline.nodes:
            if node.kind == "capability" and node.choose:
                wanted.update(s.id for s in self.specs.values() if node.choose.capability in s.capabilities)
        names = {self.specs[m].key_ref for m in wanted if m in self.specs and self.specs[m].key_ref}
        self.key_is_set = {name: bool(value) for name, value in (await read_keys(self.engine.keys, names)).items()}

    def _check_keys(self, selected: list[str], reused: dict) -> None:
        """Every missing key at once, with the nodes that need each, before anything is called."""
        needed: dict[str, list[str]] = {}  # key name -> nodes
        for node_id in selected:
            node = self.node_of.get(node_id)
            if node.kind != "model" or node_id in reused:
                continue
            spec = self.specs[node.model]
            if not self._has_key(spec):
                needed.setdefault(spec.key_ref, []).append(node_id)
        if needed:
            raise MissingKeys(self.pipeline.id, needed)

    def _pipeline_inputs(self, node: Node) -> dict[str, Any]:
        schema = node.input_schema or ANY_OBJECT
        values = dict(self.inputs)
        for name, sub in (schema.get("properties") or {}).items():
            if name not in values and isinstance(sub, dict) and "default" in sub:
                values[name] = sub["default"]
        problem = schema_problem(values, schema)
        if problem is not None:
            raise UserError(f"the run's input does not fit node {node.id!r}: {problem.rstrip('.')}.")
        return values

    def _input_warnings(self) -> list[str]:
        """What a real run would refuse in the given input: required fields that are missing,
        values that do not fit (a dry run plans with placeholders instead)."""
        warnings = []
        for node in self.pipeline.nodes:
            if node.kind != "input":
                continue
            schema = node.input_schema or {}
            props = schema.get("properties") or {}
            required = schema.get("required") if isinstance(schema.get("required"), list) else []
            missing = [name for name in required if name not in self.inputs
                       and not (isinstance(props.get(name), dict) and "default" in props[name])]
            if missing:
                warnings.append(f"required input {', '.join(repr(m) for m in missing)} of node {node.id!r} is missing; "
                                "a real run needs it (e.g. --input '{\"" + missing[0] + "\": …}').")
            elif self.inputs:
                try:
                    self._pipeline_inputs(node)
                except UserError as e:
                    warnings.append(str(e))
        return warnings

    def _stream_nodes(self) -> set[str]:
        if not (self.options.stream or self.options.on_text or self.options.stream_node):
            return set()
        if self.options.stream_node:
            return {self.options.stream_node}
        outputs = {n.id for n in self.pipeline.nodes if n.kind == "output"}
        return {e.source for e in self.pipeline.edges if e.target in outputs
                and self.node_of.get(e.source) and self.node_of.get(e.source).kind in ("model", "capability")}

    # -- events ---------------------------------------------------------------------------
    def _watched(self) -> bool:
        """Whether an event would reach anyone: a plan runs nothing, so it reports no node as
        running or done; with no watcher (a gateway or CLI run, no canvas open) none is built."""
        return not self.options.dry_run and (self.options.on_event is not None or self.engine.bus.listening)

    def _publish(self, event: dict) -> None:
        if not self._watched():
            return
        event.setdefault("runId", self.record.id)
        event.setdefault("pipelineId", self.pipeline.id)
        self.engine.bus.publish(event)
        if self.options.on_event:
            self.options.on_event(event)

    def _node_event(self, nr: NodeRun, **extra) -> None:
        """A node's state, its figures where they are known (None-valued ones left out)."""
        if not self._watched():
            return
        event = {"type": "node", "nodeId": nr.node_id, "status": nr.status}
        for key, value in (("modelId", nr.model_id), ("latencyMs", nr.latency_ms), ("costUsd", nr.cost_usd),
                           ("error", nr.error), ("reason", nr.reason), *extra.items()):
            if value is not None:
                event[key] = value
        self._publish(event)

    # -- execution ------------------------------------------------------------------------
    async def execute(self) -> RunRecord:
        self._check()
        selected = self._selected()
        reused = self._reused(selected)
        for n in self.pipeline.nodes:
            if n.kind == "input":
                self._pipeline_inputs(n)  # a missing input fails before any call
        await self._look_up_keys()
        self._check_keys(selected, reused)
        started = time.perf_counter()
        for node_id in selected:
            self.record.nodes[node_id] = pending_node(node_id)
            self._node_event(self.record.nodes[node_id])
        self.engine.recorder.record_run(self.record)
        self._publish({"type": "run", "status": "running"})
        try:
            await self._schedule(selected, reused)
        except asyncio.CancelledError:
            self.record.status = "cancelled"
            self.record.error = "the run was cancelled"
            self._finish(started)
            raise
        except Exception as e:  # a bug in a node's code, not a model's failure: recorded, then raised
            # (left as they were, the audit trail showed the run as running until the process ended)
            self.record.status, self.record.error = "failed", f"internal error: {type(e).__name__}: {e}"
            self._fail_unfinished("not finished: the run stopped on an internal error")
            self._finish(started)
            raise
        self.record.status = "failed" if self.failed else "succeeded"
        self._finish(started)
        return self.record

    async def plan(self) -> dict:
        """The dry run: the order, the parallel layers, each model node's request, a cost estimate."""
        self._check()
        selected = self._selected()
        await self._look_up_keys()  # a capability node plans with the models it could call
        for node_id in selected:
            self.record.nodes[node_id] = pending_node(node_id)
        await self._schedule(selected, {})
        layers = [[n for n in layer if n in selected] for layer in self.graph.layers()]
        costs = [r["estimatedCostUsd"] for r in self.requests]
        priced = [c for c in costs if c is not None]
        from studio.secrets import redact_data

        warnings = self._input_warnings() + [
            f"node {node_id!r} failed on the plan's placeholder values (a real run may differ): {nr.error}"
            for node_id, nr in self.record.nodes.items()
            if nr.status == "failed" and nr.error]
        return {"pipelineId": self.pipeline.id, "order": [n for layer in layers for n in layer],
                "warnings": warnings,
                "layers": [layer for layer in layers if layer], "requests": redact_data(self.requests),
                "estimatedCostUsd": round(sum(priced), 8) if priced else (0.0 if not costs else None),
                "unpricedNodes": [r["nodeId"] for r in self.requests if r["estimatedCostUsd"] is None],
                "note": "estimates assume about 4 characters per token and each node's max_tokens (or 500) of output"}

    async def _schedule(self, selected: list[str], reused: dict[str, Any]) -> None:
        """Start each node when its last predecessor finishes. The task that finishes a node
        goes on with the first successor it made ready and starts a task for each other one, so
        a chain runs in one task and a fan-out of n costs n - 1 tasks: no task is made, and no
        loop turn taken, where nothing runs beside it. This coroutine wakes once, when the run is
        over (or failed)."""
        chosen = set(selected)
        pending = {n: sum(1 for p in self.graph.predecessors(n) if p in chosen) for n in selected}
        running: dict[asyncio.Task, str] = {}  # each task and the node it runs now
        loop = asyncio.get_running_loop()
        over = loop.create_future()

        def start(node_id: str) -> None:
            del pending[node_id]
            task = loop.create_task(chain(node_id))
            running[task] = node_id
            task.add_done_callback(finished)

        def ready_after(node_id: str) -> list[str]:
            ready = []
            for successor in self.graph.successors(node_id):
                if successor in pending:
                    pending[successor] -= 1
                    if pending[successor] == 0:
                        ready.append(successor)
            return ready

        async def chain(node_id: str) -> None:
            task = asyncio.current_task()
            for step in itertools.count(1):
                if not step % CHAIN_TURN:  # nodes that never wait (transforms, cache hits) let the loop in
                    await asyncio.sleep(0)
                await self._run_node(node_id, reused)
                if over.done():
                    return
                if self.failed:
                    over.set_result(None)
                    return
                ready = ready_after(node_id)
                if not ready:
                    return
                for successor in ready[1:]:
                    start(successor)
                node_id = ready[0]
                del pending[node_id]
                running[task] = node_id

        def finished(task: asyncio.Task) -> None:
            running.pop(task, None)
            # taken even once the run is over: a second node's error left untaken was logged by
            # asyncio as "Task exception was never retrieved", with its traceback
            error = None if task.cancelled() else task.exception()
            if over.done():
                return
            if task.cancelled():
                over.cancel()
                return
            if error is not None:  # _run_node records its own failures; anything else is a bug
                over.set_exception(error)
                return
            if not running:
                over.set_result(None)

        for node_id in [n for n, count in pending.items() if count == 0]:
            start(node_id)
        if not running:
            return
        try:
            await over
        except asyncio.CancelledError:
            await self._stop(running)
            self._fail_unfinished("cancelled")
            raise
        except BaseException:
            await self._stop(running)
            raise
        if self.failed:
            stopped = list(running.values())
            await self._stop(running)
            for node_id in stopped:  # a node still running when another failed the run: its record said "running"
                if self.record.nodes[node_id].status == "running":
                    self._skip(node_id, "stopped: another node failed the run")
            for waiting in list(pending):
                self._skip(waiting, "not run: an earlier node failed the run")

    @staticmethod
    async def _stop(running: dict[asyncio.Task, str]) -> None:
        tasks = list(running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _skip(self, node_id: str, why: str) -> None:
        nr = self.record.nodes[node_id]
        nr.status, nr.reason = "skipped", why
        self._node_event(nr)

    def _live_edges(self, node: Node) -> tuple[list, list]:
        live, dead = [], []
        for e in self.graph.incoming[node.id]:
            if e.source not in self.record.nodes:
                continue
            src = self.record.nodes[e.source]
            if src.status in ("skipped", "failed"):
                dead.append(e)
            elif self.node_of.get(e.source).kind == "router" and e.source_port != "out" \
                    and e.source_port not in self.taken_routes.get(e.source, set()):
                dead.append(e)
            else:
                live.append(e)
        return live, dead

    async def _run_node(self, node_id: str, reused: dict[str, Any]) -> None:
        node = self.node_of.get(node_id)
        nr = self.record.nodes[node_id]
        if node_id in reused:
            self.outputs[node_id] = nr.output = reused[node_id]
            nr.status, nr.reason = "cached", REUSED_FROM_LAST_RUN
            self._node_event(nr)
            return
        live, dead = self._live_edges(node)
        if dead and (not live or node.kind not in ("merge", "output")):
            self._skip(node_id, "skipped: an input comes from a branch that did not run")
            return
        nr.status, nr.started = "running", utcnow_exact()
        self._node_event(nr)
        began = time.perf_counter()
        node_deadline(node.policy.timeout_s)  # this node's templates end within its timeout
        try:
            inputs: dict[str, Any] = {}
            for e in live:
                source_output = self.outputs[e.source]
                if self.node_of.get(e.source).kind == "router" and e.source_port != "out":
                    source_output = {e.source_port: source_output}  # a taken route passes its input on
                translate.land(inputs, e, translate.edge_value(e, source_output))
            nr.inputs = inputs
            output = await self._execute(node, nr, inputs)
        except asyncio.CancelledError:
            raise
        except (ProviderError, UserError) as err:
            self._on_error(node, nr, err, began)
            return
        self.outputs[node_id] = nr.output = output
        if nr.status == "running":
            nr.status = "succeeded"
        nr.ended = utcnow_exact()
        if nr.latency_ms is None:
            nr.latency_ms = (time.perf_counter() - began) * 1000
        self._node_event(nr, fellBackFrom=self.fell_back.get(node_id))

    def _on_error(self, node: Node, nr: NodeRun, err: Exception, began: float) -> None:
        nr.ended = utcnow_exact()
        nr.latency_ms = (time.perf_counter() - began) * 1000
        if isinstance(err, ProviderError) and err.model_id:  # a model node's call failed: on which model, at what cost
            nr.model_id = nr.model_id or err.model_id
            nr.cost_usd = None if err.sent else 0.0
        nr.error = str(err)
        nr.error_class = err.kind.value if isinstance(err, ProviderError) else "user"
        nr.retry_after_s = err.retry_after_s if isinstance(err, ProviderError) else None
        policy = node.policy.on_error
        if policy == "default":
            default = node.policy.default
            self.outputs[node.id] = nr.output = default if isinstance(default, dict) else {"text": translate.as_text(default) if default is not None else ""}
            nr.status, nr.reason = "succeeded", f"used the node's default after: {err}"
        else:
            nr.status = "failed"
            if policy == "fail":
                self.failed = True
                self.record.error = f"node {node.id!r} failed: {err}"
            else:
                nr.reason = "failed; what depends on it is skipped (on-error: skip)"
        self._node_event(nr)

    async def _execute(self, node: Node, nr: NodeRun, inputs: dict[str, Any]) -> Any:
        kind = node.kind
        if kind == "input":
            if self.options.dry_run:  # a plan needs no real input: missing fields get placeholders
                props = (node.input_schema or {}).get("properties") or {}
                return {**{name: f"⟨input {name}⟩" for name in props}, **self.inputs}
            return self._pipeline_inputs(node)
        if kind == "output":
            return inputs
        if kind == "transform":
            if node.expression:
                import jmespath

                try:
                    value = jmespath.search(node.expression, inputs)
                except jmespath.exceptions.JMESPathError as e:
                    raise UserError(f"node {node.id}: its expression failed on this input ({jmespath_fault(e)}); "
                                    "fix the expression.") from None
                return value if isinstance(value, dict) else {"value": value, "text": translate.as_text(value)}
            return {"text": render(node.template or "", inputs, where=f"node {node.id}")}
        if kind == "merge":
            values = [inputs[e.target_port] if e.target_port in inputs else inputs
                      for e in self._live_edges(node)[0]]
            if node.merge == "list":
                return {"items": values, "text": "\n\n".join(translate.as_text(v) for v in values)}
            if node.merge == "text":
                return {"text": "\n\n".join(translate.as_text(v) for v in values)}
            return inputs
        if kind == "router":
            taken = set()
            if self.options.dry_run:
                taken = {r.port for r in node.routes}
            else:
                for r in node.routes:
                    if r.when and evaluate(r.when, inputs, where=f"node {node.id}"):
                        taken.add(r.port)
                if not taken:
                    taken = {r.port for r in node.routes if not r.when}
            self.taken_routes[node.id] = taken
            nr.reason = "took " + (", ".join(sorted(taken)) if taken else "no route")
            return inputs
        return await self._model_node(node, nr, inputs)

    # -- model nodes ------------------------------------------------------------------------
    def _has_key(self, spec: ModelSpec) -> bool:
        return not spec.key_ref or self.key_is_set.get(spec.key_ref, False)

    def _candidates(self, node: Node, nr: NodeRun, inputs: dict[str, Any]) -> tuple[list[ModelSpec], str]:
        fallbacks = [self.specs[m] for m in node.policy.fallback if m in self.specs]
        if node.kind == "capability":
            fallbacks = [s for s in fallbacks if allowed(node.choose, s)]  # validation says so too
            health = self.engine.models.health_all()
            measured = self.engine.measured_quality(node.choose.capability)
            chosen, why, others = choose_model(node.choose, list(self.specs.values()), health, self._has_key, measured,
                                               self.call_stats, tokens=expected_tokens(node, inputs))
            return [chosen, *(fallbacks or others[:2])], f"chosen by policy: {why}"
        return [self.specs[node.model], *fallbacks], "the node's model"

    async def _model_node(self, node: Node, nr: NodeRun, inputs: dict[str, Any]) -> Any:
        if node.kind == "capability" and self.call_stats is None:
            # recent latency and error rate per model, read off the event loop (and kept a while)
            self.call_stats = await self.engine.call_stats()
        candidates, reason = self._candidates(node, nr, inputs)
        primary = candidates[0]
        if self.options.dry_run:
            return self._plan_call(node, primary, inputs, nr)
        call_input, params = translate.model_input(node, primary, inputs)
        key = self.engine.output_cache_key(primary, params, call_input, prompt=node.prompt, system=node.system,
                                           policy=node.policy.cache)
        if key and self.options.use_cache:
            hit = self.engine.cached_answer(key, primary)
            if hit is not None:
                return self._cache_hit(node, nr, primary, hit, call_input, reason)
        result, spec, attempts, why = await self._call_with_resilience(node, nr, candidates, inputs, reason,
                                                                      (call_input, params))
        nr.attempts = attempts
        nr.model_id, nr.reason = spec.id, why
        nr.latency_ms, nr.ttft_ms = result.latency_ms, result.ttft_ms
        nr.usage, nr.cost_usd = result.usage, result.cost.usd
        if key and spec.id == primary.id:
            self.engine.keep_answer(key, spec, result)
        return result.output

    def _cache_hit(self, node: Node, nr: NodeRun, spec: ModelSpec, hit: dict, call_input: Any, reason: str) -> Any:
        nr.status, nr.model_id = "cached", spec.id
        saved = hit.get("costUsd")
        nr.reason = f"{reason}; cached output reused" + (f" (saved ${saved:.6f})" if saved else "")
        nr.cost_usd, nr.latency_ms = 0.0, 0.0
        record = hit_record(spec, hit, run_id=self.record.id, node_id=node.id, pipeline_id=self.pipeline.id)
        self.engine.recorder.record_call(record, call_input, hit["output"])
        return hit["output"]

    async def _call_with_resilience(self, node: Node, nr: NodeRun, candidates: list[ModelSpec],
                                    inputs: dict, reason: str, primary_input: tuple[Any, dict] | None = None,
                                    ) -> tuple[CallResult, ModelSpec, int, str]:
        """`primary_input` is the first candidate's translated input, already built for the cache
        key; fallbacks translate the node's inputs for their own schema."""
        policy = node.policy
        deadline = time.monotonic() + policy.all_attempts_s
        stream = node.id in self.stream_nodes
        attempts = 0
        last_error: ProviderError | None = None
        sent_before = self.failed_sent_attempts
        fell_from: str | None = None
        fell_cause: ProviderError | None = None  # what made the node leave `fell_from`
        notes: list[str] = []
        remaining = list(candidates)

        def failure(err: ProviderError) -> ProviderError:
            """The error the node fails with, saying whether any of its attempts was sent (the
            node's failure then has no known cost); the node's record counts every attempt."""
            err.sent = self.failed_sent_attempts > sent_before
            nr.attempts = attempts
            return err

        def failed(err: ProviderError) -> None:
            nonlocal last_error
            last_error = err
            self.failed_sent_attempts += err.sent

        while remaining:
            spec = remaining.pop(0)
            if spec is not candidates[0] and not self._has_key(spec):
                notes.append(f"skipped {spec.id} (no key)")
                continue

            def attempt(left_s: float, spec: ModelSpec = spec) -> Awaitable[CallResult]:
                """(Not a coroutine itself: one frame fewer on the call's path.)"""
                nonlocal attempts
                attempts += 1
                if spec is candidates[0] and primary_input is not None:
                    prepared = primary_input
                else:  # a fallback's prompt, rendered within its own attempt's time, not what the first left
                    node_deadline(min(policy.timeout_s, left_s))
                    prepared = translate.model_input(node, spec, inputs)
                return self._attempt(node, spec, prepared, stream, min(policy.timeout_s, left_s),
                                     CallContext(self.pipeline.id, self.record.id, node.id,
                                                 fell_from, self._why(reason, fell_from, fell_cause)))
            try:
                result = await self.engine.call_with_retries(spec, attempt, retries=policy.retries, failed=failed,
                                                             deadline=self._own_deadline(deadline, policy, remaining))
            except asyncio.CancelledError:  # stopped (another node failed the run, Ctrl-C): the model it was calling
                nr.model_id, nr.attempts = spec.id, attempts
                raise
            except BreakerOpen:
                if last_error is None or last_error.model_id == spec.id:  # (else an earlier model's error stays)
                    last_error = breaker_refused(spec.id, last_error)
                notes.append(f"skipped {spec.id} (circuit open)")
            except DeadlinePassed:
                if not remaining or time.monotonic() >= deadline:
                    raise failure(last_error or ProviderError(ErrorKind.TIMEOUT, "the node's deadline passed",
                                                              model_id=spec.id))
            except ProviderError as err:
                if err.partial_text:  # failed after its first token: report it, text kept
                    nr.output = {"text": err.partial_text}
                    raise failure(err)
                if not err.fallback_ok:
                    if remaining:  # say why the fallbacks set on the node were not tried
                        err.detail = (f"{err.detail}; " if err.detail else "") + \
                            "its fallbacks were not tried: they would get the same request"
                        err.args = (err.sentence(),)
                    raise failure(err)
                if err.kind == ErrorKind.CONTEXT_LENGTH and spec.context_window:
                    remaining = [s for s in remaining if (s.context_window or 0) > spec.context_window]
            else:
                why = self._why(reason, fell_from, fell_cause)
                if notes:
                    why += "; " + "; ".join(notes)
                if fell_from:
                    self.fell_back[node.id] = fell_from
                return result, spec, attempts, why
            fell_from, fell_cause = spec.id, last_error
        raise failure(last_error or ProviderError(ErrorKind.OVERLOADED, "no model could be tried", model_id=candidates[0].id))

    def _own_deadline(self, deadline: float, policy: NodePolicy, after: list[ModelSpec]) -> float:
        """When one model's attempts must end: the node's deadline, less one attempt's time for
        each fallback still to come. A slow model's retries otherwise used the whole deadline
        (3 × 60 s by default) and its fallbacks were never tried."""
        waiting = sum(1 for spec in after if self._has_key(spec))
        if not waiting:
            return deadline
        return min(deadline, max(time.monotonic() + policy.timeout_s, deadline - waiting * policy.timeout_s))

    @staticmethod
    def _why(reason: str, fell_from: str | None, error: ProviderError | None) -> str:
        """Why the node's answer came from its model: the choice, and any fallback with the
        error of the model it left (not of a later one)."""
        if not fell_from:
            return reason
        cause = error.kind.value + (f" (HTTP {error.status})" if error.status else "") if error else "an error"
        chosen = f"; {fell_from} was {reason}" if reason.startswith("chosen by policy") else ""
        return f"fell back from {fell_from} after {cause}{chosen}"

    async def _attempt(self, node: Node, spec: ModelSpec, prepared: tuple[Any, dict], stream: bool, timeout_s: float,
                       context: CallContext) -> CallResult:
        call_input, params = prepared
        limiter = self.engine.limiter(spec)
        if limiter is not None:
            estimate = len(json.dumps(call_input, default=str)) // 4 + int(params.get("max_tokens") or 0)
            await limiter.acquire(estimate)

        streamed: list[str] = []  # what reached the caller, kept if the deadline stops the call

        async def on_text(delta: str) -> None:
            streamed.append(delta)
            self._publish({"type": "text", "nodeId": node.id, "text": delta})
            if self.options.on_text:
                sent = self.options.on_text(node.id, delta)
                if inspect.isawaitable(sent):  # the gateway writes each piece to its client
                    await sent

        request = CallRequest(model_id=spec.id, input=call_input, params=params, stream=stream, timeout_s=timeout_s)
        task = asyncio.current_task()
        async with self.engine.semaphore(spec.provider):
            self.engine.deadlines.watch(task, timeout_s + 1.0)  # a safety net over the call's own timeout
            try:
                return await self.engine.caller.call(spec, request, on_text=on_text if stream else None,
                                                     context=context)
            except asyncio.CancelledError as e:
                if self.engine.deadlines.timed_out(task):
                    text = "".join(streamed)  # not retried once text went out: it would be sent twice
                    raise ProviderError(ErrorKind.TIMEOUT, f"stopped after {timeout_s:g}s, {len(text):,} characters into "
                                        "its answer" if text else f"no answer within {timeout_s:g}s",
                                        model_id=spec.id, partial_text=text or None) from None
                if getattr(e, "sent", False):  # stopped after it was sent (another node failed the run, Ctrl-C):
                    self.failed_sent_attempts += 1  # its cost is not known, as its call record says
                raise
            finally:
                self.engine.deadlines.forget(task)

    def _plan_call(self, node: Node, spec: ModelSpec, inputs: dict, nr: NodeRun) -> dict:
        from studio.providers.usage import cost

        call_input, params = translate.model_input(node, spec, inputs)
        effective = {**spec.default_params, **params}
        tokens_in = len(json.dumps(call_input, ensure_ascii=False)) // 4
        tokens_out = 0 if spec.model_type == "embedding" else int(effective.get("max_tokens") or 500)
        estimate = cost(spec, Usage(input_tokens=tokens_in, output_tokens=tokens_out, source="estimate")).usd
        self.requests.append({"nodeId": node.id, "modelId": spec.id, "endpoint": spec.endpoint, "api": spec.api,
                              "input": call_input, "params": effective, "estimatedInputTokens": tokens_in,
                              "estimatedOutputTokens": tokens_out, "estimatedCostUsd": estimate,
                              "fallback": node.policy.fallback})
        nr.model_id = spec.id
        placeholder = f"⟨output of {node.id}⟩"
        return {name: placeholder for name in answer_schema(spec)["properties"]}  # the fields its ports offer

    # -- finish -----------------------------------------------------------------------------
    def _fail_unfinished(self, why: str) -> None:
        """Every node still pending or running as failed, saying why, and the canvas told."""
        for nr in self.record.nodes.values():
            if nr.status in ("pending", "running"):
                nr.status, nr.error = "failed", why
                self._node_event(nr)

    def _finish(self, started: float) -> None:
        rec = self.record
        rec.ended = utcnow_exact()
        rec.wall_ms = (time.perf_counter() - started) * 1000
        priced = [n.cost_usd for n in rec.nodes.values() if n.cost_usd is not None]
        # the calls whose cost is not known, as the analytics counts the run's call records: the
        # answers without a price, and every attempt that was sent and failed (a node that
        # answered after a retry or a fallback included)
        answered = sum(1 for n in rec.nodes.values() if n.model_id and n.cost_usd is None
                       and n.status == "succeeded" and n.error is None)
        rec.unpriced_calls = answered + self.failed_sent_attempts
        rec.cost_usd = round(sum(priced), 10) if priced or not rec.unpriced_calls else None
        rec.input_tokens = sum(n.usage.input_tokens for n in rec.nodes.values())
        rec.output_tokens = sum(n.usage.output_tokens for n in rec.nodes.values())
        rec.cached_nodes = sum(1 for n in rec.nodes.values() if n.status == "cached")
        outs = {n.id: self.outputs[n.id] for n in self.pipeline.nodes if n.kind == "output" and n.id in self.outputs}
        rec.outputs = next(iter(outs.values())) if len(outs) == 1 else outs
        self.engine.recorder.record_run(rec)
        self._publish({"type": "run", "status": rec.status, "wallMs": rec.wall_ms, "costUsd": rec.cost_usd})
        kept = {n: self.outputs[n] for n, r in rec.nodes.items() if r.status in ("succeeded", "cached") and n in self.outputs}
        if kept and self.options.keep_outputs:
            stamps = self._stamps()
            entries = {n: {"stamp": stamps[n], "output": out} for n, out in kept.items()}
            text = json.dumps(entries, ensure_ascii=False, default=str)
            if not redactor.is_clean(text):  # a key a provider echoed, or one typed into the input
                # such an output is not kept (masked, it is not what the node said: --from sent
                # "••••" on as the upstream text): the next --from runs that node again
                for n, entry in entries.items():
                    if not redactor.is_clean(json.dumps(entry["output"], ensure_ascii=False, default=str)):
                        entries[n] = {"stamp": entry["stamp"], "notKept": "it held a secret"}
                text = json.dumps(entries, ensure_ascii=False, default=str)
            self.engine.keep_outputs(self.pipeline.id, text)


__all__ = ["Engine", "MissingKeys", "ModelCaller", "PipelineInvalid", "RunOptions"]
