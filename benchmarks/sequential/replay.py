"""Replay a finished run as if it had been sequential: where would `--until-decided` have stopped, with which
decision, and how many items and model calls would it have saved?

    .venv/bin/python benchmarks/sequential/replay.py RUN_DIR [--batch 20] [--seed 0] [--margin M]

The stored per-sample scores (results.jsonl, ModelScore.value) of each model against the run's reference are fed
to evalkit.sequential.SequentialMonitor in the seeded draw order, one batch per look. Values must be 0/1 or
within --low/--high. This calls no model: it shows what the statistics would have done on real outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalkit.sequential import ComparisonSpec, SequentialMonitor, SequentialPlan, batches, draw_order
from evalkit.store import RunStore


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--margin", type=float)
    parser.add_argument("--low", type=float, default=0.0)
    parser.add_argument("--high", type=float, default=1.0)
    parser.add_argument("--metric", default="accuracy", help="name of the per-item metric (ModelScore.value)")
    args = parser.parse_args(argv)

    store = RunStore(args.run_dir)
    info = store.read_info()
    models = [m["name"] for m in info.models]
    results = {r.sample_id: r for r in store.read_results()}
    comparisons = tuple(ComparisonSpec(key=f"{m}-{info.reference}/{args.metric}", model=m, reference=info.reference,
                                       metric=args.metric, value_low=args.low, value_high=args.high)
                        for m in models if m != info.reference)
    plan = SequentialPlan(comparisons=comparisons, batch_size=args.batch, seed=args.seed, margin=args.margin,
                          items_total=len(results))
    monitor = SequentialMonitor(plan)
    for ids in batches(draw_order(list(results), plan.seed), plan.batch_size):
        if monitor.update_results([results[i] for i in ids]):
            break
    full = SequentialMonitor(plan)
    for ids in batches(draw_order(list(results), plan.seed), plan.batch_size):
        full.update_results([results[i] for i in ids])
    outcome = monitor.result()
    calls_per_item = len(models)
    print(f"run {args.run_dir.name}: {len(results)} items, models {', '.join(models)} (reference {info.reference}), "
          f"batch {args.batch}, seed {args.seed}, alpha {plan.alpha}, {outcome.method}")
    for c in outcome.comparisons:
        d = c.decision
        last = c.sequence.looks[-1]
        whole = full.state(c.spec.key).looks[-1]
        print(f"- {c.spec.key}: {d.kind} at {d.drawn} items" if d.decided else f"- {c.spec.key}: undecided",
              f"(interval [{last.low:+.3f}, {last.high:+.3f}], mean {last.estimate:+.3f}, {c.sequence.skipped} "
              f"without a value); all {whole.drawn} items: mean {whole.estimate:+.3f}, anytime interval "
              f"[{whole.low:+.3f}, {whole.high:+.3f}]")
    print(f"stopped: {outcome.stopped} after {outcome.items_drawn} of {outcome.items_total} items; "
          f"saved {outcome.items_saved} items = {outcome.items_saved * calls_per_item} model calls "
          f"({calls_per_item} per item)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
