"""The Studio service object: wires the headless core together once.

The UI, the gateway and the CLI each receive one `Studio`; none builds its own parts.
Nothing here imports NiceGUI.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from studio.analytics import AnalyticsStore
from studio.atomic import NotSaved
from studio.paths import data_home
from studio.registry import ModelRegistry, PipelineRegistry
from studio.registry.samples import SeedReport, remember_shipped_schemas, seed, seed_if_first_start
from studio.secrets import KeyStore
from studio.spec.base import remember_checked_schemas_in

if TYPE_CHECKING:
    from studio.engine import Engine
    from studio.providers.hub import ProviderHub
    from studio.spec.pipeline import Pipeline

_UNBUILT = object()  # not None: a test may set `providers = None` (a build without the hub)


log = logging.getLogger(__name__)


def _default_params_problem(spec) -> str | None:
    """A built-in model's defaultParams checked as its calls check them (imported only for one)."""
    if spec.api != "local" or not spec.default_params:
        return None
    from studio.providers.local import default_params_problem

    return default_params_problem(spec)


class Studio:
    def __init__(self, home: Path | None = None, *, seed_samples: bool = True):
        remember_shipped_schemas()  # the registry's reads then skip checks the tests made
        self.home = home or data_home()
        remember_checked_schemas_in(self.home / "checked-schemas.txt")  # each schema checked once per data dir
        self.keys = KeyStore()
        self.models = ModelRegistry(self.home, self.keys, check_params=_default_params_problem)
        self.pipelines = PipelineRegistry(self.home)
        # DuckDB store of every call and run; opens its file on first use, flushes on close().
        self.analytics = AnalyticsStore(self.home)
        self.recorder = self.analytics
        # The provider hub and the engine are built on first use (see `providers` and `engine`).
        self._build_lock = threading.RLock()
        self._providers: ProviderHub | None = _UNBUILT
        self._engine: Engine = _UNBUILT
        self.first_seed: SeedReport | None = None
        if seed_samples:
            try:
                self.first_seed = seed_if_first_start(self.home, self.models, self.pipelines)
            except NotSaved as e:  # a read-only or full IOM_HOME: what needs no write still works
                log.warning("the sample models and pipelines were not written (%s: %s); the next start tries again.",
                            e.fault, e.path)

    @property
    def providers(self) -> ProviderHub:
        """The provider hub, built on first use: it is imported here rather than at start
        (httpx comes with it), as the first page does not call any model."""
        with self._build_lock:
            if self._providers is _UNBUILT:
                from studio.providers.hub import ProviderHub

                self._providers = ProviderHub(keys=self.keys, recorder=self.recorder)
            return self._providers

    @providers.setter
    def providers(self, hub) -> None:
        """Tests swap the hub; the engine keeps calling through the one it was built with."""
        with self._build_lock:
            self.engine  # noqa: B018 — built first, over the hub it would have had
            self._providers = hub

    @property
    def engine(self) -> Engine:
        """The engine, built on first use (the first run): it is imported here rather than at
        start, as it is the largest part of the core and no page needs it to show."""
        with self._build_lock:
            if self._engine is _UNBUILT:
                from studio.engine import Engine

                self._engine = Engine(models=self.models, caller=self.providers, recorder=self.recorder,
                                      keys=self.keys, home=self.home)
            return self._engine

    async def aclose(self) -> None:
        """Close pooled provider connections (call before the event loop ends); none were opened
        if the hub was never built."""
        if self._providers is not _UNBUILT:
            await self._providers.aclose()

    def share_pipeline(self, pipeline: Pipeline, *, undone: str = "Nothing was written.") -> dict:
        """The pipeline as it is written for others (`iom pipelines export`/`show`, the canvas's
        download), refused in one sentence if it holds a secret. Every key the studio stores or
        a model names is read first, so its value is known to the redaction even in a process
        that has made no call (the CLI's)."""
        from studio.registry.pipelines import export_pipeline

        self.models.read_keys(self.models.all())
        return export_pipeline(pipeline, undone=undone)

    def set_key(self, name: str, value: str) -> list[str]:
        """Store a key, and drop the stored health of the models using it (a "key_missing" or
        "auth_failed" from before would keep capability nodes refusing them). Returns those ids."""
        self.keys.set(name, value)
        return self.models.forget_health_of_key(name)

    def delete_key(self, name: str) -> list[str]:
        """Delete a stored key; the health of the models using it is dropped as by `set_key`."""
        try:
            self.keys.delete(name)
        finally:  # a delete that failed half-way may still have changed what a call finds
            dropped = self.models.forget_health_of_key(name)
        return dropped

    def call_stats(self) -> dict[str, dict]:
        """The recent call figures per model (the measured p50 capability routing uses), which the
        registry's pages and commands show and filter latency by; {} when no call was recorded or
        the analytics cannot be read now (each model's declared figure is then used, and said)."""
        if not self.analytics.path.exists():
            return {}
        from studio.analytics.remote import recent_call_stats

        try:
            return recent_call_stats(self.analytics, self.keys)
        except Exception as e:  # noqa: BLE001 — the registry still lists, by the declared figures
            log.warning("the measured latencies could not be read (%s); showing the declared ones.", e)
            return {}

    def reset_to_samples(self, *, purge: bool = False) -> SeedReport:
        return seed(self.home, self.models, self.pipelines, purge=purge)

    def close(self) -> None:
        """Flush and close what holds files open (the analytics writer). Safe to call twice."""
        self.analytics.close()
