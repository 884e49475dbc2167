"""Two runs of one suite side by side: what differs in their configuration, each shared model's metrics with a
paired delta, and the items whose verdict changed.

Pairing: an item is paired when both runs hold a sample with its id, the same input and the same target, and
both models were scored on it. On the paired items the task's own summary is recomputed with the two sides as
two models (`A`, the earlier run, as the reference), so each metric gets the test the task uses within a run
(McNemar for accuracy, paired bootstrap for F1, ...); latency, tokens and cost get a paired bootstrap over the
calls (evalkit.stats). A metric the task cannot recompute across runs (a pairwise judge compares two models of
one run) is shown as the difference of the reported values, without a CI, and says so.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.analysis import data_sha256, load_judgments, load_metrics, load_runs
from evalkit.errors import ConfigError, DataError, EvalkitError
from evalkit.records import Generation, ModelScore, RunResult, Sample, SampleResult
from evalkit.stats import TOO_FEW_ITEMS, has_enough_items, paired_bootstrap
from evalkit.store import SUITE_FILE, RunStore
from evalkit.suite import SuiteSpec
from evalkit.tasks import SummaryContext, create_task
from evalkit.user_errors import unknown_name

N_RESAMPLES = 2000


@dataclass(frozen=True)
class RunSide:
    """One of the two runs."""

    path: Path
    run_id: str
    suite: str
    task: str
    status: str
    started_at: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class ConfigRow:
    """One setting of the two runs (run-wide when `model` is empty)."""

    field: str
    model: str
    a: str
    b: str

    @property
    def differs(self) -> bool:
        """True when the two runs differ on this setting."""
        return self.a != self.b


@dataclass(frozen=True)
class MetricDelta:
    """One metric of a model pair: the two values, and B - A with its CI and test where one applies."""

    metric: str
    a: float | None
    b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str
    n: int
    verdict: str
    """`significant`, `not significant`, `too few items` or `not computed` (as in results.json)."""
    method: str
    """`paired`, `paired calls` or `reported values` (unpaired, no CI)."""
    higher_is_better: bool | None
    note: str = ""


@dataclass(frozen=True)
class ChangedItem:
    """A paired item on which the model's verdict (correctness, else score) differs between the runs."""

    sample_id: str
    input: str
    target: str | None
    output_a: str | None
    output_b: str | None
    score_a: float | None
    score_b: float | None
    correct_a: bool | None
    correct_b: bool | None
    change: str
    """`fixed` (wrong in A, right in B), `broken` (the reverse), `better`/`worse` (score), `changed`."""


@dataclass(frozen=True)
class PairComparison:
    """One model of run A against one model of run B (by default the same name in both)."""

    model_a: str
    model_b: str
    n_paired: int
    n_only_a: int
    n_only_b: int
    n_mismatched: int
    """Ids present in both runs whose input or target differ: not paired."""
    metrics: tuple[MetricDelta, ...]
    changed: tuple[ChangedItem, ...]
    notes: tuple[str, ...] = ()

    def count(self, change: str) -> int:
        """How many changed items are of kind `change`."""
        return sum(1 for c in self.changed if c.change == change)


@dataclass(frozen=True)
class RunComparison:
    """The whole comparison of run B against run A."""

    a: RunSide
    b: RunSide
    config: tuple[ConfigRow, ...]
    pairs: tuple[PairComparison, ...]
    notes: tuple[str, ...] = ()


def _finite(x: object) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _verdict(delta: float | None, low: float | None, high: float | None, p: float | None, note: str) -> str:
    if TOO_FEW_ITEMS in note:
        return "too few items"
    if delta is None or (p is None and (low is None or high is None)):
        return "not computed"
    if low is not None and high is not None:
        return "significant" if low > 0 or high < 0 else "not significant"
    return "significant" if p is not None and p < 0.05 else "not significant"


