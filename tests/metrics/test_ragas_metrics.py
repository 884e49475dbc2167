"""RAGAS through evalkit: the judge LLM over a Model (real Mistral SDK -> loopback fake server), failures
counted, the embeddings choice, and the pure summary against hand-computed values."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ragas")

from fakeserver import FakeLLMServer  # noqa: E402

from evalkit.cache import ResponseCache  # noqa: E402
from evalkit.metrics.ragas_metrics import (MiniLMEmbedder, MistralEmbedder, RagasItem, RagasScore,  # noqa: E402
                                           RagasSettings, _embeddings_adapter, choose_embedder, score_item,
                                           summarize_ragas)
from evalkit.model import Model  # noqa: E402
from evalkit.model_spec import ModelSpec  # noqa: E402
from evalkit.providers import create_provider  # noqa: E402

KEY_ENV = "EVALKIT_TEST_API_KEY"

QUESTION = "Quel est le préavis du bailleur ?"
ANSWER = "Le bailleur doit donner six mois de préavis selon l'article 22 du Code du bail d'habitation."
CONTEXT = "Art. 22 du Code du bail d'habitation\nLe bailleur peut mettre fin au bail moyennant un préavis de six mois."


def ragas_responder(body: dict[str, Any]) -> str:
    """Answers RAGAS' three prompts by the JSON schema the request carries (as a judge would)."""
    schema = json.dumps(body.get("response_format") or {})
    if "StatementGeneratorOutput" in schema or "statements" in schema and "verdict" not in schema:
        return json.dumps({"statements": ["Le bailleur doit donner six mois de préavis.",
                                          "Cela découle de l'article 22."]})
    if "verdict" in schema:
        return json.dumps({"statements": [
            {"statement": "Le bailleur doit donner six mois de préavis.", "reason": "dit par l'article", "verdict": 1},
            {"statement": "Cela découle de l'article 22.", "reason": "non dit", "verdict": 0}]})
    if "noncommittal" in schema:
        return "```json\n" + json.dumps({"question": QUESTION, "noncommittal": 0}) + "\n```"
    return "?"


def judge_model(server: FakeLLMServer, cache: ResponseCache | None = None) -> Model:
    spec = ModelSpec(name="judge", provider="mistral", model="mistral-large-latest", base_url=server.url,
                     api_key_env=KEY_ENV, max_retries=2, timeout_s=10)
    return Model(spec=spec, provider=create_provider(spec), cache=cache)


class ConstantEmbedder:
    """Every text maps to the same vector, so answer relevancy is exactly 1 when not noncommittal."""

    name = "constant"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts):
        self.calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key")


def _run(coro):
    return asyncio.run(coro)


def test_both_metrics_through_the_real_sdk_and_the_cache(key: None, tmp_path) -> None:
    settings = RagasSettings(metrics=("faithfulness", "answer_relevancy"), strictness=2)
    embedder = ConstantEmbedder()
    item = RagasItem(sample_id="s1", model="ft", question=QUESTION, answer=ANSWER, contexts=(CONTEXT,))
    with FakeLLMServer(responder=ragas_responder) as server:
        cache = ResponseCache.in_dir(tmp_path / "cache")
        judge = judge_model(server, cache)

        async def go():
            try:
                return await score_item(item, settings, judge, _embeddings_adapter(embedder))
            finally:
                await judge.aclose()

        scores = _run(go())
        calls_first = server.call_count
        # statements + verdicts + two relevancy questions (the repeat sampled, so a distinct call)
        assert calls_first == 4
        assert scores["faithfulness"] == RagasScore(metric="faithfulness", value=0.5, status="ok")
        assert scores["answer_relevancy"].status == "ok"
        assert scores["answer_relevancy"].value == pytest.approx(1.0)
        bodies = [r.body for r in server.requests]
        assert all(b["response_format"]["type"] == "json_schema" for b in bodies)  # structured output asked
        assert [b["temperature"] for b in bodies[2:]] == [0.0, 0.7]
        # The same item again is served from evalkit's cache: no new request reaches the server.
        judge2 = judge_model(server, cache)

        async def again():
            try:
                return await score_item(item, settings, judge2, _embeddings_adapter(embedder))
            finally:
                await judge2.aclose()

        assert _run(again()) == scores and server.call_count == calls_first
        cache.close()


