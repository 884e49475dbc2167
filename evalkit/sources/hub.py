"""Public data sets read from the Hugging Face hub, and the local copies that stand in for them.

A suite over a public data set names it by its hub id (`data.path: cais/mmlu`, `name`, `split`) and reads it
through `datasets`. Three things around that read live here:

- whether the hub can be reached: not when HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE) is set, nor when a
  connection to the hub's host (or the HTTPS proxy) fails within two seconds; HF_HUB_OFFLINE=0 says it can,
  without the probe. Offline, `datasets` is put in its
  offline mode for the read, so it answers from its local cache at once instead of retrying for half a minute;
  a data set missing from the cache is then one error line naming it and how to point evalkit at a local copy;
- a quiet read: `datasets`' progress bars and log lines stay off the console while evalkit reads;
- the data override: `--data ID=PATH` (or `--data PATH`, for the suite's own data set) and the
  `[data]` table of evalkit.toml (`"cais/mmlu" = "path/to/medical_genetics_test.csv"`) replace a suite's hub
  data set with a local copy; each source says which local formats it reads (`local_formats`).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from evalkit.errors import ConfigError, DataError

__all__ = ["HUB_SOURCES", "DataOverrides", "HubAccess", "apply_overrides", "hub_access", "hub_dataset",
           "hub_session", "in_local_cache", "load_hub_split", "load_local_rows", "local_formats",
           "looks_like_hub_id", "offline_error", "parse_data_option"]

HUB_SOURCES = ("hf", "mmlu", "pubmedqa", "eurlex", "bsard")
"""Data sources whose `path` may name a Hugging Face dataset id."""

_LOCAL_FORMATS = {
    "hf": "a JSONL, CSV or Parquet file with the hub's columns",
    "mmlu": "MMLU's original CSV (no header: question, A, B, C, D, answer), or a Parquet/JSONL file with the "
            "hub's columns",
    "pubmedqa": "PubMedQA's ori_pqal.json (keyed by PMID), or a Parquet/JSONL file with the hub's columns",
    "eurlex": "a JSONL or Parquet file in the hub's all_languages schema",
    "bsard": "a folder laid out like the hub repository (questions_<split>.csv, articles.csv)",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_FILE_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".parquet", ".arrow", ".txt"}
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}
_FALSE = {"0", "OFF", "NO", "FALSE"}
CONNECT_TIMEOUT_S = 2.0
"""How long the reachability probe waits for a TCP connection to the hub (DNS failure returns at once)."""


def local_formats(source: str) -> str:
    """What a local copy of a `source` data set may be, in words (for error messages and docs)."""
    return _LOCAL_FORMATS.get(source, "a local file")


def looks_like_hub_id(text: str) -> bool:
    """`owner/name` with no data-file suffix: how a hub id differs from a relative file path."""
    return bool(_HUB_ID.match(text)) and Path(text).suffix.lower() not in _FILE_SUFFIXES


def hub_dataset(spec: Any, base_dir: Path, *, split_path: str | None = None) -> str | None:
    """The hub id a DataSpec reads from the hub, or None when it reads local files.

    `hf` reads the hub unless it has `data_files`; the other hub sources read it when `path` looks like a hub
    id and names no local file or folder (relative to the suite folder).
    """
    if split_path is not None or spec.source not in HUB_SOURCES or spec.data_files or spec.copy_of:
        return None
    if spec.source == "hf":
        return spec.path
    local = Path(spec.path).expanduser()
    local = local if local.is_absolute() else base_dir / local
    return spec.path if looks_like_hub_id(spec.path) and not local.exists() else None


# ----------------------------------------------------------------------------------------------------------
# Reachability


@dataclass(frozen=True)
class HubAccess:
    """Whether the hub answers, and why not."""

    online: bool
    reason: str = ""
    """Why the hub is out of reach (empty when online)."""


def hub_access(timeout: float = CONNECT_TIMEOUT_S) -> HubAccess:
    """Whether the Hugging Face hub can be reached now: the offline variables first, then one TCP connection
    to its host (HF_ENDPOINT's, else huggingface.co) or to the HTTPS proxy when one is set."""
    values = {var: os.environ.get(var, "").strip().upper() for var in _OFFLINE_VARS}
    for var, value in values.items():
        if value in _TRUE:
            return HubAccess(False, f"{var} is set")
    if values["HF_HUB_OFFLINE"] in _FALSE:
        return HubAccess(True)  # the user says the hub is reachable (e.g. through a proxy a probe cannot see)
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target = urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}") if proxy else endpoint
    host = target.hostname or "huggingface.co"
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return HubAccess(True)
    except OSError as exc:
        what = f"the proxy {host}:{port}" if proxy else f"{host}:{port}"
        return HubAccess(False, f"no network: cannot connect to {what} ({exc.strerror or type(exc).__name__})")


