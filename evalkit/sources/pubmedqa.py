"""PubMedQA PQA-L (1,000 expert-labelled biomedical yes/no/maybe questions, one per abstract, MIT licence) as
multiple-choice samples.

The data set lives on the Hugging Face hub as `qiaojin/PubMedQA`, config `pqa_labeled`, one split `train` (all
1,000 questions), with the columns `pubid`, `question`, `context` (`contexts`, `labels`, `meshes`, ...),
`long_answer` and `final_decision`. A local copy is either the original `ori_pqal.json` (pubmedqa/pubmedqa: a
JSON object keyed by PMID, with `QUESTION`, `CONTEXTS`, `LABELS`, `LONG_ANSWER`, `final_decision`, `YEAR`) or
a file in the hub's schema (Parquet, JSONL). Both give the same samples, keyed by PMID (the hub has no year).

Each record becomes Sample(id=PMID, input=QUESTION, target=final_decision) with the fields `contexts` (the
abstract's passages, in order), `labels` (their section labels), `options` (["yes", "no", "maybe"], the answer
choices in letter order A, B, C) and `long_answer` (the abstract's conclusion, which the models must not see:
prompts should use `contexts` only, as in the PubMedQA "reasoning-required" setting).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.records import Sample
from evalkit.sources.hub import load_hub_split, load_local_rows

__all__ = ["OPTIONS", "hub_record", "load_pubmedqa", "pubmedqa_sample", "read_pubmedqa"]

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


def hub_record(row: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """A hub row (`pubid`, `question`, `context`, `long_answer`, `final_decision`) as (PMID, the original
    file's record), so both forms go through pubmedqa_sample."""
    context = row.get("context")
    if not isinstance(context, Mapping):
        raise DataError(f"{where}: 'context' must be an object with 'contexts' and 'labels', got "
                        f"{type(context).__name__}")
    if row.get("pubid") in (None, ""):
        raise DataError(f"{where}: 'pubid' is missing")
    return str(row["pubid"]), {"QUESTION": row.get("question"), "CONTEXTS": context.get("contexts"),
                               "LABELS": context.get("labels"), "LONG_ANSWER": row.get("long_answer"),
                               "final_decision": row.get("final_decision")}


def _from_rows(rows: Iterable[Mapping[str, Any]], where: str) -> list[Sample]:
    samples = []
    for i, row in enumerate(rows, 1):
        pmid, record = hub_record(row, f"{where} row {i}")
        samples.append(pubmedqa_sample(pmid, record, where))
    if not samples:
        raise DataError(f"{where}: no questions")
    return samples


def read_pubmedqa(spec: Any, base_dir: Path, *, split_path: str | None = None, hub: bool) -> list[Sample]:
    """The questions of a `pubmedqa` suite: from the hub (`hub=True`: `spec.path` is the hub id) or from a local
    copy (`spec.path`, or `split_path`, relative to the suite folder): ori_pqal.json or a hub-schema file."""
    if hub:
        return _from_rows(load_hub_split(spec.path, spec.name, spec.split), f"{spec.path}[{spec.split}]")
    given = Path(split_path or spec.path).expanduser()
    path = given if given.is_absolute() else base_dir / given
    if not path.is_file():
        raise DataError(f"PubMedQA data file not found: {path}")
    if path.suffix.lower() == ".json":
        return load_pubmedqa(path)
    return _from_rows(load_local_rows(path, what="PubMedQA in the hub's schema"), str(path))
