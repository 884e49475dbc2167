"""Train the bsard demo LoRA adapter with evalkit's trainer (evalkit.training), on prompts the suite renders.

Run it in the training environment (torch, transformers, peft: the `train` extra), from the repository root:

    python benchmarks/bsard/train_adapter.py [--steps N] [--lr LR] [--threads T] [--verify N]

Training pairs are (the suite's `ft` prompt for a training question, its reference Markdown answer), rendered
with evalkit.suite.load_suite and evalkit.prompts.render_prompt: the adapter is trained on exactly the text it
is evaluated on. The run itself (train, convert to GGUF, check llama.cpp against PEFT, write the manifest and
loss curve to adapters/bsard/) is evalkit.training.cli.run, the same pipeline as the news adapter; this script
only registers the suite's pair builder and its longer sequence length.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE_FILE = REPO / "benchmarks" / "bsard" / "suite.yaml"
TRAIN_SPLIT = "benchmarks/bsard/questions_train.csv"
# Two completions whose first tokens differ, for the llama.cpp/PEFT margin check: every answer opens with the
# heading, so its first token is the one the adapter must learn; "Oui" is a plausible base-model opening.
CHOICES = ("## Réponse", "Oui")


def suite_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(prompt, completion) pairs: the `ft` profile's prompt for each training question, and its answer."""
    from evalkit.loaders import load_samples
    from evalkit.prompts import render_prompt
    from evalkit.suite import load_suite

    suite = load_suite(str(SUITE_FILE))
    profile, spec = suite.prompt_for("ft", None)
    samples = load_samples(suite.data, suite.directory, split_path=str(Path(path).resolve()))
    missing = [s.id for s in samples if not s.target]
    if missing:
        raise ValueError(f"{path}: training questions without an answer: {', '.join(missing)}")
    where = f"{suite.path}: prompts.{profile}"
    return [(render_prompt(spec, s, {}, where=where).text or "", s.target or "") for s in samples]


def main(argv: list[str] | None = None) -> int:
    """Parse options, register the suite with the trainer and run it; returns the exit status."""
    from evalkit.training import cli
    from evalkit.training.config import LoraTrainConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults: the committed adapter's settings. Pairs are long (~300 tokens, vs ~20 for news), so a step of 2
    # costs minutes of two shared CPU cores; 20 steps (40 pairs, a third of the split) keep the run short, and a
    # high peak rate with a short warm-up lets so few steps teach the answer format (headings, cited articles).
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verify", type=int, default=8, metavar="N")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    cli.SUITES["bsard"] = (TRAIN_SPLIT, suite_pairs, CHOICES)
    config = LoraTrainConfig(rank=args.rank, alpha=2.0 * args.rank, dropout=0.05, target_modules=("q_proj", "v_proj"),
                             learning_rate=args.lr, warmup_steps=args.warmup, steps=args.steps, batch_size=args.batch_size,
                             max_length=args.max_length, eval_every=max(1, args.steps // 4), seed=args.seed,
                             num_threads=args.threads)
    ok = cli.run("bsard", config, n_verify=args.verify)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
