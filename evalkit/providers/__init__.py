"""Model providers: one module per vendor, registered here by name and imported only when used.

A provider is a subclass of `Provider` (evalkit.providers.base) taking a ModelSpec; it implements `generate`
and overrides the declared abilities that differ from their defaults. Third-party providers register through
the entry-point group `evalkit.providers` (`name = "package.module:ProviderClass"`).
"""

from __future__ import annotations

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec
from evalkit.providers.base import Provider, ProviderFactory, StreamChunk
from evalkit.registry import Registry

__all__ = ["Provider", "ProviderFactory", "StreamChunk", "create_provider", "provider_class", "providers"]

providers: Registry[type[Provider]] = Registry("provider", "evalkit.providers")

providers.register_lazy("mistral", "evalkit.providers.mistral:MistralProvider")
providers.register_lazy("openai", "evalkit.providers.openai_compat:OpenAIProvider")
providers.register_lazy("llamacpp", "evalkit.providers.llamacpp:LlamaCppProvider")
providers.register_lazy("replay", "evalkit.providers.replay:ReplayProvider")


def provider_class(name: str, *, where: str = "") -> type[Provider]:
    """The Provider subclass registered as `name`; ConfigError when unknown or not a Provider subclass."""
    cls = providers.get(name, where=where)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        loc = f"{where}: " if where else ""
        raise ConfigError(f"{loc}provider '{name}' is registered as {cls!r}, which is not a subclass of "
                          f"evalkit.providers.Provider (derive from it and implement `generate`)")
    return cls


def create_provider(spec: ModelSpec) -> Provider:
    """Build the provider serving `spec` (validates keys and files before any call is made)."""
    return provider_class(spec.provider, where=f"model '{spec.name}'")(spec)
