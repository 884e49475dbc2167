"""Model providers: one module per vendor, registered here by name and imported only when used."""

from __future__ import annotations

from importlib import import_module

from evalkit.model_spec import ModelSpec
from evalkit.providers.base import Provider, ProviderFactory
from evalkit.registry import Registry

__all__ = ["Provider", "ProviderFactory", "create_provider", "providers"]

providers: Registry[ProviderFactory] = Registry("provider", "evalkit.providers")


def _lazy(module: str, cls: str) -> ProviderFactory:
    """A factory that imports the provider module (and so its SDK) only when a model needs it."""

    def factory(spec: ModelSpec) -> Provider:
        return getattr(import_module(module), cls)(spec)

    return factory


providers.register("mistral")(_lazy("evalkit.providers.mistral", "MistralProvider"))
providers.register("openai")(_lazy("evalkit.providers.openai_compat", "OpenAIProvider"))
providers.register("llamacpp")(_lazy("evalkit.providers.llamacpp", "LlamaCppProvider"))
providers.register("replay")(_lazy("evalkit.providers.replay", "ReplayProvider"))


def create_provider(spec: ModelSpec) -> Provider:
    """Build the provider serving `spec` (validates keys and files before any call is made)."""
    return providers.get(spec.provider, where=f"model '{spec.name}'")(spec)
