"""Classification: parse a model's free-text answer into a label, and score labels. Pure functions.

Policies, stated once:

- An output that matches no label, or several labels with none of them leading the output, parses to
  INVALID. An INVALID prediction is always *wrong*: it is never dropped, it lowers accuracy and the recall
  of the true class, and it is counted in `invalid_rate`.
- The confusion matrix *always* has an INVALID column after the label columns (zeros when no output was
  invalid), so matrices of different models have the same shape and can be shown side by side.
- `zero_division` (0.0 or 1.0) is the value of a precision, recall or F1 whose denominator is zero; each
  time it is used the metric is named in `ClassificationMetrics.undefined`, so a report can say so
  instead of showing a silent 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "INVALID",
    "ClassReport",
    "ClassificationMetrics",
    "batch_confusion",
    "batch_scores",
    "classification_metrics",
    "confusion_scores",
    "encode_labels",
    "metrics_from_confusion",
    "normalize_label",
    "parse_label",
]

INVALID = "invalid"
"""The parsed label of an output that names no class (or names several, ambiguously)."""

# Words a model commonly puts before its answer ("Label: x", "The answer is x", '{"label": "x"}').
_LEAD_IN = re.compile(
    r"^(?:(?:the|final|predicted|my)\s+)*"
    r"(?:label|answer|category|class|classification|prediction|output|result|response)"
    r"(?:\s+(?:is|would\s+be))?\s+"
)

_CONNECTORS = frozenset({"or", "and", "nor", "vs", "versus"})


def normalize_label(text: str) -> str:
    """Lowercase; underscores, hyphens and punctuation become spaces; whitespace collapsed.

    >>> normalize_label(" **Not_News-Related.**\\n")
    'not news related'
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str. Got {type(text).__name__} {text!r} instead.")
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def _candidates(labels: Sequence[str], aliases: Mapping[str, str] | None) -> dict[str, str]:
    """Normalised phrase -> label, validated: no phrase may stand for two labels."""
    if isinstance(labels, str) or not labels:
        raise ValueError(f"labels must be a non-empty sequence of str. Got {labels!r} instead.")
    phrases: dict[str, str] = {}
    for label in labels:
        key = normalize_label(label)
        if not key:
            raise ValueError(f"label {label!r} is empty once normalised.")
        if key == INVALID:
            raise ValueError(f"label {label!r} is reserved for unparseable outputs; rename the class.")
        if key in phrases:
            raise ValueError(f"labels {phrases[key]!r} and {label!r} are the same once normalised ({key!r}).")
        phrases[key] = label
    for alias, label in (aliases or {}).items():
        if label not in labels:
            raise ValueError(f"alias {alias!r} maps to {label!r}, which must be among {list(labels)}.")
        key = normalize_label(alias)
        if not key or key == INVALID:
            raise ValueError(f"alias {alias!r} is empty or reserved once normalised.")
        if phrases.get(key, label) != label:
            raise ValueError(f"alias {alias!r} normalises to {key!r}, which already means {phrases[key]!r}.")
        phrases[key] = label
    return phrases


@lru_cache(maxsize=64)
def _parser(labels: tuple[str, ...], aliases: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], re.Pattern[str]]:
    """The phrases and matching pattern of a label set, built once (a run parses every output with them)."""
    phrases = _candidates(labels, dict(aliases))
    # Longest alternatives first: at any position the regex takes the longest phrase that fits there.
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
                         + r")\b")
    return phrases, pattern


