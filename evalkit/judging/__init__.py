"""Judges: stored judge files, structured-output LLM judge calls with bounded re-asks, check judges (criteria
scored by deterministic checks), pairwise bookkeeping, and agreement with humans and between judges.
See docs/judging.md.

    spec = find_judge("legal_quality", dirs=[Path("judges")])
    outcome = await ask_judge(judge_model, spec, {"question": q, "answer_1": a, "answer_2": b}, spec.variables)
    slot_scores(spec, outcome.value)   # (score of slot 1, score of slot 2) when outcome.ok

    checks = find_judge("bsard_checks", dirs=[Path("judges")])        # kind: checks
    verdict = check_answer(checks, answer, sample)                      # per-criterion CheckResults
    pair = check_pair(verdict_a.results, verdict_b.results, opponent_name="base")

The package is a library: it imports only records, statistics, checks, error helpers and (by duck typing) the
model wrapper; judged tasks build on it through evalkit.tasks.judged, and the `evalkit judge` command
(evalkit/judge_command.py, with evalkit/label_files.py) is its CLI edge.
"""

from evalkit.judging._agreement import (
    AGREEMENT_WARN_BELOW,
    KAPPA_WARN_BELOW,
    LABELS,
    VERDICTS,
    Agreement,
    JudgeAgreement,
    Label,
    Verdict,
    agreement,
    judge_agreement,
)
from evalkit.judging._answer import (
    ParsedAnswer,
    criterion_scores,
    parse_answer,
    single_score,
    slot_scores,
)
from evalkit.judging._calls import JudgeCallStats, judge_call_stats, judge_calls_table
from evalkit.judging._checking import (
    CHECKS_MODEL,
    CheckVerdict,
    check_answer,
    check_pair,
    criterion_points,
)
from evalkit.judging._client import (
    DEFAULT_MAX_REASKS,
    JudgeOutcome,
    ask_judge,
    judge_params,
    reask_message,
)
from evalkit.judging._labels import LabeledPair, parse_label
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
    AnyJudgeSpec,
    CheckCriterion,
    CheckJudgeSpec,
    ChoiceResult,
    JudgeSpec,
    ScoreResult,
    ScoresResult,
    available_judges,
    find_judge,
    load_judge,
    template_sha256,
)

__all__ = [
    "AGREEMENT_WARN_BELOW",
    "BUILTIN_VARIABLES",
    "CHECKS_MODEL",
    "DEFAULT_MAX_REASKS",
    "KAPPA_WARN_BELOW",
    "LABELS",
    "LENGTH_BINS",
    "VERDICTS",
    "Agreement",
    "AnyJudgeSpec",
    "CheckCriterion",
    "CheckJudgeSpec",
    "CheckVerdict",
    "ChoiceResult",
    "JudgeAgreement",
    "JudgeCallStats",
    "JudgeOutcome",
    "JudgeSpec",
    "Label",
    "LabeledPair",
    "LengthBias",
    "LengthBin",
    "Outcome",
    "PairJudgment",
    "PairStats",
    "ParsedAnswer",
    "ScoreResult",
    "ScoresResult",
    "Verdict",
    "agreement",
    "ask_judge",
    "available_judges",
    "check_answer",
    "check_pair",
    "criterion_points",
    "criterion_scores",
    "find_judge",
    "judge_agreement",
    "judge_call_stats",
    "judge_calls_table",
    "judge_params",
    "judge_variables",
    "length_bias",
    "load_judge",
    "pair_stats",
    "parse_answer",
    "parse_label",
    "reask_message",
    "render_judge_prompt",
    "single_score",
    "slot_scores",
    "template_sha256",
]