# ----------------------------------------------------------------------------------------------------------
# Reading, quietly and (when out of reach) from the cache only


def _describe(dataset_id: str, config: str | None, split: str | None) -> str:
    parts = [f"config {config!r}"] if config else []
    parts += [f"split {split!r}"] if split else []
    return f"Hugging Face dataset {dataset_id!r}" + (f" ({', '.join(parts)})" if parts else "")


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    """`datasets`' and the hub client's progress bars and warnings off for the read, restored after."""
    import datasets
    import huggingface_hub.utils as hub_utils
    from datasets.utils import logging as ds_logging

    bars_off, hub_bars_off = datasets.utils.are_progress_bars_disabled(), hub_utils.are_progress_bars_disabled()
    verbosity, hub_verbosity = ds_logging.get_verbosity(), hub_utils.logging.get_verbosity()
    datasets.disable_progress_bars()
    hub_utils.disable_progress_bars()
    ds_logging.set_verbosity_error()
    hub_utils.logging.set_verbosity_error()
    try:
        yield
    finally:
        ds_logging.set_verbosity(verbosity)
        hub_utils.logging.set_verbosity(hub_verbosity)
        if not bars_off:
            datasets.enable_progress_bars()
        if not hub_bars_off:
            hub_utils.enable_progress_bars()


@contextmanager
def _offline_mode() -> Iterator[None]:
    """`datasets` and `huggingface_hub` in offline mode for the read: the cache only, no request, no retry.

    Both libraries read HF_HUB_OFFLINE once, at import, into these module constants, which their code checks
    at call time; setting the constants (and restoring them) is the only way to go offline after import.
    """
    import datasets.config as ds_config
    import huggingface_hub.constants as hub_constants

    saved = ds_config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    ds_config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        ds_config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved


def in_local_cache(dataset_id: str) -> bool:
    """Whether `datasets`' cache holds a prepared copy of this data set (what its offline mode reads: a folder
    `owner___name`, the name in snake case, in HF_DATASETS_CACHE, by default HF_HOME/datasets). Checked
    without importing `datasets`, so an offline run that cannot have the data fails in milliseconds."""
    from huggingface_hub import constants as hub_constants

    owner, _, name = dataset_id.partition("/")
    # datasets.config defines its cache folder like this; reading it from there would import all of `datasets`.
    prepared = Path(os.environ.get("HF_DATASETS_CACHE") or Path(hub_constants.HF_HOME) / "datasets")
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return prepared.is_dir() and any(re.sub(r"[^a-z0-9]", "", d.name.partition("___")[2].lower()) == flat
                                     for d in prepared.glob(f"{owner}___*") if d.is_dir())


def offline_error(dataset_id: str, *, source: str, config: str | None, split: str | None, reason: str) -> DataError:
    """The one line for a hub data set that cannot be read: which, why, and how to give a local copy."""
    return DataError(
        f"{_describe(dataset_id, config, split)} could not be loaded: the hub is out of reach ({reason}) and the "
        f"data set is not in the local Hugging Face cache; point evalkit at a local copy with "
        f'`--data {dataset_id}=PATH` or, in evalkit.toml, `[data] "{dataset_id}" = "PATH"` '
        f"(PATH: {local_formats(source)})")


@contextmanager
def hub_session(dataset_id: str, *, source: str, config: str | None = None,
                split: str | None = None) -> Iterator[list[str]]:
    """Around every read of one hub data set: quiet, and offline-aware.

    Online, the read goes to the hub as usual. Out of reach, a data set the local caches do not hold is one
    DataError at once (offline_error); one they do hold is read from them in `datasets`' offline mode, and the
    yielded list (notes for the run's report) says so.
    """
    access = hub_access()
    if not access.online and not in_local_cache(dataset_id):
        raise offline_error(dataset_id, source=source, config=config, split=split, reason=access.reason)
    notes: list[str] = []
    with _quiet_datasets():
        if access.online:
            yield notes
            return
        with _offline_mode():
            yield notes
    notes.append(f"{dataset_id} read from the local Hugging Face cache ({access.reason})")


