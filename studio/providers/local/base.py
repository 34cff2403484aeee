"""What every built-in model shares: the LocalModel shape, a once-only lazy loader, and
checks of the input and params (the hub validates against the schema first, but a model
can be called directly, and a bad param must end in one clear sentence, not a traceback)."""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar

from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.local.languages import normalize

T = TypeVar("T")


class LocalModel:
    """A model that runs in-process on the CPU, offline, with no key.

    `run` is synchronous and thread-safe (the hub calls it in a worker thread, or in a worker
    process during a batch, where input and output travel as JSON); heavy
    resources are loaded on first use, once, never at import time.
    """

    name: str = ""
    description: str = ""
    # the numeric params it reads: name -> (int or float, default, lowest, highest); one table for
    # the call and for the check of a registry entry's defaultParams when it is saved
    PARAMS: dict[str, tuple[type, float, float, float]] = {}

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def param(self, params: dict[str, Any], name: str) -> Any:
        """The param's value (its default when not given), or INVALID_INPUT naming it and its range."""
        kind, default, low, high = self.PARAMS[name]
        if kind is int:
            return int_param(params, name, int(default), low=int(low), high=int(high))
        return float_param(params, name, default, low=low, high=high)

    def check_params(self, params: dict[str, Any]) -> None:
        """INVALID_INPUT for the first of `params` the call would refuse (others it ignores)."""
        for name in self.PARAMS:
            self.param(params, name)

    def warm(self) -> None:
        """Load what the first call would (libraries, lexicons, language profiles) by running
        once on a short text, so that load is not counted in a measured call. An error here
        is left for the first real call to report."""
        try:
            self.run({"text": "A short sentence, in English, to load the model."}, {})
        except Exception:  # noqa: BLE001 - the same error reaches the first real call
            pass

    def __repr__(self) -> str:
        return f"<LocalModel {self.name}>"


class Lazy(Generic[T]):
    """A value built on first `get()` by `factory`, exactly once even under concurrent calls."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None
        self._ready = False

    def get(self) -> T:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._value = self._factory()
                    self._ready = True
        return self._value  # type: ignore[return-value]


def bad_input(detail: str) -> ProviderError:
    return ProviderError(ErrorKind.INVALID_INPUT, detail)


def require_text(input: dict[str, Any]) -> str:
    text = input.get("text") if isinstance(input, dict) else None
    if not isinstance(text, str):
        raise bad_input("the input needs a 'text' field holding a string")
    return text


def int_param(params: dict[str, Any], name: str, default: int, *, low: int, high: int) -> int:
    value = params.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad_input(f"param '{name}' must be a whole number from {low} to {high}")
    try:
        number = int(value)
    except (ValueError, OverflowError):  # "x", or 1e400 (infinity)
        raise bad_input(f"param '{name}' must be a whole number from {low} to {high}") from None
    if number != float(value) or not low <= number <= high:
        raise bad_input(f"param '{name}' must be a whole number from {low} to {high}, not {value!r}")
    return number


def float_param(params: dict[str, Any], name: str, default: float, *, low: float, high: float) -> float:
    value = params.get(name, default)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad_input(f"param '{name}' must be a number from {low} to {high}") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise bad_input(f"param '{name}' must be a number from {low} to {high}, not {value!r}")
    return number


def language_choice(input: dict[str, Any], params: dict[str, Any]) -> str | None:
    """A language the caller fixed: input `language` (an edge can feed it) before params.
    Accepts a code or an English name ('fr', 'French'); returns a code, or None to detect it."""
    for source in (input, params):
        value = source.get("language") if isinstance(source, dict) else None
        if value is None or value == "" or value == "auto":
            continue
        if not isinstance(value, str):
            raise bad_input("'language' must be a language code such as 'en' or 'fr'")
        return normalize(value)
    return None
