"""The adapter manifest (`adapters/<suite>/manifest.json`) and its loss-curve chart.

The manifest says exactly what was trained on what: base file and hash, training-data hash, hyperparameters,
the loss curve, timings, the adapter's hash and size, and library versions, so a reader can tell whether a
rerun reproduced it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from evalkit.training.config import TrainResult

__all__ = ["MANIFEST_KEYS", "file_sha256", "library_versions", "plot_loss_curve", "write_manifest"]

MANIFEST_KEYS = (
    "schema", "suite", "created_utc", "base_model", "training_data", "hyperparameters", "seed", "steps",
    "batch_size", "trainable_parameters", "final_train_loss", "final_valid_loss", "loss_curve",
    "timing_seconds", "adapter", "libraries", "machine", "verification",
)
"""Top-level keys of every manifest, in order (verification is null when the check was skipped)."""

_LIBRARIES = ("torch", "transformers", "peft", "gguf", "safetensors", "llama-cpp-python", "numpy")


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file, streamed."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape the adapter (None when absent)."""
    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_manifest(path: str | Path, *, suite: str, result: TrainResult, base_gguf: str | Path,
                   adapter_gguf: str | Path,
                   data_sha256: str, data_source: str, n_pairs: int, total_seconds: float,
                   convert_seconds: float, verification: dict[str, Any] | None = None,
                   data_details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the manifest JSON (sorted within sections, stable across reruns but for times) and return it.

    Paths are stored relative to the manifest where possible, the base model by file name only: its hash,
    not its location, identifies it. `data_details` (how the pairs were rendered, e.g. distractors and variants)
    goes under `training_data.details`.
    """
    path = Path(path)
    base_gguf, adapter_gguf = Path(base_gguf), Path(adapter_gguf)
    cfg = result.config
    manifest: dict[str, Any] = {
        "schema": "evalkit.adapter-manifest/1",
        "suite": suite,
        "created_utc": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "base_model": {"file": base_gguf.name, "sha256": file_sha256(base_gguf),
                       "size_bytes": base_gguf.stat().st_size},
        "training_data": {"source": data_source, "pairs": n_pairs, "sha256": data_sha256,
                          "sha256_of": "canonical JSON of the [prompt, completion] pairs in order",
                          "train_pairs": result.n_train, "valid_pairs": result.n_valid,
                          **({"details": data_details} if data_details else {})},
        "hyperparameters": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "trainable_parameters": result.trainable_parameters,
        "final_train_loss": round(result.final_train_loss, 6),
        "final_valid_loss": None if result.final_valid_loss is None else round(result.final_valid_loss, 6),
        "loss_curve": {
            "final_train_loss_is": "mean of the last 10 steps",
            "train": [[p.step, round(p.loss, 6)] for p in result.train_loss],
            "valid": [[p.step, round(p.loss, 6), p.first_token_accuracy] for p in result.valid],
            "valid_columns": ["step", "loss", "first_token_accuracy"],
        },
        "timing_seconds": {"load_base": round(result.load_seconds, 1), "train": round(result.train_seconds, 1),
                           "convert": round(convert_seconds, 2), "total": round(total_seconds, 1)},
        "adapter": {"file": _relative(adapter_gguf, path.parent), "format": "gguf-lora",
                    "sha256": file_sha256(adapter_gguf), "size_bytes": adapter_gguf.stat().st_size},
        "libraries": library_versions(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.machine(), "threads": cfg.num_threads},
        "verification": verification,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def plot_loss_curve(result: TrainResult, out_png: str | Path, title: str = "") -> Path | None:
    """A small PNG of train loss per step (and a 10-step mean) with validation loss; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on training machines
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = [p.step for p in result.train_loss]
    losses = [p.loss for p in result.train_loss]
    smooth = [sum(losses[max(0, i - 9):i + 1]) / len(losses[max(0, i - 9):i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=100)
    ax.plot(steps, losses, color="#9bb7d4", linewidth=0.8, label="train (per step)")
    ax.plot(steps, smooth, color="#1f5a96", linewidth=1.6, label="train (10-step mean)")
    if result.valid:
        ax.plot([v.step for v in result.valid], [v.loss for v in result.valid], "o-", color="#d9822b",
                linewidth=1.4, markersize=3.5, label="valid")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per completion token")
    ax.set_title(title or "LoRA training loss", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def _relative(target: Path, start: Path) -> str:
    try:
        return str(target.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(target)
