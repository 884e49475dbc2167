"""The `latency` task: how fast each model answers a fixed prompt set, not how well.

Every model gets the suite's prompts, each `attempts` times (the suite's `attempts:` or `--attempts`), so a
model makes prompts x attempts requests. The task asks the runner (through `run_policy`) to bypass the
response cache (a cached answer would report an old call's latency and no time to first token), to stream
where the provider can (time to first token), to warm each model up with untimed calls, to send `concurrency`
calls at a time, and to measure one model after the other so models never compete for the CPU or an endpoint.

Per model: latency p50/p95/p99/mean, time to first token (TTFT) p50/p95/p99 when streamed, output tokens per
second (completion tokens / total latency, per call, median), and the error rate; all with percentile
bootstrap CIs over calls. Cost per 1,000 requests, token counts and failures come from the operational
metrics every run has. Comparisons against the reference pair calls by (prompt, attempt): the median latency
difference (and p95, mean, TTFT median, throughput median) with paired bootstrap CIs and p-values.

Suite arguments (`task_args`): `concurrency` (default 1), `stream` (default true), `warmup` (untimed calls
per model, default 1), `sequential` (default true).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.operational import OPERATIONAL_METRICS, Statistic, call_values
from evalkit.records import Comparison, Generation, MetricValue, ModelScore, Sample, SampleResult, Table, TaskSummary
from evalkit.stats import MIN_ITEMS_FOR_TEST, TOO_FEW_ITEMS, has_enough_items, paired_bootstrap
from evalkit.user_errors import validation_error
from evalkit.tasks.base import RunPolicy, ScoringContext, SummaryContext, Task

__all__ = ["LatencyArgs", "LatencyTask", "create"]


class LatencyArgs(BaseModel):
    """The `task_args` of a latency suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(default=1, ge=1)
    """Calls in flight per model while measuring (`--concurrency` still overrides it)."""
    stream: bool = True
    """Stream answers where the provider supports it, to measure time to first token."""
    warmup: int = Field(default=1, ge=0)
    """Untimed calls per model before measuring (connection set-up, lazy loading)."""
    sequential: bool = True
    """Measure one model at a time; false runs all models at once (they then share the machine)."""


def create(args: Mapping[str, Any], suite_path: Path) -> LatencyTask:
    """Build the task; ConfigError naming the suite file, the field and what is allowed."""
    try:
        return LatencyTask(LatencyArgs.model_validate(dict(args)))
    except ValidationError as exc:
        raise validation_error(exc, where=str(suite_path), prefix="task_args.", model=LatencyArgs,
                               allowed="concurrency (int >= 1), stream (bool), warmup (int >= 0), "
                                       "sequential (bool)") from None


# Per-call quantities, as stored in ModelScore.details["calls"].
_Call = dict[str, Any]

# The metrics reported, defined once in evalkit.operational (unit, direction, per-call quantity, statistic).
_REPORTED = ("latency_p50_s", "latency_p95_s", "latency_p99_s", "latency_mean_s", "ttft_p50_s", "ttft_p95_s",
             "ttft_p99_s", "output_tokens_per_sec")
_METRICS = {name: OPERATIONAL_METRICS[name] for name in _REPORTED}
_COMPARED = ("latency_p50_s", "latency_p95_s", "latency_mean_s", "ttft_p50_s", "output_tokens_per_sec")


def _call(g: Generation) -> _Call:
    values = call_values(g)
    return {"attempt": g.attempt, "ok": g.ok, "latency_s": values["latency_s"], "ttft_s": values["ttft_s"],
            "completion_tokens": g.usage.completion_tokens, "tokens_per_sec": values["tokens_per_sec"],
            "cached": g.cached, "error": g.error}