def test_invalid_json_is_reasked_then_counted_as_failed(key: None) -> None:
    replies = iter(["not json", json.dumps({"statements": ["Une affirmation."]}), "still not json", "nope"])
    settings = RagasSettings(metrics=("faithfulness",), max_reasks=1)
    item = RagasItem(sample_id="s2", model="base", question=QUESTION, answer=ANSWER, contexts=(CONTEXT,))
    with FakeLLMServer(responder=lambda body: next(replies)) as server:
        judge = judge_model(server)

        async def go():
            try:
                return await score_item(item, settings, judge, None)
            finally:
                await judge.aclose()

        [score] = _run(go()).values()
        assert server.call_count == 4  # statements: invalid, re-asked, valid; verdicts: invalid, re-asked, invalid
        assert "Your previous answer was not valid" in server.requests[1].body["messages"][0]["content"]
    assert score.status == "failed" and score.value is None and "invalid after 1 re-ask" in (score.error or "")


def test_failed_calls_no_answer_no_context_and_nan_are_statuses(key: None) -> None:
    settings = RagasSettings(metrics=("faithfulness", "answer_relevancy"))
    with FakeLLMServer(responder=lambda body: json.dumps({"statements": []}),
                       faults=["unauthorized"]) as server:
        judge = judge_model(server)

        async def go():
            try:
                failed = await score_item(RagasItem("a", "ft", QUESTION, ANSWER, (CONTEXT,)),
                                          RagasSettings(metrics=("faithfulness",)), judge, None)
                nan = await score_item(RagasItem("b", "ft", QUESTION, ANSWER, (CONTEXT,)),
                                       RagasSettings(metrics=("faithfulness",)), judge, None)
                none = await score_item(RagasItem("c", "ft", QUESTION, None, (CONTEXT,)), settings, judge, None)
                no_ctx = await score_item(RagasItem("d", "ft", QUESTION, ANSWER, ()),
                                          RagasSettings(metrics=("faithfulness",)), judge, None)
                return failed, nan, none, no_ctx
            finally:
                await judge.aclose()

        failed, nan, none, no_ctx = _run(go())
    assert failed["faithfulness"].status == "failed" and "judge call failed" in (failed["faithfulness"].error or "")
    assert nan["faithfulness"] == RagasScore(metric="faithfulness", status="undefined",
                                             error="RAGAS returned NaN (e.g. no statement could be extracted)")
    assert {m: s.status for m, s in none.items()} == {"faithfulness": "no_answer", "answer_relevancy": "no_answer"}
    assert no_ctx["faithfulness"].status == "no_context"


