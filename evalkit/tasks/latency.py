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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.operational import OPERATIONAL_METRICS, Statistic, call_values
from evalkit.records import (
    Comparison,
    Generation,
    MetricValue,
    ModelScore,
    Sample,
    SampleResult,
    Table,
    TaskSummary,
)
from evalkit.stats import (
    MIN_ITEMS_FOR_TEST,
    TOO_FEW_ITEMS,
    has_enough_items,
    paired_bootstrap,
)
from evalkit.tasks.base import (
    RunPolicy,
    ScoringContext,
    SummaryContext,
    Task,
    scored_items,
)
from evalkit.user_errors import validation_error

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


_FIELDS = ("latency_s", "ttft_s", "tokens_per_sec")


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class _Calls:
    """One model's timed calls as columns, sorted by (item position, attempt): the pairing key."""

    items: np.ndarray
    attempts: np.ndarray
    ok: np.ndarray
    latency_s: np.ndarray
    ttft_s: np.ndarray
    tokens_per_sec: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[tuple[float, ...]]) -> _Calls:
        a = np.asarray(rows, dtype=float).reshape(-1, 3 + len(_FIELDS))
        # One row per (item, attempt); a repeat keeps its last row, like the dict this replaced.
        a = a[np.lexsort((np.arange(len(a)), a[:, 1], a[:, 0]))]
        if len(a) > 1:
            last = np.ones(len(a), dtype=bool)
            last[:-1] = (a[1:, 0] != a[:-1, 0]) | (a[1:, 1] != a[:-1, 1])
            a = a[last]
        return cls(items=a[:, 0].astype(np.int64), attempts=a[:, 1].astype(np.int64), ok=a[:, 2] == 1.0,
                   **{f: a[:, 3 + i] for i, f in enumerate(_FIELDS)})

    @property
    def n(self) -> int:
        """Calls timed (failed ones included)."""
        return int(self.items.size)

    def values(self, field: str) -> np.ndarray:
        """The known values of `field` over the successful calls, in key order."""
        x = getattr(self, field)
        return x[self.ok & np.isfinite(x)]

    def paired(self, ref: _Calls, field: str) -> tuple[np.ndarray, np.ndarray]:
        """`field` of both models on the (item, attempt) pairs where both calls succeeded with a value."""
        mine = self.items * (1 << 20) + self.attempts
        theirs = ref.items * (1 << 20) + ref.attempts
        _, i, j = np.intersect1d(mine, theirs, assume_unique=True, return_indices=True)
        a, b = getattr(self, field)[i], getattr(ref, field)[j]
        keep = self.ok[i] & ref.ok[j] & np.isfinite(a) & np.isfinite(b)
        return a[keep], b[keep]


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
    def _columns(samples: Iterable[Sample], results: Iterable[SampleResult],
                 ctx: SummaryContext) -> tuple[int, dict[str, _Calls]]:
        """One pass over the items: their number, and each model's per-call columns."""
        rows: dict[str, list[tuple[float, ...]]] = {m: [] for m in ctx.models}
        i = -1
        for i, (_, r) in enumerate(scored_items(samples, results, ctx)):
            for m in ctx.models:
                s = r.scores.get(m)
                for c in (s.details.get("calls", []) if s is not None else []):
                    rows[m].append((i, int(c.get("attempt", 0)), bool(c.get("ok")),
                                    *(_num(c.get(f)) for f in _FIELDS)))
        return i + 1, {m: _Calls.of(v) for m, v in rows.items()}

    def _model_metrics(self, calls: _Calls, ctx: SummaryContext) -> list[MetricValue]:
        out = []
        for name, row in _METRICS.items():
            field, stat, higher, unit = row.per_call or "", row.statistic, row.higher_is_better, row.unit
            assert stat is not None  # every reported metric is a statistic over calls
            x = calls.values(field)
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
        total = calls.n
        errors = int((~calls.ok).sum())
        for name, value in (("error_rate", errors / total if total else None), ("requests", float(total))):
            row = OPERATIONAL_METRICS[name]
            out.append(MetricValue(name=name, value=value, n=total, higher_is_better=row.higher_is_better,
                                   unit=row.unit))
        return out

    def _compare(self, model: str, calls: _Calls, ref: _Calls, ctx: SummaryContext) -> list[Comparison]:
        out = []
        for name in _COMPARED:
            field, stat = _METRICS[name].per_call or "", _METRICS[name].statistic
            assert stat is not None
            a, b = calls.paired(ref, field)
            base = dict(metric=name, model=model, reference=ctx.reference, n=int(a.size))
            if not a.size:
                out.append(Comparison(**base, delta=None, note=f"no paired successful calls with {field}"))
                continue

            def diff(p: np.ndarray, q: np.ndarray, stat: Statistic = stat) -> np.ndarray:
                return stat(p) - stat(q)

            point = float(diff(a[np.newaxis, :], b[np.newaxis, :])[0])
            if not has_enough_items(int(a.size)):
                out.append(Comparison(**base, delta=point, note=TOO_FEW_ITEMS))
                continue
            r = paired_bootstrap(diff, a, b, n_resamples=ctx.n_bootstrap, confidence=ctx.confidence, seed=ctx.seed,
                                 null_value=0.0, vectorized=True)
            out.append(Comparison(**base, delta=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value,
                                  test="paired-bootstrap"))
        return out

    def summarize(self, samples: Iterable[Sample], results: Iterable[SampleResult],
                  ctx: SummaryContext) -> TaskSummary:
        """Latency, TTFT and throughput per model with bootstrap CIs; paired differences against the reference."""
        n_items, calls = self._columns(samples, results, ctx)
        metrics = {m: tuple(self._model_metrics(calls[m], ctx)) for m in ctx.models}
        comparisons = tuple(c for m in ctx.models if m != ctx.reference
                            for c in self._compare(m, calls[m], calls[ctx.reference], ctx))
        rows = []
        for m in ctx.models:
            lat, ttft, tps = (calls[m].values(f) for f in ("latency_s", "ttft_s", "tokens_per_sec"))

            def q(x: np.ndarray, p: float) -> float | None:
                return float(np.percentile(x, p)) if x.size else None

            rows.append((m, calls[m].n, int((~calls[m].ok).sum()), q(lat, 50), q(lat, 90), q(lat, 95), q(lat, 99),
                         float(lat.max()) if lat.size else None, q(ttft, 50), q(ttft, 95), q(tps, 50)))
        table = Table(title="Latency per model (seconds; throughput in output tokens per second)",
                      columns=("model", "requests", "errors", "p50", "p90", "p95", "p99", "max", "TTFT p50",
                               "TTFT p95", "tokens/s p50"), rows=tuple(rows))
        notes = [f"requests per model: {n_items} prompt(s) x attempts; the response cache was bypassed; "
                 f"{self.args.warmup} untimed warm-up call(s) per model; {self.args.concurrency} call(s) in flight; "
                 + ("models measured one after another" if self.args.sequential else "models measured at once")]
        for m in ctx.models:
            if self.args.stream and not calls[m].values("ttft_s").size:
                notes.append(f"{m}: no time to first token (its provider cannot stream, or no call succeeded)")
        if any(c.note == TOO_FEW_ITEMS for c in comparisons):
            notes.append(f"comparisons on fewer than {MIN_ITEMS_FOR_TEST} paired calls report the difference only")
        notes.append(f"intervals: {ctx.confidence:.0%} percentile bootstrap over calls, {ctx.n_bootstrap} resamples, "
                     f"seed {ctx.seed}; comparisons pair calls by (prompt, attempt)")
        return TaskSummary(task=self.name, metrics=metrics, comparisons=comparisons, tables=(table,),
                           notes=tuple(notes))
