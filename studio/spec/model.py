"""ModelSpec: one entry of the registry — what a model is, how to reach it, what it costs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from studio.spec.base import SpecModel, check_json_schema, check_slug, is_studio_own, utcnow

Provider = Literal["openai", "anthropic", "google", "huggingface", "ollama", "http", "local"]
# Whose models compute on the user's own machine: free of charge, and a few calls at a time.
ON_THIS_MACHINE = frozenset({"local", "ollama"})

# Wire formats; one adapter each (providers issue). The provider says who runs the model,
# the api says how to talk to it: an Ollama server can be spoken to as "openai-chat" too.
Api = Literal[
    "openai-chat",
    "openai-embeddings",
    "anthropic-messages",
    "gemini",
    "hf-text-generation",
    "hf-feature-extraction",
    "hf-text-classification",
    "hf-translation",
    "ollama-chat",
    "ollama-generate",
    "ollama-embed",
    "http",
    "local",
]

ModelType = Literal["llm", "embedding", "classifier", "translation", "vision", "custom"]
SecurityPolicy = Literal["public", "organization", "private"]

KNOWN_CAPABILITIES = (
    "chat", "summarize", "translate", "embed", "sentiment", "language-detect", "keywords",
    "vision", "classify", "text-stats", "generate", "code", "reasoning",
)


# The dearest models cost hundreds of USD per million tokens; a price far above that (or 1e400,
# read as infinity) is a typo, and would make every cost and every cheapest-first route wrong.
MAX_USD_PER_MTOK = 10_000
MAX_USD_PER_CALL = 1_000


class Prices(SpecModel):
    """USD prices. None means unknown (shown as *unpriced*), never a silent $0."""

    input_per_token: float | None = Field(default=None, ge=0)
    output_per_token: float | None = Field(default=None, ge=0)
    cached_input_per_token: float | None = Field(default=None, ge=0)
    # Prompt-cache writes (Claude): Anthropic charges them above input, 1.25x for the 5-minute
    # cache, 2x for the 1-hour one. Unset, they are priced at the input price (below the bill).
    cache_write_input_per_token: float | None = Field(default=None, ge=0)
    per_call: float | None = Field(default=None, ge=0)

    @field_validator("input_per_token", "output_per_token", "cached_input_per_token", "cache_write_input_per_token")
    @classmethod
    def _token_price_is_real(cls, v: float | None) -> float | None:
        if v is not None and v * 1_000_000 > MAX_USD_PER_MTOK:
            raise ValueError(f"this price is too large: at most {MAX_USD_PER_MTOK:,} USD per million tokens "
                             f"({MAX_USD_PER_MTOK / 1_000_000:g} USD per token); check it for a typo")
        return v

    @field_validator("per_call")
    @classmethod
    def _call_price_is_real(cls, v: float | None) -> float | None:
        if v is not None and v > MAX_USD_PER_CALL:
            raise ValueError(f"this price is too large: at most {MAX_USD_PER_CALL:,} USD per call; "
                             "check it for a typo")
        return v

    @property
    def known(self) -> bool:
        return self.per_call is not None or self.per_token("llm") is not None

    def per_token(self, model_type: str) -> tuple[float, float] | None:
        """(input, output) USD per token, None when not known. An embedding has no output tokens,
        so its input price alone prices it; any other model needs both."""
        if self.input_per_token is None:
            return None
        if self.output_per_token is not None:
            return self.input_per_token, self.output_per_token
        return (self.input_per_token, 0.0) if model_type == "embedding" else None

    def known_for(self, model_type: str) -> bool:
        return self.per_call is not None or self.per_token(model_type) is not None

    def one_sided(self, model_type: str) -> str | None:
        """The sentence for a model that has one token price of the two it needs (its calls stay
        unpriced), else None."""
        if model_type == "embedding" or (self.input_per_token is None) == (self.output_per_token is None):
            return None
        given, missing = ("input", "output") if self.output_per_token is None else ("output", "input")
        return (f"only the {given} price is set, so this model's calls stay unpriced; give the {missing} price too "
                f"(0 if it is free).")


class HttpCall(SpecModel):
    """How the generic HTTP adapter calls "any HTTP API".

    `headers` values may hold `{{key}}`, replaced by the secret at call time (never stored).
    `body` is a Jinja2 template (sandboxed) rendered with the canonical input as `input`.
    `output` is a JMESPath expression applied to the JSON reply; `text_output` names the
    field of the canonical output it fills.
    """

    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    output: str | None = None
    output_field: str = "text"


class FaultInjection(SpecModel):
    """Opt-in faults wrapped around a model, to watch routing and fallback happen."""

    enabled: bool = True
    added_latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: float = Field(default=1.0, ge=0)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)


class RateLimit(SpecModel):
    """The provider's limits for this model; the engine queues calls to stay under them."""

    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)