def load_hub_split(dataset_id: str, config: str | None, split: str) -> Any:
    """One split of a hub data set as a `datasets.Dataset` (call inside hub_session); DataError otherwise."""
    import datasets

    try:
        return datasets.load_dataset(dataset_id, config, split=split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all mean "could not load"
        raise DataError(f"{_describe(dataset_id, config, split)} could not be loaded: "
                        f"{type(exc).__name__}: {exc}") from None


_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


def load_local_rows(path: Path, *, what: str) -> Any:
    """The rows of a local file in a hub data set's schema (JSONL, CSV or Parquet), through `datasets`' own
    builders, so a local copy is read exactly as the hub's files are."""
    import datasets

    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DataError(f"{path}: {what}: expected a .jsonl, .csv or .parquet file, got {path.suffix or 'no suffix'!r}")
    if not path.is_file():
        raise DataError(f"{what}: data file not found: {path}")
    try:
        with _quiet_datasets():
            return datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; all mean "could not read"
        raise DataError(f"{path}: {what}: could not be read as {builder}: {type(exc).__name__}: {exc}") from None


# ----------------------------------------------------------------------------------------------------------
# The data override


@dataclass(frozen=True)
class DataOverrides:
    """Local copies standing in for data sets: by hub id, plus at most one for the suite's own data set."""

    by_id: Mapping[str, Path]
    own: Path | None = None
    """`--data PATH` without an id: the copy of whatever data set the suite reads."""
    where: Mapping[str, str] | None = None
    """Where each entry was given (`--data`, the config file), for error messages."""


def parse_data_option(values: Sequence[str] | None, config_data: Mapping[str, str] | None = None,
                      config_dir: Path | None = None) -> DataOverrides:
    """The overrides of `--data ID=PATH`/`--data PATH` (relative to the working directory) over the project
    config's `[data]` table (relative to the config file's folder); the command line wins."""
    by_id: dict[str, Path] = {}
    where: dict[str, str] = {}
    for key, value in (config_data or {}).items():
        path = Path(value).expanduser()
        by_id[key] = path if path.is_absolute() or config_dir is None else config_dir / path
        where[key] = f"[data] {key!r}"
    own: Path | None = None
    for value in values or ():
        key, sep, raw = value.partition("=")
        if sep and looks_like_hub_id(key.strip()):
            by_id[key.strip()] = Path(raw.strip()).expanduser().absolute()
            where[key.strip()] = f"--data {value}"
        elif sep and not Path(value).exists():
            raise ConfigError(f"--data {value}: {key.strip()!r} is not a Hugging Face dataset id (owner/name); "
                              "give --data ID=PATH (e.g. --data cais/mmlu=medical_genetics_test.csv) or --data PATH")
        elif own is not None:
            raise ConfigError(f"--data {value}: only one --data PATH without an id (the suite's own data set); "
                              "name the others: --data ID=PATH")
        else:
            own = Path(value).expanduser().absolute()
    return DataOverrides(by_id=by_id, own=own, where=where)


def apply_overrides(suite: Any, overrides: DataOverrides) -> Any:
    """The suite (a SuiteSpec) reading the local copy the overrides give for its data set, or unchanged.

    The copy replaces `data.path` (made absolute); `data.copy_of` records what it stands for (the hub id, or the
    suite's own path). An `--data ID=PATH` for another data set than the suite's is an error (a typo would
    otherwise silently run on the hub data); `[data]` entries for other data sets are simply not used.
    """
    data = suite.data
    hub = hub_dataset(data, suite.directory)
    key = hub or data.path
    where = dict(overrides.where or {})
    if overrides.own is not None:
        local, given = overrides.own, f"--data {overrides.own}"
    elif hub is not None and hub in overrides.by_id:
        local, given = overrides.by_id[hub], where.get(hub, hub)
    else:
        stray = [w for k, w in where.items() if w.startswith("--data") and k != key]
        if stray:
            raise ConfigError(f"{stray[0]}: suite {suite.name!r} ({suite.path}) reads {key!r}, not that data set; "
                              f"give --data {key}=PATH, or --data PATH")
        return suite
    if not local.exists():
        raise DataError(f"{given}: the local copy {local} does not exist (it stands for {key!r} of suite "
                        f"{suite.name!r}; expected {local_formats(data.source)})")
    want_dir = data.source == "bsard"
    if local.is_dir() != want_dir:
        raise DataError(f"{given}: {local} is a {'folder' if local.is_dir() else 'file'}; suite {suite.name!r} "
                        f"needs {local_formats(data.source)}")
    new_data = data.model_copy(update={"path": str(local.resolve()), "copy_of": key, "data_files": None})
    return suite.model_copy(update={"data": new_data})