class LatencyTask(Task):
    """Times calls; scores nothing."""

    name = "latency"
    uses_attempts = True
    """Every repeat of a prompt is a measured request: the runner passes all attempts."""

    def __init__(self, args: LatencyArgs) -> None:
        self.args = args

    @property
    def run_policy(self) -> RunPolicy:
        """What the measurement needs from the runner (see the module docstring)."""
        return RunPolicy(use_cache=False, stream=self.args.stream, concurrency=self.args.concurrency,
                         sequential_models=self.args.sequential, warmup_requests=self.args.warmup)

    def prompt_vars(self, sample: Sample) -> Mapping[str, Any]:
        """No task variables: the prompts are the suite's."""
        return {}

    async def score(self, sample: Sample, generations: Mapping[str, Generation | tuple[Generation, ...]],
                    ctx: ScoringContext) -> SampleResult:
        """Record every call's timing; there is no answer quality to score."""
        scores = {}
        for model, gens in generations.items():
            calls = [_call(g) for g in (gens if isinstance(gens, tuple) else (gens,))]
            failed = [c for c in calls if not c["ok"]]
            scores[model] = ModelScore(details={"calls": calls, **({"failed": True} if len(failed) == len(calls)
                                                                    else {})})
        return SampleResult(sample_id=sample.id, scores=scores)

    # -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _calls(model: str, results: Sequence[SampleResult]) -> dict[tuple[str, int], _Call]:
        out = {}
        for r in results:
            s = r.scores.get(model)
            for c in (s.details.get("calls", []) if s is not None else []):
                out[(r.sample_id, int(c.get("attempt", 0)))] = c
        return out

    @staticmethod
    def _values(calls: Mapping[tuple[str, int], _Call], field: str) -> np.ndarray:
        return np.asarray([c[field] for c in calls.values() if c.get("ok") and c.get(field) is not None],
                          dtype=float)

    def _model_metrics(self, calls: Mapping[tuple[str, int], _Call], ctx: SummaryContext) -> list[MetricValue]:
        out = []
        for name, row in _METRICS.items():
            field, stat, higher, unit = row.per_call or "", row.statistic, row.higher_is_better, row.unit
            assert stat is not None  # every reported metric is a statistic over calls
            x = self._values(calls, field)
            if x.size == 0:
                out.append(MetricValue(name=name, value=None, higher_is_better=higher, unit=unit))
                continue
            value = float(stat(x[np.newaxis, :])[0])
            low = high = None
            if has_enough_items(x.size):
                r = paired_bootstrap(stat, x, n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                     vectorized=True)
                low, high = r.ci_low, r.ci_high
            out.append(MetricValue(name=name, value=value, ci_low=low, ci_high=high, n=int(x.size),
                                   higher_is_better=higher, unit=unit))
        total = len(calls)
        errors = sum(not c.get("ok") for c in calls.values())
        for name, value in (("error_rate", errors / total if total else None), ("requests", float(total))):
            row = OPERATIONAL_METRICS[name]
            out.append(MetricValue(name=name, value=value, n=total, higher_is_better=row.higher_is_better,
                                   unit=row.unit))
        return out

    def _compare(self, model: str, calls: Mapping[tuple[str, int], _Call], ref: Mapping[tuple[str, int], _Call],
                 ctx: SummaryContext) -> list[Comparison]:
        out = []
        for name in _COMPARED:
            field, stat = _METRICS[name].per_call or "", _METRICS[name].statistic
            assert stat is not None
            pairs = [(calls[k][field], ref[k][field]) for k in sorted(calls.keys() & ref.keys())
                     if calls[k].get("ok") and ref[k].get("ok")
                     and calls[k].get(field) is not None and ref[k].get(field) is not None]
            base = dict(metric=name, model=model, reference=ctx.reference, n=len(pairs))
            if not pairs:
                out.append(Comparison(**base, delta=None, note=f"no paired successful calls with {field}"))
                continue
            a, b = (np.asarray(v, dtype=float) for v in zip(*pairs))

            def diff(p: np.ndarray, q: np.ndarray, stat: Statistic = stat) -> np.ndarray:
                return stat(p) - stat(q)

            point = float(diff(a[np.newaxis, :], b[np.newaxis, :])[0])
            if not has_enough_items(len(pairs)):
                out.append(Comparison(**base, delta=point, note=TOO_FEW_ITEMS))
                continue
            r = paired_bootstrap(diff, a, b, n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                 null_value=0.0, vectorized=True)
            out.append(Comparison(**base, delta=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value,
                                  test="paired-bootstrap"))
        return out

    def summarize(self, samples: Sequence[Sample], results: Sequence[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Latency, TTFT and throughput per model with bootstrap CIs; paired differences against the reference."""
        if ctx.reference not in ctx.models:
            raise ValueError(f"reference must be among {list(ctx.models)}. Got {ctx.reference!r} instead.")
        calls = {m: self._calls(m, results) for m in ctx.models}
        metrics = {m: tuple(self._model_metrics(calls[m], ctx)) for m in ctx.models}
        comparisons = tuple(c for m in ctx.models if m != ctx.reference
                            for c in self._compare(m, calls[m], calls[ctx.reference], ctx))
        rows = []
        for m in ctx.models:
            lat, ttft = self._values(calls[m], "latency_s"), self._values(calls[m], "ttft_s")
            tps = self._values(calls[m], "tokens_per_sec")

            def q(x: np.ndarray, p: float) -> float | None:
                return float(np.percentile(x, p)) if x.size else None

            rows.append((m, len(calls[m]), sum(not c.get("ok") for c in calls[m].values()), q(lat, 50), q(lat, 90),
                         q(lat, 95), q(lat, 99), float(lat.max()) if lat.size else None, q(ttft, 50), q(ttft, 95),
                         q(tps, 50)))
        table = Table(title="Latency per model (seconds; throughput in output tokens per second)",
                      columns=("model", "requests", "errors", "p50", "p90", "p95", "p99", "max", "TTFT p50",
                               "TTFT p95", "tokens/s p50"), rows=tuple(rows))
        notes = [f"requests per model: {len(samples)} prompt(s) x attempts; the response cache was bypassed; "
                 f"{self.args.warmup} untimed warm-up call(s) per model; {self.args.concurrency} call(s) in flight; "
                 + ("models measured one after another" if self.args.sequential else "models measured at once")]
        for m in ctx.models:
            if self.args.stream and not self._values(calls[m], "ttft_s").size:
                notes.append(f"{m}: no time to first token (its provider cannot stream, or no call succeeded)")
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} paired calls report the difference only")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap over calls, {ctx.n_bootstrap} resamples, "
                     f"seed {ctx.seed}; comparisons pair calls by (prompt, attempt)")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=comparisons, tables=(table,),
                           notes=tuple(notes))
