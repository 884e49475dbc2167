"""What travels with a model to the cluster: its spec and the files the spec names (adapters, predictions).

The driver reads every file a provider names in its spec (`Provider.path_fields`: `adapter`, `path`, a
`.gguf` model path) and ships the bytes of those up to SHIP_LIMIT_BYTES through Ray's object store, once per
model; the worker writes them into a content-addressed folder of its node and points the spec there. Bigger
files (multi-GB weights) are not copied: they must be at the same path on every node (a shared volume or the
container image), checked by size before any call. Secrets never travel: the spec names only the variable
holding an API key, which each worker reads from its own environment.

Why not Ray's `runtime_env` working_dir: it ships a whole folder (adapters often live outside it), needs the
runtime-env agent of `ray[default]` on the cluster, and would not say which file a node lacks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.model_spec import ModelSpec
from evalkit.providers import provider_class

__all__ = ["SHIP_LIMIT_BYTES", "PackedSpec", "ShippedFile", "pack_spec", "unpack_spec"]

SHIP_LIMIT_BYTES = 64 * 1024 * 1024
"""Files up to this size (LoRA adapters, prediction files) are copied to the workers; bigger ones are not."""


@dataclass(frozen=True)
class ShippedFile:
    """One file a spec field names, as the driver saw it."""

    field: str
    path: str
    """The path on the driver."""
    size: int
    sha256: str | None
    data: bytes | None
    """The content, for files up to SHIP_LIMIT_BYTES; None: the file must already be on every node."""


@dataclass(frozen=True)
class PackedSpec:
    """A model's spec plus its files, ready to send to a worker."""

    spec: ModelSpec
    files: tuple[ShippedFile, ...]

    @property
    def shipped_bytes(self) -> int:
        """Bytes of file content travelling with the spec."""
        return sum(len(f.data) for f in self.files if f.data is not None)


def pack_spec(spec: ModelSpec) -> PackedSpec:
    """Read the files `spec` names (driver side); the provider has already checked they exist."""
    values = spec.model_dump()
    files = []
    for field in provider_class(spec.provider, where=f"model '{spec.name}'").path_fields(spec.model):
        value = values.get(field)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            continue  # not a file for this provider (e.g. a model id in `model`): nothing to ship
        size = path.stat().st_size
        if size <= SHIP_LIMIT_BYTES:
            data = path.read_bytes()
            files.append(ShippedFile(field, str(path), size, hashlib.sha256(data).hexdigest(), data))
        else:
            files.append(ShippedFile(field, str(path), size, None, None))
    return PackedSpec(spec=spec, files=tuple(files))


def unpack_spec(packed: PackedSpec, root: Path, *, node: str) -> ModelSpec:
    """The spec with its files on this node (worker side): shipped files written under `root` by content,
    big files checked at their driver path; ConfigError naming the file and `node` when one is missing."""
    updates: dict[str, str] = {}
    for f in packed.files:
        if f.data is not None and f.sha256 is not None:
            target = root / f.sha256[:32] / Path(f.path).name
            if not (target.is_file() and target.stat().st_size == f.size):
                target.parent.mkdir(parents=True, exist_ok=True)
                # Write beside and rename: two actors of one node unpacking the same adapter never see half a file.
                partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
                partial.write_bytes(f.data)
                os.replace(partial, target)
            updates[f.field] = str(target)
            continue
        local = Path(f.path)
        if not local.is_file() or local.stat().st_size != f.size:
            found = f"{local.stat().st_size} bytes" if local.is_file() else "no such file"
            raise ConfigError(
                f"model '{packed.spec.name}': {f.field} {f.path} ({f.size} bytes on the driver) is not on Ray node "
                f"{node} ({found}); files over {SHIP_LIMIT_BYTES // (1024 * 1024)} MiB are not copied to the "
                f"cluster: put it at the same path on every node (a shared volume or the image)")
    return packed.spec.model_copy(update=updates) if updates else packed.spec
