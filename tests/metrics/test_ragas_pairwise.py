"""RAGAS inside the pairwise_judge task: one Mistral judge (real SDK, loopback fake server) serves both the
legal_quality verdicts and RAGAS' calls; the summary gains per-model RAGAS means, deltas and a counts table."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ragas")

from fakeserver import FakeLLMServer  # noqa: E402

from evalkit.errors import ConfigError  # noqa: E402
from evalkit.metrics import ragas_metrics  # noqa: E402
from evalkit.model import Model  # noqa: E402
from evalkit.model_spec import ModelSpec  # noqa: E402
from evalkit.providers import create_provider  # noqa: E402
from evalkit.records import Generation, Prompt, Sample  # noqa: E402
from evalkit.tasks import ScoringContext, SummaryContext, create_task  # noqa: E402

KEY_ENV = "EVALKIT_TEST_API_KEY"
SUITE = Path("suite.yaml")


def responder(body: dict[str, Any]) -> str:
    schema = json.dumps(body.get("response_format") or {})
    prompt = body["messages"][-1]["content"]
    if "score_answer_1" in schema:  # the legal_quality judge: the answer citing an article wins
        first = prompt.split("Answer 1:")[1].split("Answer 2:")[0]
        ft_first = "article" in first
        return json.dumps({"justification": "citation", "score_answer_1": 3 if ft_first else 1,
                           "score_answer_2": 1 if ft_first else 3})
    if "verdict" in schema:
        # RAGAS NLI: a statement from an answer citing an article (ft's) is supported, others (base's) not.
        supported = "article" in prompt.split("Now perform the same")[-1]
        return json.dumps({"statements": [{"statement": "s", "reason": "r", "verdict": int(supported)}]})
    if "statements" in schema:  # RAGAS statement extraction: keep whether the answer cited an article
        cited = "article" in prompt.split("Now perform the same")[-1]
        return json.dumps({"statements": ["selon l'article cité" if cited else "sans source"]})
    if "noncommittal" in schema:
        return json.dumps({"question": "Quel article ?", "noncommittal": 0})
    return "?"


class UnitEmbedder:
    name = "unit"

    async def embed(self, texts):
        return np.ones((len(texts), 3), dtype=np.float32)


def test_pairwise_task_with_ragas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key")
    monkeypatch.setattr(ragas_metrics, "choose_embedder", lambda setting, spec=None, env=None: UnitEmbedder())
    task = create_task("pairwise_judge", {"judge": "legal_quality", "context_field": "context",
                                          "ragas": {"metrics": ["faithfulness", "answer_relevancy"],
                                                    "strictness": 1}}, SUITE)
    samples = [Sample(id=f"q{i}", input=f"Question {i} ?", fields={"context": f"Art. {i} du Code test\nTexte."})
               for i in range(12)]

    def gen(model: str, s: Sample) -> Generation:
        if model == "base" and s.id == "q0":
            return Generation(sample_id=s.id, model=model, model_id=model, prompt=Prompt(text=s.input),
                              error="HTTP 503 (gave up after 3 tries)")
        text = f"Selon l'article {s.id} du Code test, oui." if model == "ft" else "Oui, probablement."
        return Generation(sample_id=s.id, model=model, model_id=model, prompt=Prompt(text=s.input), output=text)

    with FakeLLMServer(responder=responder) as server:
        spec = ModelSpec(name="judge", provider="mistral", model="mistral-large-latest", base_url=server.url,
                         api_key_env=KEY_ENV, max_retries=1, timeout_s=10)
        judge = Model(spec=spec, provider=create_provider(spec))

        async def run():
            try:
                ctx = ScoringContext(seed=0, judge=judge)
                return [await task.score(s, {m: gen(m, s) for m in ("base", "ft")}, ctx) for s in samples]
            finally:
                await judge.aclose()

        results = asyncio.run(run())
    summary = task.summarize(samples, results, SummaryContext(models=("base", "ft"), reference="base",
                                                              n_bootstrap=300))
    got = {m: {v.name: v for v in summary.metrics[m]} for m in ("base", "ft")}
    assert got["ft"]["ragas_faithfulness"].value == 1.0 and got["ft"]["ragas_faithfulness"].n == 12
    assert got["base"]["ragas_faithfulness"].value == 0.0 and got["base"]["ragas_faithfulness"].n == 11
    assert got["base"]["ragas_faithfulness_unscored"].value == 1.0  # the failed generation: counted, not averaged
    assert got["ft"]["ragas_answer_relevancy"].value == pytest.approx(1.0)
    assert "legal_quality_score" in got["ft"]  # the judge task's own metrics are still there
    faith = next(c for c in summary.comparisons if c.metric == "ragas_faithfulness")
    assert faith.model == "ft" and faith.n == 11 and faith.delta == pytest.approx(1.0) and faith.ci_low == 1.0
    table = next(t for t in summary.tables if t.title.startswith("RAGAS"))
    assert "judge judge" in table.title and "embeddings: unit" in table.title
    rows = {(r[0], r[1]): r for r in table.rows}
    assert rows[("base", "faithfulness")][2:8] == (12, 11, 0, 0, 1, 0)
    assert any("never averaged" in n for n in summary.notes)
    # Stored per sample, so a report can show each model's RAGAS scores next to the judge's verdicts.
    assert results[1].scores["ft"].details["ragas"]["faithfulness"] == {"metric": "faithfulness", "value": 1.0,
                                                                         "status": "ok", "error": None}


def test_ragas_settings_are_validated_with_the_task_args() -> None:
    with pytest.raises(ConfigError, match=r"task_args\.ragas\.metrics\.0: .*context_recall"):
        create_task("pairwise_judge", {"judge": "legal_quality", "ragas": {"metrics": ["context_recall"]}}, SUITE)
    task = create_task("pairwise_judge", {"judge": "legal_quality"}, SUITE)
    assert task.ragas is None  # opt-in: no RAGAS without metrics


def test_missing_ragas_fails_when_the_task_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from evalkit.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ragas" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install 'evalkit\[ragas\]'"):
        create_task("pairwise_judge", {"judge": "legal_quality", "ragas": {"metrics": ["faithfulness"]}}, SUITE)