class _Run:
    """One run directory, read once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not (self.path / "results.json").is_file():
            raise DataError(f"{self.path}: no results.json; only a run that reached its report can be compared "
                            f"(`evalkit report {self.path}` writes it from the stored results)")
        self.runs = load_runs(self.path)
        self.metrics = load_metrics(self.path)
        self.judgments = load_judgments(self.path)
        self.record: RunResult = RunStore(self.path).read_run()
        try:
            self.suite = SuiteSpec.model_validate(json.loads((self.path / SUITE_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path / SUITE_FILE}: not a readable suite record ({exc})") from None
        self.samples = {s.id: s for s in self.record.samples}
        self.results = {r.sample_id: r for r in self.record.results}
        self.gens: dict[tuple[str, str, int], Generation] = {(g.sample_id, g.model, g.attempt): g
                                                            for g in self.record.generations}

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.runs["model"])

    def side(self) -> RunSide:
        info = self.record.info
        return RunSide(path=self.path, run_id=info.run_id, suite=info.suite, task=info.task, status=info.status,
                       started_at=info.started_at, models=self.models)

    def reported(self, model: str) -> dict[str, tuple[float | None, bool | None]]:
        """Metric -> (value, higher_is_better) as the run's results.json reports them for `model`."""
        m = self.metrics[self.metrics["model"] == model]
        return {r.metric: (_finite(r.value), None if pd.isna(r.higher_is_better) else bool(r.higher_is_better))
                for r in m.itertuples()}


def _text(x: object) -> str:
    return "" if x is None or x is pd.NA else str(x)


def _file_sha256(path: str) -> str:
    if not path:
        return ""
    p = Path(path)
    if not p.is_file():
        return "(file not found)"
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _judges(run: _Run) -> str:
    j = run.judgments
    if j.empty:
        return ""
    keys = j[["judge_id", "judge_version", "template_sha256"]].drop_duplicates()
    return "; ".join(f"{r.judge_id} v{r.judge_version} {r.template_sha256[:12]}" for r in keys.itertuples())


def _config(a: _Run, b: _Run, pairs: Sequence[tuple[str, str]]) -> list[ConfigRow]:
    ia, ib = a.record.info, b.record.info
    rows = [
        ConfigRow("suite", "", ia.suite, ib.suite),
        ConfigRow("task", "", ia.task, ib.task),
        ConfigRow("task_args", "", json.dumps(a.suite.task_args, sort_keys=True), json.dumps(b.suite.task_args,
                                                                                            sort_keys=True)),
        ConfigRow("data_sha256", "", data_sha256(a.path), data_sha256(b.path)),
        ConfigRow("n_samples", "", str(len(a.samples)), str(len(b.samples))),
        ConfigRow("limit", "", str(ia.limit or ""), str(ib.limit or "")),
        ConfigRow("seed", "", str(ia.seed), str(ib.seed)),
        ConfigRow("generation", "", json.dumps(ia.generation_params, sort_keys=True),
                  json.dumps(ib.generation_params, sort_keys=True)),
        ConfigRow("judge", "", _judges(a), _judges(b)),
        ConfigRow("judge_model", "", str((ia.judge or {}).get("model") or ""), str((ib.judge or {}).get("model") or "")),
        ConfigRow("evalkit_version", "", ia.evalkit_version, ib.evalkit_version),
    ]
    ra, rb = a.runs.set_index("model"), b.runs.set_index("model")
    for ma, mb in pairs:
        label = ma if ma == mb else f"{ma} → {mb}"
        x, y = ra.loc[ma], rb.loc[mb]
        for field in ("provider", "model_id", "adapter", "prompt_profile", "prompt_sha256", "metadata"):
            rows.append(ConfigRow(field, label, _text(x[field]), _text(y[field])))
        # The same adapter path can hold another fine-tune: the file's content is what identifies it.
        rows.append(ConfigRow("adapter_sha256", label, _file_sha256(_text(x["adapter"])),
                              _file_sha256(_text(y["adapter"]))))
    return rows


# Operational metrics computable per call: value of one generation, and the statistic over many.
_OPERATIONAL: dict[str, tuple[Callable[[Generation], float | None], Callable[[np.ndarray], np.ndarray]]] = {
    "latency_p50_s": (lambda g: g.latency_s, lambda x: np.percentile(x, 50, axis=-1)),
    "latency_p95_s": (lambda g: g.latency_s, lambda x: np.percentile(x, 95, axis=-1)),
    "latency_mean_s": (lambda g: g.latency_s, lambda x: x.mean(axis=-1)),
    "prompt_tokens_mean": (lambda g: g.usage.prompt_tokens, lambda x: x.mean(axis=-1)),
    "completion_tokens_mean": (lambda g: g.usage.completion_tokens, lambda x: x.mean(axis=-1)),
    "cost_per_1k_usd": (lambda g: None if g.cost_usd is None else g.cost_usd * 1000.0, lambda x: x.mean(axis=-1)),
}


