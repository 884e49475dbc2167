"""The project config (`evalkit.toml`): model definitions, provider defaults and the price table.

A model name given to `--models` resolves, first match wins, through: the project config's `[models.NAME]`,
the suite's own `models:` section (the demo adapters), then the built-in embedded models.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec, Price
from evalkit.suite import SuiteSpec
from evalkit.user_errors import unknown_name, validation_error

if TYPE_CHECKING:
    from evalkit.sources.hub import DataOverrides

CONFIG_FILE = "evalkit.toml"

EMBEDDED_BASE = "gemma3-270m"
"""Alias of the embedded base model (Gemma 3 270M Q4_K_M from PyPI), served by llama.cpp."""

BUILTIN_MODELS: Mapping[str, Mapping[str, Any]] = {
    "base": {"provider": "llamacpp", "model": EMBEDDED_BASE, "concurrency": 1, "timeout_s": 600.0,
             "metadata": {"description": "Gemma 3 270M pretrained (embedded, offline)"}},
    "mistral-large": {"provider": "mistral", "model": "mistral-large-latest", "concurrency": 4,
                      "metadata": {"description": "Mistral Large (needs MISTRAL_API_KEY); the default judge online"}},
}
"""Models that exist without any config. The embedded `ft` is suite-specific: each demo suite names its
own LoRA adapter in its `models:` section."""


class ProviderDefaults(BaseModel):
    """Defaults applied to every model of one provider (any ModelSpec field)."""

    model_config = ConfigDict(frozen=True, extra="allow")


class ProjectConfig(BaseModel):
    """A parsed `evalkit.toml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """`[models.NAME]` tables: ModelSpec fields (provider, model, base_url, api_key_env, adapter, ...)."""
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """`[providers.NAME]` tables: defaults for every model of that provider (e.g. requests_per_second)."""
    prices: dict[str, Price] = Field(default_factory=dict)
    """`[prices."MODEL_ID"]` tables, USD per 1M tokens; keys may be glob patterns (`ft:open-mistral-7b:*`)."""
    judge: str | None = None
    """Model name of the judge for tasks that need one (default: `mistral-large` with a key, else `base`)."""
    gates: dict[str, Any] | None = None
    """`[gates]` table: CI gate `rules` and settings (see docs/ci-gates.md); validated by evalkit.gating."""
    ray: dict[str, Any] | None = None
    """`[ray]` table: the cluster `evalkit run --ray` uses and how its calls are sharded (address, shard_size,
    replicas, num_cpus, num_gpus, ...; see docs/scale-out.md); validated by evalkit.distributed.RaySettings."""
    data: dict[str, str] = Field(default_factory=dict)
    """`[data]` table: local copies of public data sets, by Hugging Face id (`"cais/mmlu" = "mmlu/test.csv"`,
    relative to this file), read instead of the hub by every suite over that data set (`--data` wins)."""
    path: Path | None = None
    """The file this was read from (None: no project config)."""

    def price_for(self, model_id: str) -> Price | None:
        """The price of a model id: exact key first, then the first matching glob pattern, else None."""
        if model_id in self.prices:
            return self.prices[model_id]
        for pattern, price in self.prices.items():
            if fnmatch.fnmatchcase(model_id, pattern):
                return price
        return None


def data_overrides(config: ProjectConfig, cli_values: Sequence[str] | None = None) -> DataOverrides:
    """The data overrides of a run: `--data` values (relative to the working directory) over the `[data]`
    table (relative to the config file)."""
    from evalkit.sources.hub import parse_data_option

    return parse_data_option(cli_values, config.data, config.path.parent if config.path else None)


def load_config(path: Path | None = None) -> ProjectConfig:
    """Read `path`, or `./evalkit.toml` when it exists, else an empty config."""
    if path is None:
        candidate = Path.cwd() / CONFIG_FILE
        if not candidate.is_file():
            return ProjectConfig()
        path = candidate
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    models = {name: dict(table) for name, table in raw.pop("models", {}).items()}
    try:
        return ProjectConfig(**raw, models=models, path=path.resolve())
    except ValidationError as exc:
        raise validation_error(exc, where=str(path), model=ProjectConfig) from None
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _resolve_paths(table: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    """Relative file paths in a model table made absolute against `base`, the folder of the defining file; the
    provider says which fields name files (Provider.path_fields)."""
    from evalkit.providers import provider_class

    provider, model = table.get("provider"), table.get("model")
    if not isinstance(provider, str) or not isinstance(model, str):
        return table  # ModelSpec validation names the missing or mistyped field
    for key in provider_class(provider, where=where).path_fields(model):
        if isinstance(table.get(key), str) and not Path(table[key]).expanduser().is_absolute():
            table[key] = str((base / table[key]).resolve())
    return table


def known_models(config: ProjectConfig, suite: SuiteSpec | None = None) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Every model name that resolves, with where it is defined and its raw table."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {n: ("built-in", t) for n, t in BUILTIN_MODELS.items()}
    if suite is not None:
        found.update({n: (str(suite.path), t) for n, t in suite.models.items()})
    found.update({n: (str(config.path), t) for n, t in config.models.items()})
    return found


def resolve_model(name: str, config: ProjectConfig, suite: SuiteSpec | None = None) -> ModelSpec:
    """The ModelSpec for a `--models` name."""
    known = known_models(config, suite)
    if name not in known:
        where = f"project config {config.path}" if config.path else f"no {CONFIG_FILE} in {Path.cwd()}"
        raise unknown_name("model", name, known, where=f"--models ({where})",
                           hint=f"Define it under [models.{name}] in {CONFIG_FILE}.")
    source, table = known[name]
    table = dict(table)
    provider = table.get("provider")
    merged = {**config.providers.get(str(provider), {}), **table} if provider else table
    if suite is not None and source == str(suite.path):
        merged = _resolve_paths(merged, suite.directory, f"{source}: model '{name}'")
    elif config.path is not None and source == str(config.path):
        merged = _resolve_paths(merged, config.path.parent, f"{source}: model '{name}'")
    try:
        spec = ModelSpec(name=name, **merged)
    except ValidationError as exc:
        raise validation_error(exc, where=f"{source}: model '{name}'", model=ModelSpec) from None
    except TypeError as exc:
        raise ConfigError(f"{source}: model '{name}': {exc}") from None
    if spec.price is None:
        price = config.price_for(spec.model)
        if price is not None:
            spec = spec.model_copy(update={"price": price})
    return spec


def resolve_models(names: Sequence[str], config: ProjectConfig, suite: SuiteSpec | None = None) -> list[ModelSpec]:
    """ModelSpecs for `--models a,b,c`, in order; names must be distinct."""
    if not names:
        raise ConfigError("--models: give at least one model name, e.g. --models base,ft")
    dupes = sorted({n for n in names if list(names).count(n) > 1})
    if dupes:
        raise ConfigError(f"--models: each model may appear once; repeated: {', '.join(dupes)}")
    return [resolve_model(n, config, suite) for n in names]


OFFLINE_JUDGE = "base"
ONLINE_JUDGE = "mistral-large"


def judge_name(cli_choice: str | None, config: ProjectConfig, suite: SuiteSpec | None, *,
               fallback: bool = True) -> str | None:
    """The judge model's name: `--judge`, then the project config, then the suite, then the default.

    The default is Mistral Large when MISTRAL_API_KEY is set, else (with `fallback`) the embedded local model,
    whose verdicts only demonstrate the pipeline (reports label them so). A task whose judge model is optional
    (a check judge scores without one) asks with fallback=False: no explicit choice and no key is then None,
    no judge model at all.
    """
    import os

    if cli_choice:
        return cli_choice
    if config.judge:
        return config.judge
    if suite is not None and suite.judge:
        return suite.judge
    if os.environ.get("MISTRAL_API_KEY"):
        return ONLINE_JUDGE
    return OFFLINE_JUDGE if fallback else None