class ModelSpec(SpecModel):
    id: str
    name: str = Field(min_length=1)
    description: str = ""
    provider: Provider
    api: Api
    endpoint: str | None = None
    model: str | None = None
    model_type: ModelType = "llm"
    capabilities: list[str] = Field(default_factory=list)
    owner: str = ""
    tags: list[str] = Field(default_factory=list)
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    prices: Prices = Field(default_factory=Prices)
    latency_ms: int | None = Field(default=None, ge=0)
    context_window: int | None = Field(default=None, gt=0)
    security_policy: SecurityPolicy = "public"
    default_params: dict[str, Any] = Field(default_factory=dict)
    key_ref: str | None = None
    http: HttpCall | None = None
    faults: FaultInjection | None = None
    rate_limit: RateLimit | None = None
    created: datetime = Field(default_factory=utcnow)
    updated: datetime = Field(default_factory=utcnow)

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, v: str) -> str:
        return check_slug(v, "model id")

    @field_validator("key_ref")
    @classmethod
    def _key_ref_is_a_name(cls, v: str | None) -> str | None:
        if v is not None and not v.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(
                "keyRef must be the name of a key (letters, digits, '_', '-', '.'), "
                "not the key itself"
            )
        if v is not None and is_studio_own(v):
            raise ValueError(f"keyRef {v!r} names one of the studio's own secrets (IOM_…), which are never sent "
                             f"to a model; name the provider's key, e.g. OPENAI_API_KEY")
        return v

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_a_url(cls, v: str | None) -> str | None:
        """`http://`, `https:///v1/chat` or an address with a space were saved, and only a later
        call or health check said 'UnsupportedProtocol'."""
        if v is None:
            return v
        try:
            parts = urlsplit(v)
            scheme, host = parts.scheme.lower(), parts.hostname
        except ValueError:  # a malformed IPv6 address
            scheme, host = "", None
        if scheme not in ("http", "https") or not host or any(c.isspace() for c in v):
            raise ValueError(f"endpoint {v[:80]!r} is not a URL a call can go to; give one such as "
                             "https://api.openai.com/v1/chat/completions")
        return v

    @field_validator("input_schema", "output_schema")
    @classmethod
    def _schema_is_valid(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_json_schema(v)

    @model_validator(mode="after")
    def _endpoint_unless_local(self) -> "ModelSpec":
        if self.api != "local" and not self.endpoint:
            raise ValueError(f"a model with api {self.api!r} needs an endpoint URL")
        return self

    @property
    def incomplete(self) -> bool:
        """True while the provider's model name is unknown: it cannot be called yet."""
        return self.api not in ("local", "http") and not self.model

    @property
    def priced(self) -> bool:
        return self.prices.known_for(self.model_type)


# rate_limited: the provider asked the probe to wait (429) — the model works, it is busy; routing
# keeps it (a call waits or falls back), unlike auth_failed/unreachable/key_missing
HealthState = Literal["ok", "rate_limited", "auth_failed", "unreachable", "key_missing", "error", "unknown"]


class HealthStatus(SpecModel):
    """Last probe of a model; kept apart from the spec (state, not definition)."""

    state: HealthState = "unknown"
    latency_ms: float | None = None
    checked: datetime | None = None
    detail: str = ""
