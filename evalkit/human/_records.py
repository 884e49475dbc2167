"""Typed records of a blind human preference study: the packet a rater sees, the key that unblinds it, the
verdict file a rater sends back, what an import stores, and the summary the report shows.

Vocabulary: a *packet* is one export (one pair of models, one study task, one or more raters); each rater
gets their own file of it, with their own left/right order. A verdict's `choice` is `1` (the first candidate
shown, on the left), `2` (the second, on the right) or `tie`; only the key says which model each side was.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evalkit.human._tasks import StudyTask
from evalkit.records import Record

__all__ = [
    "AgreementResult",
    "Choice",
    "ImportRecord",
    "JudgeAgreementResult",
    "KeyItem",
    "PacketItem",
    "PacketKey",
    "PacketSummary",
    "RaterKey",
    "RaterResult",
    "StoredVerdict",
    "HumanSummary",
    "VerdictEntry",
    "VerdictFile",
]

KEY_FORMAT = "evalkit-human-key"
VERDICT_FORMAT = "evalkit-human-verdicts"
FORMAT_VERSION = 1

Choice = Literal["1", "2", "tie"]
"""Which candidate a rater preferred: the first shown (`1`), the second (`2`), or neither (`tie`)."""


class PacketItem(Record):
    """One item as a rater sees it: neutral id, the source and two anonymous candidates."""

    item: str
    """Neutral id (`i001`, ...), the same for every rater of a packet."""
    source: str
    candidate_1: str
    """Shown first (left)."""
    candidate_2: str
    """Shown second (right)."""
    reference: str | None = None
    """The reference answer, only when the study task shows one."""


class KeyItem(Record):
    """Which model stood behind each side of one item, for one rater."""

    item: str
    sample_id: str
    position: int
    """Display position (1-based) in this rater's file."""
    left: str
    """Model shown as candidate 1."""
    right: str
    """Model shown as candidate 2."""


class RaterKey(Record):
    """One rater's file of a packet: its hash and side assignment."""

    rater: str
    packet_sha256: str
    """SHA-256 of the packet content this rater sees (items in display order, texts, ids); also in the file
    and in every verdict file, so the key, the packet and the verdicts can be checked against each other."""
    files: dict[str, str] = Field(default_factory=dict)
    """Kind (`html`, `csv`) -> file name of the packet files written for this rater."""
    items: tuple[KeyItem, ...]


class PacketKey(Record):
    """The unblinding key of a packet; stays in the run directory, never in a packet."""

    format: Literal["evalkit-human-key"] = "evalkit-human-key"
    version: int = FORMAT_VERSION
    packet_id: str
    run_id: str
    run: str
    """Fingerprint of the run id, the only trace of the run a packet carries."""
    task: str
    """The study task (presentation and question), e.g. `translation`."""
    study: StudyTask
    """The study task in full (a custom one may come from a YAML file that is gone by import time)."""
    model_a: str
    """The model whose preference rate is reported (usually the fine-tuned one)."""
    model_b: str
    """The model it is compared with (usually the reference)."""
    seed: int
    raters: tuple[RaterKey, ...]
    excluded: dict[str, str] = Field(default_factory=dict)
    """Sample id -> why it is not in the packet (e.g. a model produced no output)."""
    key_sha256: str = ""
    """SHA-256 of this key without this field: a hand-edited key is refused."""


class VerdictEntry(Record):
    """One answered item in a verdict file."""

    item: str
    choice: Choice
    comment: str = ""
    answered_at: str | None = None


class VerdictFile(Record):
    """What a rater sends back (JSON from the packet's download button, or the CSV filled in)."""

    format: Literal["evalkit-human-verdicts"] = "evalkit-human-verdicts"
    version: int = FORMAT_VERSION
    packet_id: str
    run: str
    packet_sha256: str
    rater: str
    task: str | None = None
    exported_at: str | None = None
    verdicts: tuple[VerdictEntry, ...]


class StoredVerdict(Record):
    """One unblinded verdict, as stored by an import."""

    item: str
    sample_id: str
    choice: Choice
    preferred: str
    """The preferred model's name, or `tie`."""
    comment: str = ""


class ImportRecord(Record):
    """One imported verdict file (a line of RUN_DIR/human/<packet>/imports.jsonl)."""

    packet_id: str
    rater: str
    file: str
    """Base name of the imported file."""
    file_sha256: str
    imported_at: str
    verdicts: tuple[StoredVerdict, ...]


# ---------------------------------------------------------------------------------------------------------
# Summary


class RaterResult(Record):
    """Wins, ties and losses of model_a against model_b over the items one rater (or the majority) judged."""

    rater: str
    """A rater id, or `majority` (per-item majority of several raters; no majority counts as a tie)."""
    n: int
    wins: int
    """Items where model_a was preferred."""
    ties: int
    losses: int
    """Items where model_b was preferred."""
    at_least_as_good: float | None
    """(wins + ties) / n."""
    at_least_as_good_ci: tuple[float, float] | None
    win_rate: float | None
    """wins / n."""
    win_rate_ci: tuple[float, float] | None
    """Wilson 95% interval."""
    sign_test_p: float
    """Two-sided exact sign test of wins against losses (ties excluded)."""


class AgreementResult(Record):
    """Agreement between raters on the unblinded labels (model_a / model_b / tie)."""

    raters: tuple[str, ...]
    n_items: int
    """Items rated by at least two raters."""
    method: Literal["cohen_kappa", "krippendorff_alpha"]
    value: float | None
    """None when undefined (e.g. every rater gave one and the same label throughout)."""
    percent_agreement: float | None
    """Share of rater pairs, over items, that gave the same label."""


class JudgeAgreementResult(Record):
    """Agreement of an LLM judge (run on the same items, both orders) with the human verdict."""

    human: str
    """The human label used: a rater id, or `majority`."""
    n: int
    n_invalid: int
    with_ties: float | None
    without_ties: float | None
    kappa: float | None


class PacketSummary(Record):
    """Everything the report shows about one packet."""

    packet_id: str
    task: str
    model_a: str
    model_b: str
    n_items: int
    raters: tuple[str, ...]
    """Raters with at least one imported verdict."""
    results: tuple[RaterResult, ...]
    agreement: AgreementResult | None = None
    judge_agreement: JudgeAgreementResult | None = None
    imports: int = 0


class HumanSummary(Record):
    """RUN_DIR/human_summary.json: every packet of a run with imported verdicts."""

    run_id: str
    generated_at: str
    packets: tuple[PacketSummary, ...]
