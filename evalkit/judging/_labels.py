"""Human labels on answer pairs, as calibration compares them with judge verdicts: the record and the label
vocabulary (reading label files is the command's: evalkit/label_files.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.judging._agreement import Label

__all__ = ["LabeledPair", "parse_label"]

_LABELS: Mapping[str, Label] = {
    "1": "1", "a": "1", "answer_1": "1", "output_1": "1",
    "2": "2", "b": "2", "answer_2": "2", "output_2": "2",
    "tie": "tie", "0": "tie", "draw": "tie", "equal": "tie", "=": "tie",
}


@dataclass(frozen=True)
class LabeledPair:
    """One pair of answers to a question, with the human's preference."""

    id: str
    question: str
    answer_1: str
    answer_2: str
    human: Label


def parse_label(value: Any) -> Label | None:
    """The label a human value stands for (`1`, `2` or `tie`), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _LABELS.get(str(value).strip().lower())
