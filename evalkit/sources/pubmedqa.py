"""PubMedQA (the expert-labelled `ori_pqal.json`): a JSON object keyed by PMID, one biomedical yes/no/maybe
question per abstract, as multiple-choice samples.

Each record becomes Sample(id=PMID, input=QUESTION, target=final_decision) with the fields `contexts` (the
abstract's passages, in order), `labels` (their section labels), `options` (["yes", "no", "maybe"], the answer
choices in letter order A, B, C) and `long_answer` (the abstract's conclusion, which the models must not see:
prompts should use `contexts` only, as in the PubMedQA "reasoning-required" setting).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.records import Sample

__all__ = ["OPTIONS", "load_pubmedqa", "pubmedqa_sample"]

OPTIONS = ("yes", "no", "maybe")
"""PubMedQA's answers, in the letter order A, B, C."""


def pubmedqa_sample(pmid: str, record: Any, where: str) -> Sample:
    """One record as a Sample; DataError naming the PMID and the field when the record is malformed."""
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: record {pmid!r} must be an object, got {type(record).__name__}")
    question, contexts, decision = record.get("QUESTION"), record.get("CONTEXTS"), record.get("final_decision")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: record {pmid!r}: 'QUESTION' must be a non-empty string, got {question!r}")
    if not isinstance(contexts, list) or not contexts or not all(isinstance(c, str) for c in contexts):
        raise DataError(f"{where}: record {pmid!r}: 'CONTEXTS' must be a non-empty list of strings")
    if decision not in OPTIONS:
        raise DataError(f"{where}: record {pmid!r}: 'final_decision' must be one of {', '.join(OPTIONS)}, "
                        f"got {decision!r}")
    return Sample(id=str(pmid), input=question.strip(), target=decision,
                  fields={"contexts": list(contexts), "labels": list(record.get("LABELS") or []),
                          "options": list(OPTIONS), "long_answer": str(record.get("LONG_ANSWER") or ""),
                          "year": str(record.get("YEAR") or "")})


def load_pubmedqa(path: Path) -> list[Sample]:
    """Every record of a PubMedQA JSON file (keyed by PMID), in file order."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path}: expected a non-empty JSON object keyed by PMID, got {type(raw).__name__}")
    return [pubmedqa_sample(pmid, record, str(path)) for pmid, record in raw.items()]
