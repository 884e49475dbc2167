"""Blind human preference studies: export a run as a blind packet (one offline HTML page and a CSV per rater),
import the raters' verdict files, and summarise them (wins/ties/losses, sign test, Wilson intervals, agreement).
See docs/human-preference.md.

    result = export_packet(run_dir, "translation", raters=2, seed=0)   # files to send: result.files
    imported = import_verdicts(run_dir, [Path("verdicts-hp-...-r1.json")])
    section = human_section(read_summary(run_dir))                     # for write_report(..., sections=...)
"""

from __future__ import annotations

from pathlib import Path

from evalkit.human._packet import build_packet, candidate_texts, check_key, packet_sha256, run_fingerprint
from evalkit.human._records import (
    AgreementResult,
    Choice,
    HumanSummary,
    ImportRecord,
    JudgeAgreementResult,
    KeyItem,
    PacketItem,
    PacketKey,
    PacketSummary,
    RaterKey,
    RaterResult,
    StoredVerdict,
    VerdictEntry,
    VerdictFile,
)
from evalkit.human._report import human_section
from evalkit.human._store import (
    HUMAN_DIR,
    PACKETS_DIR,
    SUMMARY_FILE,
    ExportResult,
    ImportResult,
    export_packet,
    import_verdicts,
    read_keys,
    read_summary,
    write_summary,
)
from evalkit.human._summary import cohen_kappa, krippendorff_alpha_nominal, summarize_packet
from evalkit.human._tasks import BUILTIN_TASKS, StudyTask, load_study_task
from evalkit.human._verdicts import parse_verdict_file

__all__ = [
    "BUILTIN_TASKS",
    "HUMAN_DIR",
    "PACKETS_DIR",
    "SUMMARY_FILE",
    "AgreementResult",
    "Choice",
    "ExportResult",
    "HumanSummary",
    "ImportRecord",
    "ImportResult",
    "JudgeAgreementResult",
    "KeyItem",
    "PacketItem",
    "PacketKey",
    "PacketSummary",
    "RaterKey",
    "RaterResult",
    "StoredVerdict",
    "StudyTask",
    "VerdictEntry",
    "VerdictFile",
    "build_packet",
    "candidate_texts",
    "check_key",
    "cohen_kappa",
    "export_packet",
    "human_section",
    "import_verdicts",
    "krippendorff_alpha_nominal",
    "load_study_task",
    "packet_sha256",
    "parse_verdict_file",
    "read_keys",
    "read_summary",
    "report_sections",
    "run_fingerprint",
    "summarize_packet",
    "write_summary",
]


def report_sections(run_dir: Path) -> tuple:
    """The extra report sections of a run directory (its imported human verdicts), for write_report."""
    section = human_section(read_summary(Path(run_dir)))
    return (section,) if section is not None else ()
