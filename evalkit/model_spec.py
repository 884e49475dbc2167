"""How one model is configured: provider, model id, endpoint, limits, and price."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Price(BaseModel):
    """Price of one model id in US dollars per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    """USD per 1M prompt tokens."""
    output_per_mtok: float = Field(ge=0)
    """USD per 1M completion tokens."""


class ModelSpec(BaseModel):
    """One model as named in `--models`: which provider serves it, and how to call it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The name used on the command line and in reports (`base`, `ft`, `ft-lr1e-5`)."""
    provider: str
    """Provider registry name: `mistral`, `openai`, `llamacpp`, `replay`."""
    model: str
    """The provider's model identifier (`mistral-small-latest`, `ft:open-mistral-7b:...`, a GGUF path)."""
    base_url: str | None = None
    """Endpoint for HTTP providers (Mistral `server_url`, an OpenAI-compatible base URL)."""
    api_key_env: str | None = None
    """Environment variable holding the API key (the key itself is never stored in config or runs)."""
    adapter: str | None = None
    """LoRA adapter path (llamacpp: a GGUF LoRA file)."""
    path: str | None = None
    """Predictions file for the `replay` provider."""
    prompt: str | None = None
    """Name of the suite prompt profile this model uses (default: a profile named like the model, else `default`)."""
    concurrency: int = Field(default=4, ge=1)
    """Calls in flight at once for this model."""
    requests_per_second: float | None = Field(default=None, gt=0)
    """Rate limit for this model's provider endpoint; None means unlimited."""
    timeout_s: float = Field(default=120.0, gt=0)
    """A call taking longer than this is abandoned and retried."""
    max_retries: int = Field(default=5, ge=0)
    """Retries per call after the first try, for retryable failures only."""
    price: Price | None = None
    """Price of this model; when None the project price table is looked up by model id."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific options (llamacpp: n_ctx, n_threads; openai: extra headers)."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form facts about the model (learning_rate, steps, job id) shown in reports."""

    def public_dict(self) -> dict[str, Any]:
        """The spec as stored in a run directory: it never holds a key, only the variable name."""
        return self.model_dump(mode="json")
