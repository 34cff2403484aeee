"""The Studio service object: wires the headless core together once.

The UI, the gateway and the CLI each receive one `Studio`; none builds its own parts.
Nothing here imports NiceGUI.
"""

from __future__ import annotations

from pathlib import Path

from studio.analytics import AnalyticsStore
from studio.engine import Engine
from studio.paths import data_home
from studio.providers.hub import ProviderHub
from studio.registry import ModelRegistry, PipelineRegistry
from studio.registry.samples import SeedReport, seed, seed_if_first_start
from studio.secrets import KeyStore


class Studio:
    def __init__(self, home: Path | None = None, *, seed_samples: bool = True):
        self.home = home or data_home()
        self.keys = KeyStore()
        self.models = ModelRegistry(self.home, self.keys)
        self.pipelines = PipelineRegistry(self.home)
        # DuckDB store of every call and run; opens its file on first use, flushes on close().
        self.analytics = AnalyticsStore(self.home)
        self.recorder = self.analytics
        self.providers = ProviderHub(keys=self.keys, recorder=self.recorder)
        self.engine = Engine(models=self.models, caller=self.providers, recorder=self.recorder,
                             keys=self.keys, home=self.home)
        self.first_seed: SeedReport | None = None
        if seed_samples:
            self.first_seed = seed_if_first_start(self.home, self.models, self.pipelines)

    async def aclose(self) -> None:
        """Close pooled provider connections (call before the event loop ends)."""
        await self.providers.aclose()

    def reset_to_samples(self, *, purge: bool = False) -> SeedReport:
        return seed(self.home, self.models, self.pipelines, purge=purge)

    def close(self) -> None:
        """Flush and close what holds files open (the analytics writer). Safe to call twice."""
        self.analytics.close()
