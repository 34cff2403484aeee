"""Where call and run records go. The analytics store implements `Recorder`; tests and
headless tools can use `MemoryRecorder`. Every model call is recorded exactly once, by the
provider hub (which knows the call) with the pipeline context the engine passes in."""

from __future__ import annotations

from typing import Any, Protocol

from studio.spec.records import CallRecord, RunRecord


class Recorder(Protocol):
    def record_call(self, record: CallRecord, input: Any = None, output: Any = None) -> None:
        """Store one call; `input`/`output` feed the content-addressed audit trail."""

    def record_run(self, run: RunRecord) -> None:
        """Store (or update) one pipeline run with its node records."""


class MemoryRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[CallRecord, Any, Any]] = []
        self.runs: dict[str, RunRecord] = {}

    def record_call(self, record: CallRecord, input: Any = None, output: Any = None) -> None:
        self.calls.append((record, input, output))

    def record_run(self, run: RunRecord) -> None:
        self.runs[run.id] = run
