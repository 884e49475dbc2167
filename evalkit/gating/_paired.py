"""Paired differences between two models on one metric, with the 95% CI a gate decides on.

Sources, first that applies:

1. the comparison the run already reports (the pair is a model and the run's reference);
2. the task's own comparison, recomputed from the stored per-sample scores of just these two models
   (any pair in a run, or a model against its namesake in a baseline run, paired by sample id);
3. a paired bootstrap over the stored generations for operational metrics (latency, tokens, cost);
4. the difference of the two reported values, without a CI (the gate then decides on the point estimate
   and says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.errors import ConfigError
from evalkit.operational import OPERATIONAL_METRICS, call_values
from evalkit.records import Generation, ModelScore, Sample, SampleResult
from evalkit.stats import TOO_FEW_ITEMS, has_enough_items, paired_bootstrap
from evalkit.tasks import SummaryContext, create_task

from evalkit.gating._data import RunData

__all__ = ["Delta", "PairedDeltas", "Side"]

N_RESAMPLES = 2000


@dataclass(frozen=True)
class Side:
    """One model in one run (the gated run, or the baseline run)."""

    data: RunData
    model: str
    label: str
    """How rules write it: `ft`, or `ft@baseline`."""


@dataclass(frozen=True)
class Delta:
    """`a - b` on one metric, with its CI when one could be computed."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    method: str = ""
    """How it was obtained, shown in reports (e.g. `reported comparison, mcnemar-exact`)."""
    note: str = ""

    @property
    def has_ci(self) -> bool:
        """True when both CI bounds are known."""
        return self.ci_low is not None and self.ci_high is not None

    def negated(self) -> Delta:
        """`b - a`."""
        return Delta(value=None if self.value is None else -self.value,
                     ci_low=None if self.ci_high is None else -self.ci_high,
                     ci_high=None if self.ci_low is None else -self.ci_low,
                     n=self.n, method=self.method, note=self.note)


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) else None


def _from_comparison(c: dict, method: str) -> Delta:
    test = f", {c['test']}" if c.get("test") else ""
    return Delta(value=_num(c.get("delta")), ci_low=_num(c.get("ci_low")), ci_high=_num(c.get("ci_high")),
                 n=int(c.get("n") or 0), method=f"{method}{test}", note=str(c.get("note") or ""))


# Operational metrics computable per call (evalkit.operational's table: a per-call quantity and a statistic).
_OPERATIONAL = {name: m for name, m in OPERATIONAL_METRICS.items() if m.per_call is not None}


