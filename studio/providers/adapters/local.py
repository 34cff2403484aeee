"""Built-in local models: `LOCAL_MODELS[spec.model].run(input, params)` in a worker thread,
so a CPU-bound model never blocks the event loop; while a batch runs over them, in a worker
process (studio/providers/local/processes.py), so the models and the engine use two cores."""

from __future__ import annotations

import time

from studio.providers.adapters.base import AdapterResult, Exchange
from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.local import processes


async def call(x: Exchange) -> AdapterResult:
    from studio.providers.local import LOCAL_MODELS

    model = LOCAL_MODELS.get(x.spec.model or "")
    if model is None:
        raise ProviderError(ErrorKind.NOT_FOUND, f"there is no built-in model named {x.spec.model!r} "
                            f"(known: {', '.join(sorted(LOCAL_MODELS))})")
    start = time.perf_counter()
    try:
        output = await processes.run(model, x.input, x.params)
    finally:
        x.wait_s += time.perf_counter() - start  # the model's own compute, not studio overhead
    return AdapterResult(output, None, None, None)


async def probe(x: Exchange) -> None:
    from studio.providers.local import LOCAL_MODELS

    if (x.spec.model or "") not in LOCAL_MODELS:
        raise ProviderError(ErrorKind.NOT_FOUND, f"there is no built-in model named {x.spec.model!r}")