def _operational(a: _Run, b: _Run, ma: str, mb: str, ids: Sequence[str], metric: str, seed: int,
                 hib: bool | None) -> MetricDelta | None:
    value, stat = _OPERATIONAL[metric]
    xs, ys = [], []
    for sid in ids:
        attempt = 0
        while (ga := a.gens.get((sid, ma, attempt))) is not None and (gb := b.gens.get((sid, mb, attempt))) is not None:
            va, vb = value(ga), value(gb)
            if ga.ok and gb.ok and va is not None and vb is not None:
                xs.append(float(va))
                ys.append(float(vb))
            attempt += 1
    if not xs:
        return None
    x, y = np.asarray(xs), np.asarray(ys)
    va, vb = float(stat(x[np.newaxis, :])[0]), float(stat(y[np.newaxis, :])[0])
    if not has_enough_items(len(xs)):
        return MetricDelta(metric, va, vb, vb - va, None, None, None, "", len(xs), "too few items", "paired calls",
                           hib, TOO_FEW_ITEMS)
    r = paired_bootstrap(lambda p, q: stat(q) - stat(p), x, y, n_resamples=N_RESAMPLES, seed=seed, vectorized=True,
                         null_value=0.0)
    return MetricDelta(metric, va, vb, r.estimate, r.ci_low, r.ci_high, r.p_value, "paired-bootstrap", len(xs),
                       _verdict(r.estimate, r.ci_low, r.ci_high, r.p_value, ""), "paired calls", hib)


def _verdict_of(score: ModelScore | None) -> tuple[bool | None, float | None]:
    if score is None:
        return None, None
    return score.correct, score.value


def _change(ca: bool | None, cb: bool | None, sa: float | None, sb: float | None,
            hib: bool | None) -> str | None:
    if ca is not None or cb is not None:
        if ca == cb:
            return None
        return "fixed" if cb and not ca else "broken" if ca and not cb else "changed"
    if sa == sb:
        return None
    if sa is None or sb is None or hib is None:
        return "changed"
    return "better" if (sb > sa) == hib else "worse"