def parse_label(output: str, labels: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    """The label `output` names, or INVALID.

    Matching is on normalised text and whole words, longest phrase first, so "not_news_related" is never
    read as "news_related". A label at the start of the output wins even if more text follows (after an
    optional lead-in such as "Label:" or "The answer is"); otherwise the output must name exactly one label.

    >>> parse_label("Label: Not news related.", ["news_related", "not_news_related"])
    'not_news_related'
    >>> parse_label("either news_related or not_news_related", ["news_related", "not_news_related"])
    'invalid'
    """
    if not isinstance(output, str):
        raise ValueError(f"output must be a str. Got {type(output).__name__} {output!r} instead.")
    if isinstance(labels, str) or not labels:
        raise ValueError(f"labels must be a non-empty sequence of str. Got {labels!r} instead.")
    phrases, pattern = _parser(tuple(labels), tuple((aliases or {}).items()))
    text = normalize_label(output)
    if not text:
        return INVALID
    matches = list(pattern.finditer(text))
    if not matches:
        return INVALID
    lead = _LEAD_IN.match(text)
    first = matches[0]
    if first.start() in (0, lead.end() if lead else 0):
        label = phrases[first.group()]
        if len(matches) > 1 and phrases[matches[1].group()] != label:
            # "a or b", "a / b": the model echoed the choices rather than picking one.
            gap = text[first.end():matches[1].start()].split()
            if all(w in _CONNECTORS for w in gap):
                return INVALID
        return label
    found = {phrases[m.group()] for m in matches}
    return found.pop() if len(found) == 1 else INVALID


# ---------------------------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class ClassReport:
    """Precision, recall and F1 of one class, with its support (true items of the class)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationMetrics:
    """Every classification metric of one model on one set of items."""

    n: int
    labels: tuple[str, ...]
    positive_label: str | None
    accuracy: float
    precision: float | None
    """Of the positive label; None without one. Likewise recall and f1."""
    recall: float | None
    f1: float | None
    f1_macro: float
    """Unweighted mean of the per-class F1 over `labels` (INVALID is not a class)."""
    invalid_rate: float
    n_invalid: int
    confusion: tuple[tuple[int, ...], ...]
    """Rows: `labels` (true); columns: `confusion_columns` (predicted)."""
    confusion_columns: tuple[str, ...]
    per_class: tuple[ClassReport, ...]
    zero_division: float
    undefined: tuple[str, ...] = ()
    """Metrics whose denominator was zero and which therefore equal `zero_division` (e.g. 'precision[b]')."""


def _check_zero_division(zero_division: float) -> None:
    if zero_division not in (0.0, 1.0):
        raise ValueError(f"zero_division must be a float among {{0.0, 1.0}}. Got {zero_division!r} instead.")


def _validate(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> tuple[list[str], ...]:
    if isinstance(labels, str) or len(labels) < 1 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be a sequence of distinct str. Got {labels!r} instead.")
    if INVALID in labels:
        raise ValueError(f"{INVALID!r} is reserved for unparseable outputs and cannot be a label.")
    t, p = list(y_true), list(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred must have equal lengths. Got {len(t)} and {len(p)} instead.")
    if not t:
        raise ValueError("y_true and y_pred must not be empty. Got 0 items.")
    allowed = set(labels)
    unknown_true = sorted({str(v) for v in t} - allowed)
    if unknown_true:
        raise ValueError(f"y_true values must be among {sorted(allowed)}. Got {unknown_true} instead.")
    unknown_pred = sorted({str(v) for v in p} - allowed - {INVALID})
    if unknown_pred:
        raise ValueError(f"y_pred values must be among {sorted(allowed | {INVALID})}. Got {unknown_pred} instead.")
    return t, p, list(labels)


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str],
                           positive_label: str | None = None, *,
                           zero_division: float = 0.0) -> ClassificationMetrics:
    """Accuracy, positive-class precision/recall/F1, macro F1, invalid rate, confusion matrix, per-class report.

    >>> m = classification_metrics(["a", "b", "b"], ["a", "b", "invalid"], ["a", "b"], positive_label="b")
    >>> round(m.accuracy, 3), m.recall, round(m.f1_macro, 3), m.confusion
    (0.667, 0.5, 0.833, ((1, 0, 0), (0, 1, 1)))
    """
    _check_zero_division(zero_division)
    t, p, labels = _validate(y_true, y_pred, labels)
    if positive_label is not None and positive_label not in labels:
        raise ValueError(f"positive_label must be a str among {labels}. Got {positive_label!r} instead.")
    return metrics_from_confusion(batch_confusion(encode_labels(t, labels), encode_labels(p, labels),
                                                  len(labels))[0], labels, positive_label,
                                  zero_division=zero_division)


def metrics_from_confusion(confusion: np.ndarray, labels: Sequence[str], positive_label: str | None = None, *,
                           zero_division: float = 0.0) -> ClassificationMetrics:
    """classification_metrics from a confusion matrix of counts (rows: `labels` true; columns: `labels`
    predicted, then INVALID), e.g. batch_confusion of code arrays: a million items never become strings.

    >>> m = metrics_from_confusion(np.array([[1, 0, 0], [0, 1, 1]]), ["a", "b"], "b")
    >>> round(m.accuracy, 3), m.recall, m.n_invalid
    (0.667, 0.5, 1)
    """
    _check_zero_division(zero_division)
    labels = list(labels)
    k = len(labels)
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.shape != (k, k + 1):
        raise ValueError(f"confusion must have shape ({k}, {k + 1}) (labels x labels + invalid). Got {cm.shape}.")
    n = int(cm.sum())
    if n == 0:
        raise ValueError("y_true and y_pred must not be empty. Got 0 items.")
    pos = labels.index(positive_label) if positive_label is not None else None
    tp = np.diagonal(cm[:, :k]).astype(float)
    predicted = cm[:, :k].sum(axis=0).astype(float)
    actual = cm.sum(axis=1).astype(float)
    prec = _ratio(tp, predicted, zero_division)
    rec = _ratio(tp, actual, zero_division)
    f1_den = 2 * tp + (predicted - tp) + (actual - tp)
    f1 = _ratio(2 * tp, f1_den, zero_division)
    undefined: list[str] = []
    for i, label in enumerate(labels):
        if predicted[i] == 0:
            undefined.append(f"precision[{label}]")
        if actual[i] == 0:
            undefined.append(f"recall[{label}]")
        if f1_den[i] == 0:
            undefined.append(f"f1[{label}]")
    per_class = tuple(ClassReport(label, float(prec[i]), float(rec[i]), float(f1[i]), int(actual[i]))
                      for i, label in enumerate(labels))
    n_invalid = int(cm[:, k].sum())
    return ClassificationMetrics(
        n=n,
        labels=tuple(labels),
        positive_label=positive_label,
        accuracy=float(tp.sum()) / n,
        precision=None if pos is None else float(prec[pos]),
        recall=None if pos is None else float(rec[pos]),
        f1=None if pos is None else float(f1[pos]),
        f1_macro=float(np.mean(f1)),
        invalid_rate=n_invalid / n,
        n_invalid=n_invalid,
        confusion=tuple(tuple(int(x) for x in row) for row in cm),
        confusion_columns=(*labels, INVALID),
        per_class=per_class,
        zero_division=zero_division,
        undefined=tuple(undefined),
    )


# ---------------------------------------------------------------------------------------------------------
# Vectorised form, for bootstrapping


def encode_labels(values: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Integer codes: the index in `labels`, and len(labels) for INVALID."""
    index = {label: i for i, label in enumerate(labels)}
    index[INVALID] = len(labels)
    try:
        return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    except KeyError as e:
        raise ValueError(f"values must be among {[*labels, INVALID]}. Got {e.args[0]!r} instead.") from None


def _ratio(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    safe = np.where(den == 0, 1, den)
    return np.where(den == 0, zero_division, num / safe)


def batch_confusion(true_codes: np.ndarray, pred_codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion counts per row of code arrays: shape (rows, n_labels, n_labels + 1), INVALID last."""
    t, p = np.atleast_2d(true_codes), np.atleast_2d(pred_codes)
    rows, width = t.shape[0], n_labels * (n_labels + 1)
    # One bincount over all rows at once: row r's cells live at offsets [r * width, (r + 1) * width).
    flat = (t * (n_labels + 1) + p) + (np.arange(rows) * width)[:, np.newaxis]
    return np.bincount(flat.ravel(), minlength=rows * width).reshape(rows, n_labels, n_labels + 1)


def batch_scores(true_codes: np.ndarray, pred_codes: np.ndarray, n_labels: int, positive: int | None = None,
                 zero_division: float = 0.0) -> dict[str, np.ndarray]:
    """classification_metrics' scalar metrics for each row of code arrays (e.g. bootstrap resamples).

    Agrees with `classification_metrics` on every row (same zero_division policy); returns one value per
    row for accuracy, invalid_rate, f1_macro and, given a `positive` code, precision, recall and f1.
    """
    return confusion_scores(batch_confusion(true_codes, pred_codes, n_labels), positive, zero_division)


def confusion_scores(confusion: np.ndarray, positive: int | None = None,
                     zero_division: float = 0.0) -> dict[str, np.ndarray]:
    """batch_scores from confusion counts of shape (rows, n_labels, n_labels + 1), INVALID last (e.g. counts
    drawn by evalkit.stats.bootstrap_counts)."""
    _check_zero_division(zero_division)
    cm = np.asarray(confusion, dtype=float)
    n_labels = cm.shape[1]
    n = cm.sum(axis=(1, 2))
    tp = np.diagonal(cm[:, :, :n_labels], axis1=1, axis2=2)   # (rows, labels)
    predicted = cm[:, :, :n_labels].sum(axis=1)                # column sums, INVALID excluded
    actual = cm.sum(axis=2)                                    # row sums, INVALID included (it is a miss)
    fp, fn = predicted - tp, actual - tp
    f1 = _ratio(2 * tp, 2 * tp + fp + fn, zero_division)
    out = {
        "accuracy": tp.sum(axis=1) / n,
        "invalid_rate": cm[:, :, n_labels].sum(axis=1) / n,
        "f1_macro": f1.mean(axis=1),
    }
    if positive is not None:
        out["precision"] = _ratio(tp[:, positive], predicted[:, positive], zero_division)
        out["recall"] = _ratio(tp[:, positive], actual[:, positive], zero_division)
        out["f1"] = f1[:, positive]
    return out
