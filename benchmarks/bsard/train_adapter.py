"""Train the bsard demo LoRA adapter with evalkit's trainer (evalkit.training), on prompts the suite renders.

Run it in the training environment (torch, transformers, peft: the `train` extra), from the repository root:

    python benchmarks/bsard/train_adapter.py [--steps N] [--lr LR] [--threads T] [--verify N]

Training pairs are (the suite's `ft` prompt for a training question, its reference Markdown answer), rendered
with evalkit.suite.load_suite and evalkit.prompts.render_prompt: the adapter is trained on exactly the text it
is evaluated on, distractor articles included (the suite's `data.options.distractors`). With `--variants K`,
each training question appears K times, with the distractors and context order of the suite's seed, then of
seeds seed+1 ... seed+K-1: the same answer after different other articles in different places, so what the
adapter can learn is which articles govern the question, not where they sit. The run itself (train, convert to GGUF, check llama.cpp against PEFT, write the manifest and
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
# The committed adapter's settings (adapters/bsard/manifest.json; docs/bsard.md explains the choice).
STEPS = 150
LEARNING_RATE = 1e-3
WARMUP = 8
BATCH_SIZE = 2
MAX_LENGTH = 1024
VARIANTS = 2


def suite_pairs(path: str | Path, variants: int = 1) -> list[tuple[str, str]]:
    """(prompt, completion) pairs: the `ft` profile's prompt for each training question, and its answer.

    Variant k renders every question with the suite's distractor seed + k (variant 0 is what the suite shows);
    the pairs are grouped by variant, questions in file order.
    """
    from evalkit.loaders import load_samples
    from evalkit.prompts import render_prompt
    from evalkit.suite import load_suite

    suite = load_suite(str(SUITE_FILE))
    profile, spec = suite.prompt_for("ft", None)
    where = f"{suite.path}: prompts.{profile}"
    seed = int(suite.data.options.get("seed", 0))
    pairs: list[tuple[str, str]] = []
    for k in range(variants):
        data = suite.data.model_copy(update={"options": {**suite.data.options, "seed": seed + k}})
        samples = load_samples(data, suite.directory, split_path=str(Path(path).resolve()))
        missing = [s.id for s in samples if not s.target]
        if missing:
            raise ValueError(f"{path}: training questions without an answer: {', '.join(missing)}")
        pairs += [(render_prompt(spec, s, {}, where=where).text or "", s.target or "") for s in samples]
    return pairs


def rendering(variants: int) -> dict[str, object]:
    """How the training pairs were rendered, for the manifest: the prompt profile, distractors and seeds."""
    from evalkit.suite import load_suite

    suite = load_suite(str(SUITE_FILE))
    seed = int(suite.data.options.get("seed", 0))
    return {"prompt_profile": "ft", "distractors": int(suite.data.options.get("distractors", 0)),
            "variants": variants, "distractor_seeds": [seed + k for k in range(variants)],
            "rendered_by": "benchmarks/bsard/train_adapter.py:suite_pairs"}


def main(argv: list[str] | None = None) -> int:
    """Parse options, register the suite with the trainer and run it; returns the exit status."""
    from evalkit.training import cli
    from evalkit.training.config import LoraTrainConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults: the committed adapter's settings (docs/bsard.md explains them).
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--lr", type=float, default=LEARNING_RATE)
    p.add_argument("--warmup", type=int, default=WARMUP)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--max-length", type=int, default=MAX_LENGTH)
    p.add_argument("--variants", type=int, default=VARIANTS,
                   help="renderings of each training question with different distractors (default %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verify", type=int, default=8, metavar="N")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: adapters/bsard)")
    p.add_argument("--work", type=Path, default=None, help="scratch directory for the PEFT adapter")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    variants = args.variants
    cli.SUITES["bsard"] = (TRAIN_SPLIT, lambda path: suite_pairs(path, variants), CHOICES)
    # No validation split: the trainer stratifies it by completion, and variants share their answer, so a
    # held-out variant would have its answer in the training set. The test split is the check.
    config = LoraTrainConfig(rank=args.rank, alpha=2.0 * args.rank, dropout=0.05, target_modules=("q_proj", "v_proj"),
                             learning_rate=args.lr, warmup_steps=args.warmup, steps=args.steps, batch_size=args.batch_size,
                             max_length=args.max_length, valid_fraction=0.0, eval_every=max(1, args.steps // 4),
                             seed=args.seed, num_threads=args.threads)
    ok = cli.run("bsard", config, n_verify=args.verify, out_dir=args.out, work_dir=args.work,
                 data_details=rendering(variants))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