# ---------------------------------------------------------------------------------------------------------
# Embeddings


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(body["input"])]
        payload = json.dumps({"id": "e1", "object": "list", "model": body["model"], "data": data,
                              "usage": {"prompt_tokens": 3, "total_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_mistral_embed_through_the_sdk_on_a_local_server() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        embedder = MistralEmbedder(api_key="sk-local", server_url=f"http://127.0.0.1:{server.server_port}")
        vectors = _run(embedder.embed(["ab", "abcd"]))
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(vectors, [[2.0, 1.0], [4.0, 1.0]])
    [req] = _EmbeddingsHandler.received
    assert req["path"] == "/v1/embeddings" and req["model"] == "mistral-embed" and req["auth"] == "Bearer sk-local"


def test_embedder_choice() -> None:
    assert isinstance(choose_embedder("auto", env={}), MiniLMEmbedder)
    assert isinstance(choose_embedder("minilm", env={"MISTRAL_API_KEY": "k"}), MiniLMEmbedder)
    chosen = choose_embedder("auto", env={"MISTRAL_API_KEY": "k"})
    assert isinstance(chosen, MistralEmbedder) and chosen.server_url is None
    judge = ModelSpec(name="j", provider="mistral", model="m", base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY")
    chosen = choose_embedder("auto", judge, env={"MY_KEY": "k2"})
    assert isinstance(chosen, MistralEmbedder) and chosen.api_key == "k2" and chosen.server_url == "http://127.0.0.1:9"
    with pytest.raises(Exception, match="ragas.embeddings is 'mistral' but MISTRAL_API_KEY is unset"):
        choose_embedder("mistral", env={})


def test_embeddings_adapter_memoises_repeated_texts() -> None:
    embedder = ConstantEmbedder()
    adapter = _embeddings_adapter(embedder)
    _run(adapter.aembed_texts(["q", "a", "q"]))
    _run(adapter.aembed_text("q"))
    assert embedder.calls == [["q", "a"]]


# ---------------------------------------------------------------------------------------------------------
# The pure summary, against hand-computed values


def _s(value: float | None, status: str = "ok") -> dict[str, RagasScore]:
    return {"faithfulness": RagasScore(metric="faithfulness", value=value, status=status)}  # type: ignore[arg-type]


def test_summary_counts_failures_and_pairs_only_scored_items() -> None:
    scores = {
        "base": {"1": _s(0.5), "2": _s(1.0), "3": _s(None, "undefined"), "4": _s(0.0)},
        "ft": {"1": _s(1.0), "2": _s(1.0), "3": _s(0.5), "4": _s(None, "failed")},  # sample 5 missing entirely
    }
    scores["base"]["5"] = _s(0.25)
    summary = summarize_ragas(scores, ["faithfulness"], ["base", "ft"], "base", judge="j", embedder="e")
    base, base_unscored = summary.metrics["base"]
    ft, ft_unscored = summary.metrics["ft"]
    assert base.name == "ragas_faithfulness" and base.value == pytest.approx((0.5 + 1.0 + 0.0 + 0.25) / 4)
    assert base.n == 4 and base_unscored.value == 1.0 and base_unscored.higher_is_better is False
    assert ft.value == pytest.approx(2.5 / 3) and ft.n == 3 and ft_unscored.value == 2.0
    assert ft.ci_low is not None and ft.ci_low <= ft.value <= ft.ci_high  # type: ignore[operator]
    [cmp] = summary.comparisons
    # Paired on samples 1 and 2 only (3: base undefined; 4: ft failed; 5: ft missing): deltas 0.5 and 0.0.
    assert cmp.n == 2 and cmp.delta == pytest.approx(0.25) and cmp.note == "too few items" and cmp.p_value is None
    rows = {r[0]: r for r in summary.table.rows}
    # items, scored, undefined, failed, no answer, no context
    assert rows["base"][2:8] == (5, 4, 1, 0, 0, 0)
    assert rows["ft"][2:8] == (5, 3, 0, 2, 0, 0)  # the missing sample counts as failed
    assert not any(isinstance(v, float) and np.isnan(v) for r in summary.table.rows for v in r)


def test_summary_with_enough_items_gives_ci_and_p_value() -> None:
    rng = np.random.default_rng(0)
    base = {str(i): _s(float(v)) for i, v in enumerate(rng.uniform(0.2, 0.6, 20))}
    ft = {str(i): _s(min(1.0, s["faithfulness"].value + 0.2)) for i, s in base.items()}  # type: ignore[operator]
    [cmp] = summarize_ragas({"base": base, "ft": ft}, ["faithfulness"], ["base", "ft"], "base").comparisons
    assert cmp.n == 20 and cmp.delta == pytest.approx(0.2) and cmp.ci_low > 0 and cmp.p_value < 0.001  # type: ignore[operator]


def test_summary_rejects_unknown_metrics() -> None:
    with pytest.raises(ValueError, match=r"metrics must be among \('faithfulness', 'answer_relevancy'\)"):
        summarize_ragas({}, ["context_recall"], ["a"], "a")
