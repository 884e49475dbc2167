"""Evaluating gate rules on a run: thresholds on reported values, comparisons on the CI of paired differences.

Decision policy (stated once, here, and printed with every gate summary):

- A threshold (`ft.f1 >= 0.75`) compares the reported point estimate with the bound.
- A comparison (`ft.f1 - base.f1 >= 0.10`, `ft.f1 >= base.f1`) is decided on the 95% CI of the paired
  difference: `>=` fails only when the whole CI lies below the bound and `<=` only when it lies wholly above,
  so noise alone never fails a build (a non-inferiority check); `>` and `<` pass only when the whole CI lies
  beyond the bound (the difference is established, not just observed). Without a CI (too few items, or a
  metric with no per-item data) the point estimate decides, and the outcome says so.
- A value that is unknown (null, e.g. a cost without a price) fails its rule: it cannot be verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from evalkit.errors import ConfigError
from evalkit.gating._data import RunData
from evalkit.gating._paired import Delta, PairedDeltas, Side
from evalkit.gating._rules import BASELINE_SUFFIX, MetricRef, Rule
from evalkit.gating._spec import GateSpec, SourcedRule

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_RUN_FAILURES", "EXIT_USAGE", "POLICY", "FailedCalls", "GateReport",
           "RuleOutcome", "evaluate_gate", "validate_rules"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_RUN_FAILURES = 0, 1, 2, 3

POLICY = ("Comparisons between models are decided on the 95% CI of the paired difference: a `>=` or `<=` rule "
          "fails only when the whole interval lies on the wrong side of its bound, so noise alone does not fail "
          "the build; a `>` or `<` rule passes only when the whole interval lies beyond its bound. Thresholds "
          "on a single model use the point estimate.")

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class RuleOutcome:
    """One checked rule."""

    rule: str
    """The rule as written (or as generated, for baseline rules)."""
    source: str
    status: Status
    measured: str
    """The values the decision used, e.g. `Δ = +0.041 [-0.012, +0.093], n = 180`."""
    reason: str
    """Why it passed or failed, in one sentence."""
    kind: Literal["threshold", "comparison"]
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    bound: float | None = None
    method: str = ""

    @property
    def passed(self) -> bool:
        """True when the rule holds."""
        return self.status == "pass"


@dataclass(frozen=True)
class FailedCalls:
    """Per-model failed-call counts against the allowance (exit 3 when exceeded, or when the run is not complete)."""

    counts: dict[str, tuple[int, int]]
    """model -> (failed, total)."""
    max_failed: int | None
    max_failed_rate: float | None
    run_status: str
    exceeded: tuple[str, ...]
    """Explanations, one per model over its allowance (and one when the run is not complete)."""

    @property
    def ok(self) -> bool:
        """True when every model is within its allowance and the run completed."""
        return not self.exceeded

    def allowance(self) -> str:
        """The allowance in words, e.g. `at most 0 failed calls per model`."""
        parts = []
        if self.max_failed is not None:
            parts.append(f"at most {self.max_failed} failed call(s) per model")
        if self.max_failed_rate is not None:
            parts.append(f"at most {self.max_failed_rate:.1%} of a model's calls failed")
        return " and ".join(parts) or "no limit on failed calls"


@dataclass(frozen=True)
class GateReport:
    """Everything a gate found; renderers turn it into text, Markdown and JUnit XML."""

    run_dir: Path
    run_id: str
    suite: str
    reference: str
    outcomes: tuple[RuleOutcome, ...]
    failed_calls: FailedCalls
    baseline_dir: Path | None = None
    baseline_run_id: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_failed(self) -> int:
        """Rules that did not pass."""
        return sum(not o.passed for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """3 when the run had too many failed calls (its numbers are not trustworthy), else 1 when a rule
        failed, else 0."""
        if not self.failed_calls.ok:
            return EXIT_RUN_FAILURES
        return EXIT_FAIL if self.n_failed else EXIT_OK

    @property
    def verdict(self) -> str:
        """`PASSED`, `FAILED` or `RUN FAILURES`."""
        return {EXIT_OK: "PASSED", EXIT_FAIL: "FAILED", EXIT_RUN_FAILURES: "RUN FAILURES"}[self.exit_code]


def _fmt(x: float | None) -> str:
    return "null" if x is None else "0" if x == 0 else f"{x:.4g}"


def _fmt_signed(x: float | None) -> str:
    return "null" if x is None else "0" if x == 0 else f"{x:+.4g}"


def _ci(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return ""
    f = _fmt_signed if signed else _fmt
    return f" [{f(low)}, {f(high)}]"


def _holds(value: float, comparator: str, bound: float) -> bool:
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[comparator]


def validate_rules(rules: tuple[SourcedRule, ...], data: RunData, baseline: RunData | None) -> None:
    """ConfigError naming the rule's file and close names for an unknown model or metric, or a baseline rule
    without `--baseline`."""
    for sr in rules:
        where = f"{sr.source}: rule '{sr.rule.text}'"
        for ref in sr.rule.refs:
            if ref.baseline:
                if baseline is None:
                    raise ConfigError(f"{where}: '{ref.label}' reads the baseline run; pass --baseline RUN_DIR")
                baseline.check_metric(ref.model, ref.metric, f"{where} (baseline run)")
            else:
                data.check_metric(ref.model, ref.metric, where)


def _side(ref: MetricRef, data: RunData, baseline: RunData | None) -> Side:
    run = baseline if ref.baseline else data
    assert run is not None
    return Side(run, ref.model, ref.label)


def _threshold(sr: SourcedRule, data: RunData, baseline: RunData | None) -> RuleOutcome:
    rule = sr.rule
    run = baseline if rule.left.baseline else data
    assert run is not None
    m = run.metric(rule.left.model, rule.left.metric) or {}
    value = m.get("value")
    low, high = m.get("ci_low"), m.get("ci_high")
    measured = f"{rule.left} = {_fmt(value)}{_ci(low, high)}" + (f", n = {m['n']}" if m.get("n") else "")
    common = dict(rule=rule.text, source=sr.source, measured=measured, kind="threshold", value=value,
                  ci_low=low, ci_high=high, bound=rule.bound, method="point estimate")
    if value is None:
        return RuleOutcome(**common, status="error", reason=f"{rule.left} is unknown (null), so the rule cannot "
                                                            "be verified")
    ok = _holds(float(value), rule.comparator, rule.bound)
    return RuleOutcome(**common, status="pass" if ok else "fail",
                       reason=f"{_fmt(value)} {rule.comparator if ok else 'is not ' + rule.comparator} "
                              f"{rule.bound:g}")


def _decide(rule: Rule, d: Delta) -> tuple[Status, str]:
    c, b = rule.comparator, rule.bound
    if d.value is None:
        return "error", "the difference could not be computed" + (f" ({d.note})" if d.note else "")
    if not d.has_ci:
        ok = _holds(d.value, c, b)
        why = d.note or "no CI"
        return ("pass" if ok else "fail"), (f"{why}: decided on the point estimate, {_fmt_signed(d.value)} "
                                            f"{c if ok else 'is not ' + c} {b:g}")
    low, high = d.ci_low, d.ci_high
    assert low is not None and high is not None
    ci = f"the 95% CI {_fmt_signed(low)} to {_fmt_signed(high)}"
    if c in (">=", "<="):
        wrong_side = high < b if c == ">=" else low > b
        side, other = ("below", "above") if c == ">=" else ("above", "below")
        if wrong_side:
            return "fail", f"{ci} lies wholly {side} {b:g}: a real difference, not noise"
        if (low >= b) if c == ">=" else (high <= b):
            return "pass", f"{ci} lies wholly at or {other} {b:g}"
        return "pass", f"{ci} includes {b:g}: the difference may be noise, so the rule holds"
    right_side = low > b if c == ">" else high < b
    side = "above" if c == ">" else "below"
    if right_side:
        return "pass", f"{ci} lies wholly {side} {b:g}: the difference is established"
    return "fail", f"{ci} does not lie wholly {side} {b:g}: the difference is not established"


def _comparison(sr: SourcedRule, data: RunData, baseline: RunData | None, deltas: PairedDeltas) -> RuleOutcome:
    rule = sr.rule
    assert rule.right is not None
    a, b = _side(rule.left, data, baseline), _side(rule.right, data, baseline)
    d = deltas.delta(a, b, rule.left.metric)
    va = (a.data.metric(a.model, rule.left.metric) or {}).get("value")
    vb = (b.data.metric(b.model, rule.right.metric) or {}).get("value")
    measured = (f"{rule.left} = {_fmt(va)}, {rule.right} = {_fmt(vb)}; Δ = {_fmt_signed(d.value)}"
                f"{_ci(d.ci_low, d.ci_high, signed=True)}" + (f", n = {d.n}" if d.n else "")
                + (f" ({d.method})" if d.method else ""))
    status, reason = _decide(rule, d)
    return RuleOutcome(rule=rule.text, source=sr.source, status=status, measured=measured, reason=reason,
                       kind="comparison", value=d.value, ci_low=d.ci_low, ci_high=d.ci_high, bound=rule.bound,
                       method=d.method)


def _failed_calls(spec: GateSpec, data: RunData) -> FailedCalls:
    counts, exceeded = {}, []
    for m in data.models:
        calls = data.calls(m)
        failed, total = int(calls.get("failed", 0)), int(calls.get("total", 0))
        counts[m] = (failed, total)
        if spec.max_failed is not None and failed > spec.max_failed:
            exceeded.append(f"{m}: {failed} of {total} calls failed (max_failed = {spec.max_failed})")
        elif spec.max_failed_rate is not None and total and failed / total > spec.max_failed_rate:
            exceeded.append(f"{m}: {failed} of {total} calls failed ({failed / total:.1%} > max_failed_rate = "
                            f"{spec.max_failed_rate:.1%})")
    status = str(data.info.get("status", ""))
    if status != "complete":
        exceeded.append(f"run status is '{status}', not 'complete': samples are missing")
    return FailedCalls(counts=counts, max_failed=spec.max_failed, max_failed_rate=spec.max_failed_rate,
                       run_status=status, exceeded=tuple(exceeded))


_COUNT_UNITS = ("items", "calls", "count", "samples")


def baseline_rules(spec: GateSpec, data: RunData, baseline: RunData) -> tuple[SourcedRule, ...]:
    """`m.x >= m@baseline.x - tolerance` (or `<=` and `+` when lower is better) for the configured models and
    metrics; ConfigError when the two runs share no model or a configured name is unknown."""
    cfg = spec.baseline
    common = [m for m in data.models if m in baseline.models]
    models = cfg.models if cfg.models is not None else common
    if not models:
        raise ConfigError(f"--baseline: runs {data.path.name} ({', '.join(data.models)}) and {baseline.path.name} "
                          f"({', '.join(baseline.models)}) have no model in common")
    source = f"--baseline {baseline.path}"
    rules = []
    for m in models:
        data.check_model(m, "gates.baseline.models")
        baseline.check_model(m, "gates.baseline.models (baseline run)")
        names = cfg.metrics if cfg.metrics is not None else [
            n for n, mv in data.metrics(m).items()
            if mv.get("kind") == "task" and mv.get("unit") not in _COUNT_UNITS and n != "n"]
        for name in names:
            data.check_metric(m, name, "gates.baseline.metrics")
            if name not in baseline.metrics(m):
                continue  # a metric the earlier release did not report has nothing to regress from
            higher = data.metric(m, name).get("higher_is_better", True)  # type: ignore[union-attr]
            if higher is None:
                continue  # no direction (a count, a bias measure): "worse than the baseline" has no meaning
            tol = float(cfg.tolerances.get(name, cfg.tolerance))
            comparator: str = ">=" if higher else "<="
            bound = -tol if higher else tol
            shown = f" {'-' if higher else '+'} {tol:g}" if tol else ""
            text = f"{m}.{name} {comparator} {m}{BASELINE_SUFFIX}.{name}{shown}"
            rule = Rule(text=text, left=MetricRef(m, name), comparator=comparator,  # type: ignore[arg-type]
                        bound=bound, right=MetricRef(m, name, baseline=True))
            rules.append(SourcedRule(rule, source))
    return tuple(rules)


def evaluate_gate(spec: GateSpec, rules: tuple[SourcedRule, ...], data: RunData,
                  baseline: RunData | None = None) -> GateReport:
    """Check every rule (and, with a baseline run, every baseline rule) on `data`."""
    validate_rules(rules, data, baseline)
    all_rules = rules + (baseline_rules(spec, data, baseline) if baseline is not None else ())
    if not all_rules:
        raise ConfigError("no gate rules: add `gates:` to the suite, a [gates] table with `rules` to evalkit.toml, "
                          "pass --rules FILE, or pass --baseline RUN_DIR")
    deltas = PairedDeltas(seed=int(data.info.get("seed") or 0))
    outcomes = tuple(_comparison(sr, data, baseline, deltas) if sr.rule.is_comparison
                     else _threshold(sr, data, baseline) for sr in all_rules)
    notes = []
    if data.info.get("offline_judge"):
        notes.append("the judge was the embedded local model: judge-based metrics demonstrate the pipeline only")
    if baseline is not None and baseline.info.get("status") != "complete":
        notes.append(f"the baseline run's status is '{baseline.info.get('status')}'")
    return GateReport(run_dir=data.path, run_id=str(data.info.get("run_id", data.path.name)),
                      suite=str(data.info.get("suite", "")), reference=data.reference, outcomes=outcomes,
                      failed_calls=_failed_calls(spec, data), baseline_dir=baseline.path if baseline else None,
                      baseline_run_id=str(baseline.info.get("run_id")) if baseline else None, notes=tuple(notes))
