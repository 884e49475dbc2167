"""Anytime-valid sequential evaluation: stop drawing items once every paired comparison is decided, and plan
how many items a decision takes.

    from evalkit.sequential import ComparisonSpec, SequentialMonitor, SequentialPlan, batches, draw_order
    plan = SequentialPlan(comparisons=(ComparisonSpec(key="ft-base/accuracy", model="ft", reference="base",
                                                      metric="accuracy"),),
                          batch_size=50, seed=0, items_total=len(sample_ids))
    monitor = SequentialMonitor(plan)
    for ids in batches(draw_order(sample_ids, plan.seed), plan.batch_size):
        if monitor.update_results(score(ids)):      # True: all decided, or the items ran out
            break
    record = monitor.result()                         # SequentialResult, for results.json and the report

Confidence sequences: evalkit.sequential._confseq; decision rules: _decision; item order: _order; records:
_records; the stateful monitor: _monitor; the schedule and stop rule of `evalkit run --until-decided`: _run;
sample-size planning: _planner and _pilot; `evalkit plan`: command.
docs/sequential.md is the user guide (method, assumptions, when not to use it).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public names live in private modules and are imported on first use: `evalkit --help` imports this package
# (through its command module) and must not pay for numpy, scipy and statsmodels.
_LAZY = {
    "METHOD": "_confseq", "paired_difference_cs": "_confseq", "unit_interval_cs": "_confseq",
    "KIND_ABOVE": "_decision", "KIND_BELOW": "_decision", "KIND_EQUIVALENT": "_decision",
    "KIND_UNDECIDED": "_decision", "decide": "_decision", "first_decision": "_decision",
    "SequentialMonitor": "_monitor", "score_difference": "_monitor",
    "batches": "_order", "draw_order": "_order", "order_key": "_order",
    "PilotEstimate": "_pilot", "pilot_estimates": "_pilot",
    "mcnemar_mdd": "_planner", "mcnemar_power": "_planner", "mcnemar_sample_size": "_planner",
    "paired_t_mdd": "_planner", "paired_t_power": "_planner", "paired_t_sample_size": "_planner",
    "BoundVerdict": "_records", "ComparisonOutcome": "_records", "ComparisonSpec": "_records",
    "Decision": "_records", "DecisionKind": "_records", "Look": "_records", "SequenceState": "_records",
    "SequentialPlan": "_records", "SequentialResult": "_records", "Side": "_records", "StopReason": "_records",
    "Target": "_records",
    "DEFAULT_LOOK_EVERY": "_run", "SequentialStop": "_run", "comparison_specs": "_run",
    "until_decided_schedule": "_run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"evalkit.sequential.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'evalkit.sequential' has no attribute {name!r}")


__all__ = [
    "BoundVerdict", "ComparisonOutcome", "ComparisonSpec", "DEFAULT_LOOK_EVERY", "Decision", "DecisionKind",
    "KIND_ABOVE", "SequentialStop", "comparison_specs", "until_decided_schedule",
    "KIND_BELOW", "KIND_EQUIVALENT", "KIND_UNDECIDED", "Look", "METHOD", "PilotEstimate", "SequenceState",
    "SequentialMonitor", "SequentialPlan", "SequentialResult", "Side", "StopReason", "Target", "batches",
    "decide", "draw_order", "first_decision", "mcnemar_mdd", "mcnemar_power", "mcnemar_sample_size",
    "order_key", "paired_difference_cs", "paired_t_mdd", "paired_t_power", "paired_t_sample_size",
    "pilot_estimates", "score_difference", "unit_interval_cs",
]
