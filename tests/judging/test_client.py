"""One judgment: structured-output request, validation, the re-ask budget, cache keys, the recorded calls."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evalkit.cache import ResponseCache
from evalkit.judging import ask_judge, judge_calls_table
from evalkit.tasks.judged import find_task_judge
from judging.fakejudge import FATAL, judge_model, scores

LQ = find_task_judge("legal_quality")
ITEM = {"question": "Puis-je résilier mon bail ?", "answer_1": "Oui, art. 3 § 5.", "answer_2": "Peut-être."}


def ask(judge, max_reasks: int = 2):
    return asyncio.run(ask_judge(judge, LQ, ITEM, LQ.variables, max_reasks=max_reasks, seed=7, sample_id="s1",
                                 details={"order": "ft|base"}))


def test_valid_first_answer_is_one_call_with_everything_recorded() -> None:
    judge = judge_model(queue=[scores(3, 1, "cites art. 3")])
    out = ask(judge)
    assert out.ok and out.value["score_answer_1"] == 3 and len(out.judgments) == 1
    j = out.judgments[0]
    assert (j.judge_id, j.judge_version, j.template_sha256) == ("legal_quality", "2", LQ.template_sha256)
    assert j.judge_model == "judge-x" and j.error is None and j.parsed == out.value
    assert j.raw_response == scores(3, 1, "cites art. 3")
    assert "Puis-je résilier mon bail ?" in j.prompt and "Answer 1:\n<<<\nOui, art. 3 § 5.\n>>>" in j.prompt
    assert j.usage.prompt_tokens == 100 and j.usage.completion_tokens == 20
    assert j.cost_usd == pytest.approx((100 * 2.0 + 20 * 6.0) / 1e6) and j.latency_s is not None
    assert j.details == {"order": "ft|base", "attempt": 0, "cached": False, "status": "ok"}
    request = judge.provider.requests[0]
    assert request.params.json_schema == LQ.output_schema and request.params.seed == 7
    assert request.params.temperature == 0.0 and request.params.max_tokens == LQ.max_tokens


def test_invalid_twice_then_valid_makes_three_calls() -> None:
    judge = judge_model(queue=["Answer 1 is better.", scores(2, 1).replace('"score_answer_1": 2', '"score_answer_1": 9'),
                               scores(2, 1)])
    out = ask(judge)
    assert out.ok and out.value["score_answer_1"] == 2
    assert len(judge.provider.requests) == 3 and len(out.judgments) == 3
    assert [j.details["status"] for j in out.judgments] == ["invalid", "invalid", "ok"]
    assert [j.details["attempt"] for j in out.judgments] == [0, 1, 2]
    assert "not valid JSON" in out.judgments[0].error and "9 is not one of" in out.judgments[1].error
    # Each re-ask carries the conversation so far: the invalid answer and what was wrong with it.
    second = judge.provider.requests[1].prompt.messages
    assert [m.role for m in second] == ["user", "assistant", "user"]
    assert second[1].content == "Answer 1 is better." and "not valid JSON" in second[2].content
    assert '"score_answer_1"' in second[2].content  # the schema is restated
    third = judge.provider.requests[2].prompt.messages
    assert len(third) == 5 and "9 is not one of [0, 1, 2, 3]" in third[4].content
    assert "[assistant]\nAnswer 1 is better." in out.judgments[1].prompt


def test_always_invalid_stops_after_the_budget() -> None:
    judge = judge_model(lambda prompt: "no idea")
    out = ask(judge, max_reasks=2)
    assert out.status == "invalid" and out.value is None and len(judge.provider.requests) == 3
    assert "still invalid after 2 re-ask(s)" in out.error and all(j.parsed is None for j in out.judgments)
    judge0 = judge_model(lambda prompt: "no idea")
    assert ask(judge0, max_reasks=0).status == "invalid" and len(judge0.provider.requests) == 1


def test_a_failed_call_is_not_reasked() -> None:
    judge = judge_model(queue=[FATAL])
    out = ask(judge)
    assert out.status == "failed" and len(judge.provider.requests) == 1
    assert out.judgments[0].raw_response is None and "HTTP 400" in out.judgments[0].error


def test_reasks_have_distinct_cache_keys_and_replay_from_the_cache(tmp_path: Path) -> None:
    cache = ResponseCache.in_dir(tmp_path)
    try:
        first = judge_model(queue=["bad", "bad", scores(1, 2)], cache=cache)
        out = ask(first)
        assert out.ok and len(first.provider.requests) == 3
        assert cache._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 3
        again = judge_model(lambda prompt: pytest.fail("a cached judgment called the judge"), cache=cache)
        out2 = ask(again)
        assert out2.value == out.value and again.stats.cache_hits == 3
        assert [j.details["cached"] for j in out2.judgments] == [True, True, True]
    finally:
        cache.close()


def test_judge_calls_table_counts_reasks_invalid_and_cost() -> None:
    out = ask(judge_model(queue=["bad", scores(1, 1)]))
    table = judge_calls_table(out.judgments)
    row = dict(zip(table.columns, table.rows[0]))
    assert row["calls"] == 2 and row["re-asks"] == 1 and row["invalid answers"] == 1 and row["failed calls"] == 0
    assert row["prompt tokens"] == 200 and row["cost (USD)"] == pytest.approx(2 * (200 + 120) / 1e6)
    assert json.dumps(table.model_dump(mode="json"))  # plain JSON
