"""LLM judges: stored judge files, structured-output calls with bounded re-asks, pairwise bookkeeping, and
agreement with human labels. See docs/judging.md.

    spec = find_judge("legal_quality")
    outcome = await ask_judge(judge_model, spec, {"question": q, "answer_1": a, "answer_2": b}, spec.variables)
    slot_scores(spec, outcome.value)   # (score of slot 1, score of slot 2) when outcome.ok
"""

from evalkit.judging._agreement import LABELS, Agreement, Label, agreement
from evalkit.judging._answer import ParsedAnswer, parse_answer, single_score, slot_scores
from evalkit.judging._calls import JudgeCallStats, judge_call_stats, judge_calls_table
from evalkit.judging._client import DEFAULT_MAX_REASKS, JudgeOutcome, ask_judge, judge_params, reask_message
from evalkit.judging._pairs import (
    LENGTH_BINS,
    LengthBias,
    LengthBin,
    Outcome,
    PairJudgment,
    PairStats,
    length_bias,
    pair_stats,
)
from evalkit.judging._render import judge_variables, render_judge_prompt
from evalkit.judging._spec import (
    BUILTIN_VARIABLES,
    ChoiceResult,
    JudgeSpec,
    ScoreResult,
    ScoresResult,
    available_judges,
    find_judge,
    judge_dirs,
    load_judge,
    template_sha256,
)

__all__ = [
    "BUILTIN_VARIABLES",
    "DEFAULT_MAX_REASKS",
    "LABELS",
    "LENGTH_BINS",
    "Agreement",
    "ChoiceResult",
    "JudgeCallStats",
    "JudgeOutcome",
    "JudgeSpec",
    "Label",
    "LengthBias",
    "LengthBin",
    "Outcome",
    "PairJudgment",
    "PairStats",
    "ParsedAnswer",
    "ScoreResult",
    "ScoresResult",
    "agreement",
    "ask_judge",
    "available_judges",
    "find_judge",
    "judge_call_stats",
    "judge_calls_table",
    "judge_dirs",
    "judge_params",
    "judge_variables",
    "length_bias",
    "load_judge",
    "pair_stats",
    "parse_answer",
    "reask_message",
    "render_judge_prompt",
    "single_score",
    "slot_scores",
    "template_sha256",
]
