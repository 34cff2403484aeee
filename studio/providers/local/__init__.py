"""Built-in models that run offline on the CPU with no key: nothing is downloaded at run
time, everything comes from packages installed with the studio (vaderSentiment, yake,
langdetect) or is written here. Importing this package is cheap: each model loads its
library on first use.

`LOCAL_MODELS` is keyed by the name a registry entry gives as `model` (its `api` is
"local"); the hub's `local` adapter runs `LOCAL_MODELS[spec.model].run(input, params)` in a
worker thread, or during a batch in a worker process (processes.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from pathlib import Path
from typing import Iterable

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

# The libraries the models above run on (their distribution names).
LIBRARIES = ("vaderSentiment", "yake", "langdetect")


@functools.cache
def implementation_version() -> str:
    """A digest of what a built-in model's answer depends on beside its input: this package's
    code and the versions of LIBRARIES. The output cache keys on it, so an upgrade that
    changes either does not answer with what the previous version computed."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in LIBRARIES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version}\0".encode())
    return digest.hexdigest()[:32]


def default_params_problem(spec, given: Iterable[str] = ()) -> str | None:
    """What is wrong with a built-in model's defaultParams, in the call's own words ("default
    param 'wordsPerMinute' must be a number from 20 to 2000, not 1"), or None; `given`: the
    params a call sets itself, whose defaults it does not use."""
    from studio.providers.errors import ProviderError

    model = LOCAL_MODELS.get(spec.model) if spec.api == "local" else None
    if model is None or not spec.default_params:
        return None
    try:
        model.check_params({k: v for k, v in spec.default_params.items() if k not in set(given)})
    except ProviderError as e:
        return f"default {e.detail}" if e.detail.startswith("param ") else e.detail
    return None


def defaults_fix(problem: str) -> str:
    """The call's sentence for a default param it refuses: what to do about it."""
    return f"{problem}; fix defaultParams (Registry → Edit, or 'iom models import --replace'), or set that param in the call"


__all__ = ["LIBRARIES", "LOCAL_MODELS", "LocalModel", "default_params_problem", "defaults_fix", "implementation_version"]
