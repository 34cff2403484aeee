"""The built-in models in worker processes while a batch runs over them.

A batch over a built-in model is CPU-bound in Python: in the adapter's threads the models'
work and the engine's share one GIL, and an offline batch used ~1.06 of 2 cores
(bench_batch). While a batch runs with the local executor (`in_use`), the local adapter sends
each call to a worker process instead (`run`; `python -m studio.providers.local.worker`, one
JSON line each way, answered in the order asked), so the models run beside the engine on the other
cores. Outside batches — a console call, a pipeline run — the threads stay: one call gains
nothing from another process, and the workers cost memory only while a batch needs them.

Workers: one fewer than the machine's cores (at least one); `IOM_LOCAL_WORKERS` sets the
number, 0 keeps the models in threads. A worker that ends mid-call fails the calls it held
with a retryable error (the node's retries apply) and is started again for the next call.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import Future, InvalidStateError
from typing import Any, AsyncIterator, Iterable

from studio.errors import UserError
from studio.providers.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)
_pool: "WorkerPool | None" = None
_users = 0
_lock = threading.Lock()


def worker_count() -> int:
    configured = os.environ.get("IOM_LOCAL_WORKERS", "").strip()
    if configured.isdigit():
        return int(configured)
    return max(1, (os.cpu_count() or 2) - 1)


def current() -> "WorkerPool | None":
    """The running pool, while a batch uses one (and its workers could start)."""
    pool = _pool
    return pool if pool is not None and not pool.broken else None


async def run(model, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """`model.run(input, params)` in a worker process while a batch holds the pool, else (and
    for an input JSON cannot carry) in a thread: never on the event loop."""
    pool = current()
    if pool is not None:
        try:
            future = pool.submit(model.name, input, params)
        except TypeError:  # not JSON: this call stays in this process
            pass
        else:
            return await asyncio.wrap_future(future)
    return await asyncio.to_thread(model.run, input, params)


@contextlib.asynccontextmanager
async def in_use(names: Iterable[str]) -> AsyncIterator["WorkerPool | None"]:
    """The pool for the duration of a batch over the built-in models `names`: started (and
    those models loaded in each worker) by the first batch, stopped when the last one ends."""
    global _pool, _users
    names = sorted(set(names))
    count = worker_count()
    if not names or count < 1:
        yield None
        return
    with _lock:
        if _pool is None:
            _pool = WorkerPool(count)
        _users += 1
        pool = _pool
    try:
        warmed = await asyncio.gather(*(asyncio.wrap_future(f) for f in pool.warm(names)), return_exceptions=True)
        failed = [w for w in warmed if isinstance(w, BaseException)]
        if failed:  # a worker that cannot start would fail every call: the models stay in threads
            pool.broken = True
            log.warning("the built-in models run in threads: a worker process did not start (%s)", failed[0])
        yield current()
    finally:
        with _lock:
            _users -= 1
            ending = _pool if _users == 0 else None
            if ending is not None:
                _pool = None
        if ending is not None:
            await asyncio.to_thread(ending.close)


class WorkerPool:
    def __init__(self, size: int):
        self._workers = [Worker() for _ in range(size)]
        self.broken = False  # a worker did not start: calls go to threads until the pool ends

    def warm(self, names: list[str]) -> list[Future]:
        """Each worker loads these models (a Future each, done once it has)."""
        return [worker.submit(json.dumps({"warm": names})) for worker in self._workers]

    def submit(self, model: str, input: dict[str, Any], params: dict[str, Any]) -> Future:
        """The model's output (or its error) as a Future, from the least busy worker."""
        line = json.dumps({"model": model, "input": input, "params": params})  # TypeError: not for a worker
        return min(self._workers, key=Worker.load).submit(line)

    def pids(self) -> list[int]:
        """The worker processes running now (the bench reads their memory)."""
        return [pid for pid in (w.pid() for w in self._workers) if pid is not None]

    def close(self) -> None:
        for worker in self._workers:
            worker.close()


# A built-in model needs no key: a worker's environment is ours without anything named like one.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)


def worker_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not _SECRET_NAME.search(name)}


class _Process:
    """A worker process and the calls it holds, in the order it answers them."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "studio.providers.local.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
                                     env=worker_environment())
        self.pending: collections.deque[Future] = collections.deque()  # oldest first

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, line: str) -> bool:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):  # it ended; its reader fails what it held
            return False


class Worker:
    """One worker process, started on first use and again after it ends."""

    def __init__(self):
        self._current: _Process | None = None
        self._lock = threading.Lock()

    def load(self) -> int:
        current = self._current
        return len(current.pending) if current is not None else 0

    def pid(self) -> int | None:
        current = self._current
        return current.proc.pid if current is not None and current.alive() else None

    def submit(self, request_line: str) -> Future:
        future: Future = Future()
        with self._lock:
            current = self._current
            if current is None or not current.alive():
                try:
                    current = self._current = _Process()
                except OSError as e:
                    future.set_exception(ProviderError(ErrorKind.SERVER, f"could not start a built-in model worker ({e})"))
                    return future
                threading.Thread(target=self._read, args=(current,), name="local-model-worker", daemon=True).start()
            current.pending.append(future)
            if not current.send(request_line):
                current.pending.remove(future)
                future.set_exception(_ended(current.proc))
        return future

    def _read(self, current: _Process) -> None:
        """Each answer line is the oldest pending call's (the worker answers in the order asked)."""
        for line in current.proc.stdout:
            try:
                answer = json.loads(line)
                with self._lock:
                    future = current.pending.popleft()
            except (ValueError, IndexError):  # not our protocol: end it, and fail what it held below
                current.proc.kill()
                break
            _settle(future, answer)
        current.proc.wait()
        with self._lock:  # what it held when it ended
            left, current.pending = list(current.pending), collections.deque()
        for future in left:
            _settle(future, {"error": {"provider": "server", "detail": _ended(current.proc).detail, "status": None}})

    def close(self) -> None:
        with self._lock:
            current, self._current = self._current, None
        if current is None:
            return
        try:
            current.proc.stdin.close()
        except OSError:
            pass
        try:
            current.proc.wait(30)
        except subprocess.TimeoutExpired:
            current.proc.kill()
            current.proc.wait()


def _settle(future: Future, answer: dict[str, Any]) -> None:
    """Give the call its answer, unless it was cancelled meanwhile (its node's deadline): then
    the answer is dropped."""
    error = answer.get("error")
    if error is None:
        outcome, failed = answer["output"], False
    elif "provider" in error:
        outcome, failed = ProviderError(ErrorKind(error["provider"]), error["detail"], status=error["status"]), True
    elif "user" in error:
        outcome, failed = UserError(error["user"]), True
    else:
        outcome, failed = RuntimeError(error["bug"]), True
    try:
        future.set_exception(outcome) if failed else future.set_result(outcome)
    except InvalidStateError:  # cancelled since
        pass


def _ended(proc: subprocess.Popen | None) -> ProviderError:
    code = proc.poll() if proc is not None else None
    return ProviderError(ErrorKind.SERVER, f"the built-in models' worker process ended (exit code {code}); "
                                           "the call can be tried again")
