"""Built-in models that run offline on the CPU with no key: nothing is downloaded at run
time, everything comes from packages installed with the studio (vaderSentiment, yake,
langdetect) or is written here. Importing this package is cheap: each model loads its
library on first use.

`LOCAL_MODELS` is keyed by the name a registry entry gives as `model` (its `api` is
"local"); the hub's `local` adapter runs `LOCAL_MODELS[spec.model].run(input, params)` in a
worker thread.
"""

from __future__ import annotations

from studio.providers.local.base import LocalModel
from studio.providers.local.keywords import YakeKeywords
from studio.providers.local.language import LanguageDetector
from studio.providers.local.sentiment import VaderSentiment
from studio.providers.local.summarize import ExtractiveSummary
from studio.providers.local.textstats import TextStatistics

LOCAL_MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (VaderSentiment(), LanguageDetector(), YakeKeywords(), ExtractiveSummary(), TextStatistics())
}

__all__ = ["LOCAL_MODELS", "LocalModel"]
