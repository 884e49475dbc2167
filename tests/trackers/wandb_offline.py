"""Reading back a W&B offline run with the wandb package's own record schema.

wandb 0.31 has no Python reader for offline `.wandb` files (its reader lives in the Go `wandb-core` binary,
which `wandb sync` drives to upload). The file is a LevelDB-style log: a 7-byte header (`:W&B`, magic 0xBEE1,
version 0), then 32 KiB blocks of records, each `crc32 (4) | length (2, little-endian) | type (1) | data`,
with type 1 a whole record and 2/3/4 the first/middle/last pieces of one that spans blocks. Each record's
data is a `wandb_internal_pb2.Record` protobuf, parsed here with wandb's own generated class.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

_HEADER = 7
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Every record of a `.wandb` file (checksums are not verified: a damaged record fails to parse)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<HB", data[4:7]) == (0xBEE1, 0), "not a W&B transaction log"
    records, pending, pos = [], b"", _HEADER
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left  # block trailer padding
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        body = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0 and length == 0:
            continue
        if kind == _FULL:
            pending = body
        elif kind == _FIRST:
            pending = body
            continue
        elif kind == _MIDDLE:
            pending += body
            continue
        elif kind == _LAST:
            pending += body
        record = wandb_internal_pb2.Record()
        record.ParseFromString(pending)
        records.append(record)
        pending = b""
    return records


@dataclass
class OfflineRun:
    """What an offline run holds: config, summary, history rows, the artifact's files, the run's name/tags."""

    name: str = ""
    project: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[tuple[str, str, list[str]]] = field(default_factory=list)
    """(name, type, file paths in its manifest)."""
    exit_code: int | None = None


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def read_offline_run(run_folder: Path) -> OfflineRun:
    """The run in a `wandb/offline-run-*` folder, from its `.wandb` file."""
    (file,) = run_folder.glob("run-*.wandb")
    out = OfflineRun()
    for rec in read_records(file):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out.name, out.project, out.tags = rec.run.display_name, rec.run.project, list(rec.run.tags)
            for item in rec.run.config.update:
                out.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                out.config[_key(item)] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                out.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            out.history.append({_key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "artifact":
            out.artifacts.append((rec.artifact.name, rec.artifact.type,
                                  [e.path for e in rec.artifact.manifest.contents]))
        elif kind == "exit":
            out.exit_code = rec.exit.exit_code
    return out
