"""MMLU (Hendrycks et al., MIT licence): four-option multiple-choice exam questions, one config per subject.

The data set lives on the Hugging Face hub as `cais/mmlu` (config = subject, e.g. `medical_genetics`; splits
`test`, `validation`, `dev`), with the columns `question`, `subject`, `choices` (the four option texts) and
`answer` (a class label: 0-3 for A-D). A local copy is either MMLU's original CSV (hendrycks/test:
`data/test/medical_genetics_test.csv`, no header, one row `question, A, B, C, D, answer letter`) or a file in
the hub's schema (Parquet, JSONL).

Each question becomes Sample(id=`<split>-NNN`, input=question, target=answer letter) with the fields `options`
(the four texts, in letter order A-D) and `subject`. The id is the question's 1-based position in its split, the
same on the hub and in the original CSV (the hub's files were converted from those CSVs in order), so runs on
either pair up item by item.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.records import Sample
from evalkit.sources.hub import load_hub_split, load_local_rows

__all__ = ["LETTERS", "load_mmlu", "mmlu_sample", "read_original_csv"]

LETTERS = "ABCD"
"""MMLU's answer letters, in option order."""


def mmlu_sample(position: int, split: str, question: Any, choices: Any, answer: Any, subject: str,
                where: str) -> Sample:
    """One question as a Sample; DataError naming `where` and the field when a value is not MMLU's shape.

    `answer` is a letter (the original CSV) or an option index 0-3 (the hub's class label).
    """
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: 'question' must be a non-empty string, got {question!r}")
    if (not isinstance(choices, Sequence) or isinstance(choices, str) or len(choices) != len(LETTERS)
            or not all(isinstance(c, str) for c in choices)):
        raise DataError(f"{where}: 'choices' must be {len(LETTERS)} option texts, got {choices!r}")
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(LETTERS):
        letter = LETTERS[answer]
    elif isinstance(answer, str) and answer.strip().upper() in tuple(LETTERS):
        letter = answer.strip().upper()
    else:
        raise DataError(f"{where}: 'answer' must be one of {', '.join(LETTERS)} (or 0-3), got {answer!r}")
    return Sample(id=f"{split}-{position:03d}", input=question.strip(), target=letter,
                  fields={"options": [c.strip() for c in choices], "subject": subject})


def read_original_csv(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, row) for each row of an original MMLU CSV; DataError naming the line of a short row."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(enumerate(csv.reader(fh), 1))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: invalid CSV: {exc}") from None
    for lineno, row in rows:
        if len(row) != 2 + len(LETTERS):
            raise DataError(f"{path}:{lineno}: expected 6 values (question, A, B, C, D, answer), got {len(row)}")
    return rows


def _from_csv(path: Path, split: str, subject: str) -> list[Sample]:
    return [mmlu_sample(i, split, row[0], row[1:5], row[5], subject, f"{path}:{lineno}")
            for i, (lineno, row) in enumerate(read_original_csv(path), 1)]


def _from_rows(rows: Iterable[Mapping[str, Any]], split: str, subject: str, where: str) -> list[Sample]:
    return [mmlu_sample(i, split, row.get("question"), row.get("choices"), row.get("answer"),
                        str(row.get("subject") or subject), f"{where} row {i}")
            for i, row in enumerate(rows, 1)]


def load_mmlu(spec: Any, base_dir: Path, *, split_path: str | None = None, hub: bool) -> list[Sample]:
    """The questions of an `mmlu` suite: from the hub (`hub=True`: `spec.path` is the hub id, `spec.name` the
    subject) or from a local copy (`spec.path`, or `split_path`, relative to the suite folder)."""
    subject = spec.name or ""
    if hub:
        return _check(_from_rows(load_hub_split(spec.path, spec.name, spec.split), spec.split, subject,
                                 f"{spec.path}/{subject}[{spec.split}]"), spec.path)
    given = Path(split_path or spec.path).expanduser()
    path = given if given.is_absolute() else base_dir / given
    if not path.is_file():
        raise DataError(f"MMLU data file not found: {path}")
    if path.suffix.lower() == ".csv":
        samples = _from_csv(path, spec.split, subject)
    else:
        samples = _from_rows(load_local_rows(path, what="MMLU in the hub's schema"), spec.split, subject, str(path))
    return _check(samples, str(path))


def _check(samples: list[Sample], where: str) -> list[Sample]:
    if not samples:
        raise DataError(f"{where}: no questions")
    return samples