class PairedDeltas:
    """Computes and memoises paired differences for one gate evaluation."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._task_cache: dict[tuple[str, str, str, str], dict[str, Delta]] = {}

    def delta(self, a: Side, b: Side, metric: str) -> Delta:
        """`a - b` on `metric`, from the best available source (see the module docstring)."""
        if a.data is b.data:
            # A run that stopped when decided: its comparisons are read on the anytime-valid interval, the one
            # that stays valid although the run looked at the data after every batch (a fixed-n CI does not).
            sequential = _sequential_delta(a.data, a.model, b.model, metric)
            if sequential is not None:
                return sequential
            ref = a.data.reference
            if b.model == ref and (c := a.data.comparison(a.model, metric)) and _num(c.get("ci_low")) is not None:
                return _from_comparison(c, "reported comparison")
            if a.model == ref and (c := a.data.comparison(b.model, metric)) and _num(c.get("ci_low")) is not None:
                return _from_comparison(c, "reported comparison").negated()
        task = self._task_deltas(a, b).get(metric)
        if task is not None and (task.has_ci or task.note == TOO_FEW_ITEMS):
            return task
        if metric in _OPERATIONAL:
            return self._operational(a, b, metric)
        return self._point(a, b, metric, task)

    # --- 2. the task's own comparison on the pair -------------------------------------------------------

    def _task_deltas(self, a: Side, b: Side) -> dict[str, Delta]:
        key = (str(a.data.path), a.label, str(b.data.path), b.label)
        if key not in self._task_cache:
            self._task_cache[key] = self._compute_task_deltas(a, b)
        return self._task_cache[key]

    def _compute_task_deltas(self, a: Side, b: Side) -> dict[str, Delta]:
        suite_a, suite_b = a.data.suite, b.data.suite
        if (suite_a.task, suite_a.task_args) != (suite_b.task, suite_b.task_args):
            raise ConfigError(f"run {b.data.path} ran task '{suite_b.task}' with {suite_b.task_args}, but run "
                              f"{a.data.path} ran '{suite_a.task}' with {suite_a.task_args}: their metrics "
                              "are not comparable")
        samples, results, note = _paired_results(a, b)
        if not samples:
            return {}
        task = create_task(suite_a.task, suite_a.task_args, suite_a.path)
        summary = task.summarize(samples, results, SummaryContext(models=(a.label, b.label), reference=b.label,
                                                                  seed=self.seed, n_bootstrap=N_RESAMPLES))
        out = {}
        for c in summary.comparisons:
            if c.model == a.label and c.reference == b.label:
                test = f", {c.test}" if c.test else ""
                out[c.metric] = Delta(value=c.delta, ci_low=c.ci_low, ci_high=c.ci_high, n=c.n,
                                      method=f"task comparison recomputed on paired items{test}",
                                      note="; ".join(x for x in (c.note, note) if x))
        return out

    # --- 3. operational metrics from generations ---------------------------------------------------------

    def _operational(self, a: Side, b: Side, metric: str) -> Delta:
        field, stat = _OPERATIONAL[metric].per_call or "", _OPERATIONAL[metric].statistic
        assert stat is not None
        ga, gb = _generations(a), _generations(b)
        xs, ys = [], []
        for key in sorted(ga.keys() & gb.keys()):
            va, vb = call_values(ga[key])[field], call_values(gb[key])[field]
            if ga[key].ok and gb[key].ok and va is not None and vb is not None:
                xs.append(va)
                ys.append(vb)
        n = len(xs)
        method = "paired bootstrap over calls"
        if n == 0:
            return Delta(value=None, n=0, method=method, note="no paired successful calls with this value")
        x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

        def diff(p: np.ndarray, q: np.ndarray) -> np.ndarray:
            return stat(p) - stat(q)

        point = float(diff(x[np.newaxis, :], y[np.newaxis, :])[0])
        if not has_enough_items(n):
            return Delta(value=point, n=n, method=method, note=TOO_FEW_ITEMS)
        r = paired_bootstrap(diff, x, y, n_resamples=N_RESAMPLES, seed=self.seed, vectorized=True)
        return Delta(value=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, n=n, method=method)

    # --- 4. the reported values ------------------------------------------------------------------------------

    @staticmethod
    def _point(a: Side, b: Side, metric: str, task: Delta | None) -> Delta:
        va = _num((a.data.metric(a.model, metric) or {}).get("value"))
        vb = _num((b.data.metric(b.model, metric) or {}).get("value"))
        note = task.note if task is not None and task.note else ""
        if va is None or vb is None:
            return Delta(value=None, method="reported values", note=note or "a value is unknown (null)")
        return Delta(value=va - vb, method="reported values (no per-item CI for this metric)", note=note)


def _sequential_delta(data: RunData, model: str, other: str, metric: str) -> Delta | None:
    """`model - other` on `metric` from the last look of a `--until-decided` run's confidence sequence, or None
    when the run has no sequence for that pair and metric."""
    seq = data.sequential
    if seq is None:
        return None
    for outcome in seq.get("comparisons") or ():
        spec = outcome.get("spec") or {}
        looks = (outcome.get("sequence") or {}).get("looks") or ()
        pair = (spec.get("model"), spec.get("reference"))
        if spec.get("metric") != metric or not looks or pair not in ((model, other), (other, model)):
            continue
        last = looks[-1]
        delta = Delta(value=_num(last.get("estimate")), ci_low=_num(last.get("low")), ci_high=_num(last.get("high")),
                      n=int(last.get("n") or 0),
                      method=f"anytime-valid confidence sequence ({seq.get('items_drawn')} of "
                             f"{seq.get('items_total')} items drawn, {seq.get('stopped')})")
        return delta if pair == (model, other) else delta.negated()
    return None


def _generations(side: Side) -> dict[tuple[str, int], Generation]:
    return {(g.sample_id, g.attempt): g for g in side.data.run.generations if g.model == side.model}


def _paired_results(a: Side, b: Side) -> tuple[list[Sample], list[SampleResult], str]:
    """Samples both sides scored, with the two sides' scores under their labels (paired by sample id)."""
    samples_a = {s.id: s for s in a.data.run.samples}
    samples_b = {s.id: s for s in b.data.run.samples}
    scores_a = {r.sample_id: r.scores.get(a.model) for r in a.data.run.results}
    scores_b = {r.sample_id: r.scores.get(b.model) for r in b.data.run.results}
    samples, results, changed = [], [], 0
    for sid, sample in samples_a.items():
        sa, sb = scores_a.get(sid), scores_b.get(sid)
        if sa is None or sb is None:
            continue
        other = samples_b.get(sid)
        if other is None or (other.input, other.target) != (sample.input, sample.target):
            changed += 1  # the same id with another question is not a pair
            continue
        samples.append(sample)
        scores: dict[str, ModelScore] = {a.label: sa, b.label: sb}
        results.append(SampleResult(sample_id=sid, scores=scores))
    note = f"{changed} item(s) whose input or target differ between the runs were not paired" if changed else ""
    return samples, results, note