def _pair(a: _Run, b: _Run, ma: str, mb: str, seed: int) -> PairComparison:
    paired: list[str] = []
    mismatched = 0
    for sid, sample in a.samples.items():
        other = b.samples.get(sid)
        ra, rb = a.results.get(sid), b.results.get(sid)
        if other is None or ra is None or rb is None or ma not in ra.scores or mb not in rb.scores:
            continue
        if (other.input, other.target) != (sample.input, sample.target):
            mismatched += 1
            continue
        paired.append(sid)
    only_a = len(set(a.samples) - set(b.samples))
    only_b = len(set(b.samples) - set(a.samples))
    rep_a, rep_b = a.reported(ma), b.reported(mb)
    notes: list[str] = []
    deltas: dict[str, MetricDelta] = {}
    if paired:
        samples: list[Sample] = [a.samples[s] for s in paired]
        results = [SampleResult(sample_id=s, scores={"A": a.results[s].scores[ma], "B": b.results[s].scores[mb]})
                   for s in paired]
        try:
            task = create_task(a.suite.task, a.suite.task_args, a.suite.path)
            summary = task.summarize(samples, results, SummaryContext(models=("A", "B"), reference="A", seed=seed,
                                                                      n_bootstrap=N_RESAMPLES))
        except (EvalkitError, ValueError, KeyError, TypeError) as exc:
            summary = None
            notes.append(f"the task's statistics could not be recomputed across the runs ({exc}); task metrics "
                         "are differences of the reported values")
        if summary is not None:
            values = {(m, mv.name): mv for m in ("A", "B") for mv in summary.metrics.get(m, ())}
            for c in summary.comparisons:
                if c.model != "B" or c.reference != "A":
                    continue
                va, vb = values.get(("A", c.metric)), values.get(("B", c.metric))
                hib = (rep_a.get(c.metric) or rep_b.get(c.metric) or (None, None))[1]
                deltas[c.metric] = MetricDelta(
                    c.metric, _finite(va.value) if va else None, _finite(vb.value) if vb else None,
                    _finite(c.delta), _finite(c.ci_low), _finite(c.ci_high), _finite(c.p_value), c.test, c.n,
                    _verdict(_finite(c.delta), _finite(c.ci_low), _finite(c.ci_high), _finite(c.p_value), c.note),
                    "paired", hib, c.note)
        for metric in _OPERATIONAL:
            if metric in rep_a or metric in rep_b:
                d = _operational(a, b, ma, mb, paired, metric, seed, (rep_a.get(metric) or rep_b.get(metric))[1])
                if d is not None:
                    deltas[metric] = d
    else:
        notes.append("the runs share no sample (same id, input and target): every delta is the difference of the "
                     "reported values, without a CI")
    ordered: list[MetricDelta] = []
    for metric in [*rep_a, *[m for m in rep_b if m not in rep_a]]:
        if metric in deltas:
            ordered.append(deltas.pop(metric))
            continue
        (va, hib), (vb, hib_b) = rep_a.get(metric, (None, None)), rep_b.get(metric, (None, None))
        delta = None if va is None or vb is None else vb - va
        ordered.append(MetricDelta(metric, va, vb, delta, None, None, None, "", 0, "not computed", "reported values",
                                   hib if hib is not None else hib_b))
    ordered.extend(deltas.values())  # comparisons the task makes on metrics it does not report (e.g. *_delta_s)

    hib_primary = next((d.higher_is_better for d in ordered if d.method == "paired"), True)
    changed = []
    for sid in paired:
        ca, sa = _verdict_of(a.results[sid].scores.get(ma))
        cb, sb = _verdict_of(b.results[sid].scores.get(mb))
        kind = _change(ca, cb, sa, sb, hib_primary)
        if kind is None:
            continue
        ga, gb = a.gens.get((sid, ma, 0)), b.gens.get((sid, mb, 0))
        s = a.samples[sid]
        changed.append(ChangedItem(sample_id=sid, input=s.input, target=s.target,
                                   output_a=ga.output if ga else None, output_b=gb.output if gb else None,
                                   score_a=_finite(sa), score_b=_finite(sb), correct_a=ca, correct_b=cb, change=kind))
    if mismatched:
        notes.append(f"{mismatched} id(s) are in both runs with another input or target: not paired")
    return PairComparison(model_a=ma, model_b=mb, n_paired=len(paired), n_only_a=only_a, n_only_b=only_b,
                          n_mismatched=mismatched, metrics=tuple(ordered), changed=tuple(changed), notes=tuple(notes))


def compare_runs(run_a: Path | str, run_b: Path | str, pairs: Sequence[tuple[str, str]] | None = None,
                 seed: int = 0) -> RunComparison:
    """Run B against run A: configuration differences, and for each model pair (default: every model name the
    two runs share) the paired metric deltas and the items whose verdict changed.

    ConfigError when the runs ran different tasks (their metrics are not comparable) or share no model name
    and no `pairs` are given.
    """
    a, b = _Run(Path(run_a)), _Run(Path(run_b))
    if (a.suite.task, a.suite.task_args) != (b.suite.task, b.suite.task_args):
        raise ConfigError(f"{b.path} ran task '{b.suite.task}' with {b.suite.task_args}, but {a.path} ran "
                          f"'{a.suite.task}' with {a.suite.task_args}: their metrics are not comparable")
    if pairs is None:
        pairs = [(m, m) for m in a.models if m in b.models]
        if not pairs:
            raise ConfigError(f"the runs share no model name ({a.path.name}: {', '.join(a.models)}; {b.path.name}: "
                              f"{', '.join(b.models)}); name the pairs, e.g. --pair {a.models[0]}={b.models[0]}")
    for ma, mb in pairs:
        for run, m in ((a, ma), (b, mb)):
            if m not in run.models:
                raise unknown_name("model", m, run.models, where=f"--pair {ma}={mb}: run {run.path.name}")
    notes = []
    if a.record.info.suite != b.record.info.suite:
        notes.append(f"the runs are of different suites ({a.record.info.suite}, {b.record.info.suite}) with the "
                     "same task")
    for run in (a, b):
        if run.record.info.status != "complete":
            notes.append(f"run {run.path.name} is '{run.record.info.status}', not complete")
    return RunComparison(a=a.side(), b=b.side(), config=tuple(_config(a, b, pairs)),
                         pairs=tuple(_pair(a, b, ma, mb, seed) for ma, mb in pairs), notes=tuple(notes))
