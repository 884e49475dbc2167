"""Synthetic runs for the report tests: three models, a few samples, every kind of record a report shows."""

from __future__ import annotations

import math
from collections.abc import Sequence

from evalkit.records import (
    Comparison,
    ConfusionMatrix,
    Generation,
    Judgment,
    MetricValue,
    ModelScore,
    Prompt,
    PromptTemplate,
    RunInfo,
    RunResult,
    Sample,
    SampleResult,
    Table,
    TaskSummary,
    Usage,
)
from evalkit.runner import merge_summaries

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_JS = "javascript:alert(1)"
XSS_ALL = f"{XSS_SCRIPT} {XSS_IMG} {XSS_JS}"
LABELS = ("billing", "refund", "other")


def spec(name: str, **extra: object) -> dict[str, object]:
    """A public ModelSpec dict as a run directory stores it."""
    return {"name": name, "provider": "replay", "model": f"{name}-model", "adapter": None, "prompt": None,
            "metadata": {}, **extra}


def make_run(models: Sequence[str] = ("base", "ft", "ft-lr1e-5"), *, status: str = "complete",
             offline_judge: bool = False, hostile_model: str | None = None) -> RunResult:
    """A small classification-like run. `hostile_model` replaces the last model's name with that text."""
    models = list(models)
    if hostile_model is not None:
        models[-1] = hostile_model
    ref = models[0]
    samples = (
        Sample(id="s1", input="My card was charged twice", target="billing"),
        Sample(id="s2", input=f"Refund please {XSS_ALL}", target="refund"),
        Sample(id="s3", input="What's the weather | today?", target="other", fields={"lang": "en"}),
    )
    generations: list[Generation] = []
    results: list[SampleResult] = []
    for i, s in enumerate(samples):
        scores = {}
        for j, m in enumerate(models):
            failed = (m == models[-1] and s.id == "s3" and len(models) > 1)
            output = None if failed else (f"{s.target} {XSS_ALL}" if s.id == "s2" else str(s.target))
            label = "invalid" if failed else (s.target if (i + j) % 2 == 0 or j == 0 else "other")
            generations.append(Generation(
                sample_id=s.id, model=m, model_id=f"{m}-model", prompt=Prompt(text=s.input), output=output,
                error="HTTP 500: upstream <b>exploded</b>" if failed else None,
                latency_s=None if failed else 0.2 + 0.1 * i + 0.05 * j,
                usage=Usage(prompt_tokens=40 + i, completion_tokens=3), cost_usd=None if j == 0 else 0.001,
                cached=(i == 0),
            ))
            scores[m] = ModelScore(value=float(label == s.target), label=label, correct=label == s.target)
        judgments = ()
        if s.id == "s2":
            judgments = (Judgment(judge_id="pairwise", judge_version="1", template_sha256="0" * 64,
                                  judge_model="judge-model", prompt=f"Which is better? {XSS_ALL}",
                                  raw_response=f"A is better {XSS_ALL}", parsed={"winner": "A"}),)
        results.append(SampleResult(sample_id=s.id, scores=scores, judgments=judgments))

    def mv(name: str, value: float | None, lo: float | None = None, hi: float | None = None,
           hib: bool = True, unit: str = "") -> MetricValue:
        return MetricValue(name=name, value=value, ci_low=lo, ci_high=hi, n=3, higher_is_better=hib, unit=unit)

    step = 0.3 / max(len(models), 3)  # 0.1 for three models; rates stay in [0, 1] for any number
    metrics = {
        m: (mv("accuracy", 0.5 + step * j, 0.3 + step * j, 0.7 + step * j),
            mv("macro_f1", 0.4 + step * j, 0.2, 0.6 + step * j),
            mv("invalid_rate", 0.0 if j < len(models) - 1 else 1 / 3, hib=False),
            mv("latency_p50_s", 0.3 + 0.05 * j, hib=False, unit="s"))
        for j, m in enumerate(models)
    }
    comparisons = []
    for j, m in enumerate(models[1:], start=1):
        comparisons += [
            Comparison(metric="accuracy", model=m, reference=ref, delta=0.1 * j, ci_low=0.05, ci_high=0.15 * j,
                       p_value=0.012, test="mcnemar-exact", n=3),
            Comparison(metric="macro_f1", model=m, reference=ref, delta=0.1 * j, ci_low=None, ci_high=None,
                       p_value=None, test="paired-bootstrap", n=3, note="too few items"),
            Comparison(metric="invalid_rate", model=m, reference=ref, delta=math.nan, ci_low=-math.inf,
                       ci_high=math.inf, p_value=math.nan, test="paired-bootstrap", n=3,
                       note=f"note with {XSS_SCRIPT} | pipe"),
        ]
    summary = TaskSummary(
        task="classification", metrics=metrics, comparisons=tuple(comparisons),
        tables=(Table(title="Per-class report", columns=("class", "f1", "support"),
                      rows=(("billing", 0.5, 1), ("refund|x", math.nan, 1))),),
        confusion_matrices=tuple(
            ConfusionMatrix(model=m, labels=LABELS, predicted_labels=(*LABELS, "invalid"),
                            counts=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 1) if j else (0, 0, 1, 0)))
            for j, m in enumerate(models)),
        notes=(f"Model {models[-1]} failed one call.", f"A note with {XSS_IMG} and a | pipe\nand a newline"),
    )
    info = RunInfo(
        run_id="run-20250101-abc", suite="support-intents", suite_path="suites/support.yaml",
        task="classification", description="Intent classification of support tickets",
        models=tuple(spec(m, metadata={"learning_rate": 1e-5, "steps": 200, "note": XSS_ALL} if j else {})
                     for j, m in enumerate(models)),
        reference=ref, seed=7, started_at="2025-01-01T10:00:00Z",
        finished_at="2025-01-01T10:05:00Z" if status == "complete" else None,
        status=status, evalkit_version="0.1.0", offline_judge=offline_judge,
        prompts=(PromptTemplate(profile="default", style="chat", system=f"You classify. {XSS_SCRIPT}",
                                template="Ticket: {{ input }}\nLabel:", models=tuple(models)),),
        generation_params={"temperature": 0.0, "max_tokens": 16},
    )
    # The metrics stage adds the operational metrics (latency, tokens, cost) to every summary, as a run does.
    summary = merge_summaries(summary, generations, models, ref, seed=7)
    return RunResult(info=info, samples=samples, generations=tuple(generations), results=tuple(results),
                     summary=summary)


def make_large_run(n_samples: int, models: Sequence[str] = ("base", "ft", "ft2")) -> RunResult:
    """A run of `n_samples` samples with plausible text lengths, for timing the renderer."""
    models = list(models)
    samples = tuple(Sample(id=f"s{i:05d}", input=f"Ticket {i}: " + "please help me with my account " * 8,
                           target=LABELS[i % 3]) for i in range(n_samples))
    gens, results = [], []
    for i, s in enumerate(samples):
        scores = {}
        for j, m in enumerate(models):
            label = LABELS[(i + j * (i % 5 == 0)) % 3]
            gens.append(Generation(sample_id=s.id, model=m, model_id=m, prompt=Prompt(text=s.input),
                                   output=f"The intent is {label}.", latency_s=0.1 + (i * 7919 % 1000) / 1000 * (j + 1),
                                   usage=Usage(prompt_tokens=60, completion_tokens=6), cost_usd=0.0001))
            scores[m] = ModelScore(value=float(label == s.target), label=label, correct=label == s.target)
        results.append(SampleResult(sample_id=s.id, scores=scores))
    base = make_run(models)
    return base.model_copy(update={"samples": samples, "generations": tuple(gens), "results": tuple(results)})
