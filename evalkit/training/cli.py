"""`python -m evalkit.training SUITE`: train a LoRA adapter for a suite, convert it, verify it, write its manifest."""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evalkit.training.config import LoraTrainConfig
from evalkit.training.data import Pair, news_pairs, pairs_sha256

__all__ = ["SUITES", "main", "run"]

log = logging.getLogger("evalkit.training")


def _roots() -> tuple[Path, Path]:
    """(where the bundled train splits are, where adapters and scratch files go).

    A source checkout: both are the checkout (adapters/ is committed there). An installed wheel: the splits are
    in the package's bundled folders, and the outputs go under the working directory (never into site-packages).
    """
    from evalkit.resources import BUNDLED_DIR, bundled_root

    root = bundled_root()
    if root is None:  # neither installed with its bundled folders nor a checkout: everything relative to here
        return Path.cwd(), Path.cwd()
    return root, (Path.cwd() if root.name == BUNDLED_DIR else root)


SUITES: dict[str, tuple[str, Callable[[Path], list[Pair]], tuple[str, str]]] = {
    "news": ("benchmarks/news/train.jsonl", news_pairs, ("news_related", "not_news_related")),
}
"""Suite -> (train split relative to the repo, pair builder, two labels whose first tokens differ)."""

DEFAULTS = LoraTrainConfig(rank=8, alpha=16.0, dropout=0.05, target_modules=("q_proj", "v_proj"),
                           learning_rate=1e-3, steps=160, batch_size=8, max_length=96, eval_every=20, seed=0)
"""The settings the committed adapter was trained with (docs/training.md explains the choice)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evalkit.training", description=__doc__)
    p.add_argument("suite", choices=sorted(SUITES))
    p.add_argument("--steps", type=int, default=DEFAULTS.steps)
    p.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="peak learning rate")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed)
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    p.add_argument("--rank", type=int, default=DEFAULTS.rank)
    p.add_argument("--alpha", type=float, default=DEFAULTS.alpha)
    p.add_argument("--dropout", type=float, default=DEFAULTS.dropout)
    p.add_argument("--targets", default=",".join(DEFAULTS.target_modules),
                   help="comma-separated module names (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)")
    p.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--data", type=Path, default=None, help="train split to use instead of the suite's")
    p.add_argument("--base", type=Path, default=None, help="base GGUF (default: the embedded Gemma 3 270M)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: adapters/SUITE)")
    p.add_argument("--work", type=Path, default=None,
                   help="scratch directory for the PEFT adapter (default: .evalkit-cache/training/SUITE)")
    p.add_argument("--verify", type=int, default=30, metavar="N",
                   help="compare llama.cpp with PEFT on N train and N held-out prompts (0: skip)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry; returns the exit status (1 when the llama.cpp/PEFT agreement check fails)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    config = LoraTrainConfig(
        rank=args.rank, alpha=args.alpha, dropout=args.dropout,
        target_modules=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
        learning_rate=args.lr, steps=args.steps, batch_size=args.batch_size, max_length=DEFAULTS.max_length,
        eval_every=args.eval_every, seed=args.seed, num_threads=args.threads)
    ok = run(args.suite, config, data=args.data, base_gguf=args.base, out_dir=args.out, work_dir=args.work,
             n_verify=args.verify)
    return 0 if ok else 1


def run(suite: str, config: LoraTrainConfig, *, data: Path | None = None, base_gguf: Path | None = None,
        out_dir: Path | None = None, work_dir: Path | None = None, n_verify: int = 30,
        data_details: dict[str, Any] | None = None) -> bool:
    """Train, convert to ``OUT/adapter.gguf``, verify against PEFT, write ``manifest.json`` and ``loss_curve.png``.

    Returns False when the agreement check ran and failed (the files are still written, for inspection).
    `data_details` says how the pairs were rendered (stored in the manifest's training_data).
    """
    from evalkit.embedded_model import embedded_base_gguf
    from evalkit.training.base_model import load_base
    from evalkit.training.convert import peft_dir_to_gguf
    from evalkit.training.manifest import plot_loss_curve, write_manifest
    from evalkit.training.trainer import train_lora_on

    t0 = time.perf_counter()
    split_rel, builder, choices = SUITES[suite]
    data_root, out_root = _roots()
    data = data or data_root / split_rel
    out_dir = out_dir or out_root / "adapters" / suite
    work_dir = work_dir or out_root / ".evalkit-cache" / "training" / suite
    pairs = builder(data)
    base_gguf = Path(base_gguf) if base_gguf else embedded_base_gguf()
    log.info("suite %s: %d pairs from %s; base %s", suite, len(pairs), data, base_gguf)

    base = load_base(base_gguf)
    result, model = train_lora_on(base, pairs, work_dir, config)
    t_conv = time.perf_counter()
    adapter = out_dir / "adapter.gguf"
    peft_dir_to_gguf(result.peft_dir, adapter, name=f"evalkit-{suite}-lora")
    convert_seconds = time.perf_counter() - t_conv
    total_seconds = time.perf_counter() - t0  # training pipeline only; the check below is extra

    verification = None
    ok = True
    if n_verify > 0:
        from evalkit.training.verify import check_agreement

        items = _verify_items(pairs, result.valid_indices, n_verify, config.seed)
        report = check_agreement(model, base.tokenizer, base_gguf, adapter, items, choices)
        ok = report.ok
        verification = report.model_dump(mode="json")
        verification["ok"] = ok
        verification["conclusive"] = report.conclusive
        log.info("agreement: %d/%d completions equal, base differs on %d, margin diff max %.3f mean %.3f "
                 "(base-only control max %.3f), adapter shifts margins by %.2f on average -> %s",
                 report.completions_equal, report.n, report.base_differs, report.max_abs_margin_diff,
                 report.mean_abs_margin_diff, report.max_abs_base_margin_diff, report.mean_abs_margin_shift,
                 "OK" if ok else "FAILED")

    try:
        data_source = str(Path(data).resolve().relative_to(data_root))
    except ValueError:
        data_source = str(data)
    write_manifest(out_dir / "manifest.json", suite=suite, result=result, base_gguf=base_gguf, adapter_gguf=adapter,
                   data_sha256=pairs_sha256(pairs), data_source=data_source, n_pairs=len(pairs),
                   total_seconds=total_seconds, convert_seconds=convert_seconds, verification=verification,
                   data_details=data_details)
    plot_loss_curve(result, out_dir / "loss_curve.png", title=f"{suite}: LoRA r={config.rank} on "
                    f"{'/'.join(config.target_modules)}, lr={config.learning_rate:g}, {config.steps} steps")
    log.info("wrote %s (%.0f s in all)", out_dir, time.perf_counter() - t0)
    return ok


def _verify_items(pairs: Sequence[Pair], valid_indices: Sequence[int], n: int, seed: int) -> list[tuple[str, str]]:
    """n seeded train prompts and n held-out prompts, tagged with their split."""
    rng = random.Random(seed + 1)
    valid = set(valid_indices)
    train = [i for i in range(len(pairs)) if i not in valid]
    picks = [(i, "train") for i in sorted(rng.sample(train, min(n, len(train))))]
    picks += [(i, "valid") for i in sorted(rng.sample(sorted(valid), min(n, len(valid))))]
    return [(pairs[i][0], split) for i, split in picks]
