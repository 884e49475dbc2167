"""Train the mcq demo LoRA adapter with evalkit's trainer (evalkit.training), on prompts the suite renders.

Run it in the training environment (torch, transformers, peft: the `train` extra), from the repository root:

    python benchmarks/mcq/train_adapter.py [--steps N] [--lr LR] [--threads T] [--verify N]

Training pairs are (the suite's `ft` prompt for a training question, " " + its answer letter), rendered with
evalkit.suite.load_suite, the multiple_choice task's prompt variables and evalkit.prompts.render_prompt: the
adapter is trained on exactly the text it is evaluated on. Each question also appears once more with its options
rotated (the answer letter moving with them), so the adapter learns to read the options rather than a letter
prior. The run itself (train, convert to GGUF, check llama.cpp against PEFT, write the manifest and loss curve to
adapters/mcq/) is evalkit.training.cli.run, the pipeline of the other demo adapters. The defaults are the
settings of the committed adapter (60 steps of 4 pairs, about 11 minutes with the agreement check on two busy
cores).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE_FILE = REPO / "benchmarks" / "mcq" / "suite.yaml"
TRAIN_SPLIT = "benchmarks/mcq/train.jsonl"
# Two completions whose first tokens differ, for the llama.cpp/PEFT margin check.
CHOICES = (" A", " B")


def _rotated(sample, k: int):
    """The sample with its options rotated by k places and its target letter moved along."""
    options = list(sample.fields["options"])
    n = len(options)
    target = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(sample.target)
    rotated = options[k:] + options[:k]
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(target - k) % n]
    return sample.model_copy(update={"fields": {**sample.fields, "options": rotated}, "target": letter})


def suite_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) pairs: the `ft` profile's prompt for each training question (and one rotation)."""
    from evalkit.loaders import load_samples
    from evalkit.prompts import render_prompt
    from evalkit.suite import load_suite
    from evalkit.tasks import create_task

    suite = load_suite(str(SUITE_FILE))
    task = create_task(suite.task, suite.task_args, suite.path)
    profile, spec = suite.prompt_for("ft", None)
    where = f"{suite.path}: prompts.{profile}"
    samples = load_samples(suite.data, suite.directory, split_path=str(Path(path).resolve()))
    pairs = []
    for i, sample in enumerate(samples):
        for variant in (sample, _rotated(sample, 1 + i % 3)):
            prompt = render_prompt(spec, variant, task.prompt_vars(variant), where=where).text or ""
            pairs.append((prompt, " " + (variant.target or "")))
    return pairs


def main(argv: list[str] | None = None) -> int:
    """Parse options, register the suite with the trainer and run it; returns the exit status."""
    from evalkit.training import cli
    from evalkit.training.config import LoraTrainConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verify", type=int, default=4, metavar="N")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    cli.SUITES["mcq"] = (TRAIN_SPLIT, suite_pairs, CHOICES)
    config = LoraTrainConfig(rank=args.rank, alpha=2.0 * args.rank, dropout=0.05, target_modules=("q_proj", "v_proj"),
                             learning_rate=args.lr, steps=args.steps, batch_size=args.batch_size,
                             max_length=args.max_length, eval_every=max(1, args.steps // 5), seed=args.seed,
                             num_threads=args.threads)
    ok = cli.run("mcq", config, n_verify=args.verify)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
