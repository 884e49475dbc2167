"""Multiple choice: read the chosen option out of a model's free text, and aggregate repeated attempts. Pure.

Parsing rules, stated once, tried in this order (the first that yields a letter wins):

0. **Final answer.** A statement "final answer is X" (or "final choice: X") anywhere overrides everything else;
   the last such statement wins ("The answer is A. Wait... the final answer is: D" is D).
1. **Leading letter.** After markdown (`**`, `__`, backticks, `#`, `>`), quotes and an optional lead-in
   ("Answer:", "Letter:", "The correct answer is", "Option", ...) are stripped, the text starts with a valid
   letter: bracketed ("(b)", "[C]") or followed by a delimiter (`.` `:` `)` `,` `-` end of text), e.g.
   "D", "**C**", "C.", "Answer: C) ...", "Letter: D: gastrointestinal neoplasms". A capital letter followed by
   a space also counts ("B because ..."), except a capital "A" without a lead-in, which is the English article
   ("A mutation in ..."). A lower-case letter needs a bracket, a `.` `)` `:` or the end of the text.
2. **Answer statement** anywhere: "the answer is (b)", "correct option: C", `{"answer": "C"}`, "B is the correct
   answer". When several statements name different letters, the *last* one wins (models conclude at the end).
3. **Leading option text**: the text (after the lead-in) starts with one option's own words ("Vascular disease
   -- ...", "Yes, because ..."); the longest matching option wins; "Yes or no ..." is an enumeration, not this.
4. **One option mentioned**: the text names exactly one option's words (whole words, case and punctuation
   ignored; an option inside a longer mentioned option does not count separately).
5. **One bracketed letter** anywhere ("I would pick (C) here").

A letter followed by more letters in an enumeration ("A, B, C, or D", "A/B") never counts: the model listed the
choices instead of picking one. Anything else is INVALID ("unparsable"): its own outcome, always wrong, counted.

Attempt aggregation (`summarize_attempts`) works on one model's parsed answers to one item, one per attempt,
None for a failed call (no output): failed attempts are left out; the item's score is the share of its scored
attempts that are correct; the majority answer is the strict plurality among scored attempts (INVALID counts
as an answer; a tie has no majority and its majority vote is wrong); agreement is the share of scored attempts
that gave the modal answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from evalkit.metrics.classification import INVALID

__all__ = [
    "INVALID",
    "AttemptAccuracy",
    "Choice",
    "ItemAttempts",
    "attempt_accuracy",
    "option_letters",
    "parse_choice",
    "summarize_attempts",
]

Rule = Literal["final_answer", "leading_letter", "answer_statement", "leading_option_text", "option_text",
               "bracketed_letter", "none"]

_MAX_OPTIONS = 26


def option_letters(n: int) -> tuple[str, ...]:
    """The first `n` capital letters: the labels of `n` options.

    >>> option_letters(4)
    ('A', 'B', 'C', 'D')
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= _MAX_OPTIONS:
        raise ValueError(f"n must be an int in [2, {_MAX_OPTIONS}]. Got {n!r} instead.")
    return tuple(chr(ord("A") + i) for i in range(n))


@dataclass(frozen=True)
class Choice:
    """A parsed answer: the option letter (or INVALID) and the rule that found it."""

    letter: str
    rule: Rule


# Markdown emphasis, code, headings and quote marks carry no answer; removing them exposes "**C**" as "C".
_MARKUP = re.compile(r"[*_`#>]+")
_QUOTES = "\"'“”‘’«»"
_LEAD_IN = re.compile(
    r"^(?:(?:so|thus|therefore|hence|overall|in\s+conclusion)\s*,?\s+)?"
    r"(?:(?:the|my|final|correct|best|right|most\s+likely|chosen|selected)\s+)*"
    r"(?:answer|letter|option|choice|response|solution)s?"
    r"(?:\s+(?:is|would\s+be|should\s+be|will\s+be|=))?\s*(?:[:=\-–—]+\s*)?",
    re.IGNORECASE,
)
# Right after a letter these end it ("C." "D:" "B,"); a dash must be spaced ("D - ...") so "B-cell" stays a word.
_DELIMS = ".:,;)!?"


def _strip(text: str) -> str:
    return _MARKUP.sub("", text).strip().strip(_QUOTES).strip()


def _strip_lead_in(text: str) -> tuple[str, bool]:
    """The text without its lead-in ("The answer is", "Answer: Option"), and whether there was one."""
    found = False
    for _ in range(2):  # "Answer: Option C": two lead-ins in a row
        m = _LEAD_IN.match(text)
        if not m or m.end() == 0:
            break
        # A lead-in word must end there ("Optionally" is no lead-in).
        if m.end() < len(text) and text[m.end() - 1].isalnum() and text[m.end()].isalnum():
            break
        text, found = text[m.end():].lstrip().lstrip(_QUOTES), True
    return text, found


def _is_enumeration(after: str, letters: Sequence[str]) -> bool:
    """True when the text right after a letter continues a list of letters (", B", " or D", "/B")."""
    m = re.match(r"\s*(?:[,/&]|\bor\b|\band\b)\s*(?:(?:or|and)\s+)?[\(\[]?([A-Za-z])(?:[\)\]]|(?=[\s,./:;)]|$))",
                 after)
    return bool(m) and m.group(1).upper() in letters


def _letter_at(text: str, letters: Sequence[str], *, after_lead_in: bool) -> str | None:
    """The option letter at the very start of `text` under rule 1, or None."""
    m = re.match(r"([\(\[])?([A-Za-z])([\)\]])?", text)
    if not m:
        return None
    letter, bracketed = m.group(2), bool(m.group(1) or m.group(3))
    if letter.upper() not in letters:
        return None
    rest = text[m.end():]
    if rest[:1].isalnum():  # a word, not a letter ("Answering", "Down syndrome")
        return None
    if _is_enumeration(rest, letters):
        return None
    if bracketed or not rest.strip():
        return letter.upper()
    nxt = rest[0]
    if letter.isupper():
        if nxt in _DELIMS:
            return letter
        # "B because ..." is an answer; "A mutation ..." is an article unless a lead-in came first.
        if nxt.isspace() and (letter != "A" or after_lead_in or re.match(r"\s+[-–—:(]", rest)):
            return letter
        return None
    return letter.upper() if nxt in ".):" else None


_STATEMENT = re.compile(
    r"(?:answer|letter|option|choice)\"?(?:\s+(?:is|would\s+be|should\s+be|will\s+be)\s*[:=]?|\s*[:=])\s*"
    r"(?:(?:option|letter|choice)\s+)?[\"'(\[]?([A-Za-z])(?:[\"')\]]|(?=[\s.,:;!?]|$))",
    re.IGNORECASE,
)
_CLAIM = re.compile(
    r"(?<![\w])[\"'(\[]?([A-Z])[\"')\]]?\s+is\s+(?:the\s+)?(?:correct|right|best|most\s+likely)"
    r"(?:\s+(?:answer|option|choice))?\b"
)


_FINAL = re.compile(r"\bfinal\s+" + _STATEMENT.pattern, re.IGNORECASE)


def _statement_letters(text: str, letters: Sequence[str], patterns: Sequence[re.Pattern[str]] = (_STATEMENT, _CLAIM),
                       ) -> list[str]:
    """Letters named by answer statements, in text order (articles and enumerations skipped)."""
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            letter = m.group(1)
            if letter.upper() not in letters:
                continue
            tail = text[m.end(1):]
            bracketed = tail[:1] in ")]\"'"
            if letter.islower() and not bracketed and not (tail[:1] in ".):" or not tail.strip()):
                continue  # "the answer is a mutation": an article
            if _is_enumeration(tail.lstrip(")]\"'"), letters):
                continue
            found.append((m.start(1), letter.upper()))
    return [letter for _, letter in sorted(found)]


_CONNECTORS = frozenset({"or", "and", "nor", "vs", "versus"})


def _words(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def parse_choice(output: str, letters: Sequence[str], options: Sequence[str] | None = None) -> Choice:
    """The option `output` chooses among `letters` (with the options' texts, when given), or INVALID.

    >>> parse_choice("Letter: D: gastrointestinal neoplasms -- This is based on", "ABCD").letter
    'D'
    >>> parse_choice("The answer is (b)", "ABCD")
    Choice(letter='B', rule='leading_letter')
    >>> parse_choice("Letter: A, B, C, or D not mentioned in the context", "ABCD").letter
    'invalid'
    """
    if not isinstance(output, str):
        raise ValueError(f"output must be a str. Got {type(output).__name__} {output!r} instead.")
    letters = tuple(letters)
    if len(letters) < 2 or len(set(letters)) != len(letters) or not all(
            isinstance(x, str) and len(x) == 1 and x.isupper() for x in letters):
        raise ValueError(f"letters must be >= 2 distinct capital letters. Got {letters!r} instead.")
    if options is not None and len(options) != len(letters):
        raise ValueError(f"options must have one text per letter ({len(letters)}). Got {len(options)} instead.")

    text = _strip(output)
    if not text:
        return Choice(INVALID, "none")
    final = _statement_letters(text, letters, (_FINAL,))
    if final:
        return Choice(final[-1], "final_answer")
    rest, lead_in = _strip_lead_in(text)
    letter = _letter_at(rest, letters, after_lead_in=lead_in)
    if letter:
        return Choice(letter, "leading_letter")
    stated = _statement_letters(text, letters)
    if stated:
        return Choice(stated[-1], "answer_statement")
    if options:
        keyed = sorted(((_words(o), letters[i]) for i, o in enumerate(options) if _words(o)),
                       key=lambda kv: len(kv[0]), reverse=True)
        head = _words(rest)
        for words, letter in keyed:
            if head == words or head.startswith(words + " "):
                after = head[len(words):].split(maxsplit=1)
                listed = len(after) == 2 and after[0] in _CONNECTORS and any(
                    f"{after[1]} ".startswith(w + " ") for w, _ in keyed)
                if not listed:
                    return Choice(letter, "leading_option_text")
                break
        body = f" {_words(text)} "
        hits = [(w, lt) for w, lt in keyed if f" {w} " in body]
        # An option inside a longer one that was mentioned ("recessive" in "x linked recessive") is no mention.
        hits = [(w, lt) for w, lt in hits if not any(w != w2 and f" {w} " in f" {w2} " for w2, _ in hits)]
        mentioned = {lt for _, lt in hits}
        if len(mentioned) == 1:
            return Choice(mentioned.pop(), "option_text")
    bracketed = {m.group(1).upper() for m in re.finditer(r"[\(\[]([A-Za-z])[\)\]]", text)
                 if m.group(1).upper() in letters}
    if len(bracketed) == 1:
        return Choice(bracketed.pop(), "bracketed_letter")
    return Choice(INVALID, "none")


# ---------------------------------------------------------------------------------------------------------
# Repeated attempts


@dataclass(frozen=True)
class ItemAttempts:
    """One model's attempts at one item, aggregated."""

    n_attempts: int
    n_scored: int
    """Attempts with an output (failed calls excluded)."""
    n_invalid: int
    n_correct: int
    mean_correct: float | None
    """Share of scored attempts that are correct; None when no attempt was scored."""
    majority: str | None
    """The strict plurality answer among scored attempts (a letter or INVALID); None on a tie or no attempt."""
    majority_correct: bool | None
    """Whether the majority answer is the target; False on a tie; None when no attempt was scored."""
    agreement: float | None
    """Share of scored attempts giving the modal answer (1.0 = all agree); None when none was scored."""


def summarize_attempts(answers: Sequence[str | None], target: str) -> ItemAttempts:
    """Aggregate one item's answers (one per attempt; None = failed call) against its target letter.

    >>> a = summarize_attempts(["B", "B", "C"], "B")
    >>> round(a.mean_correct, 3), a.majority, a.majority_correct, round(a.agreement, 3)
    (0.667, 'B', True, 0.667)
    """
    if isinstance(answers, str):
        raise ValueError(f"answers must be a sequence of letters or None. Got the str {answers!r} instead.")
    scored = [a for a in answers if a is not None]
    n = len(scored)
    if n == 0:
        return ItemAttempts(len(answers), 0, 0, 0, None, None, None, None)
    counts = Counter(scored).most_common()
    top = counts[0][1]
    tie = len(counts) > 1 and counts[1][1] == top
    majority = None if tie else counts[0][0]
    correct = sum(a == target for a in scored)
    return ItemAttempts(
        n_attempts=len(answers), n_scored=n, n_invalid=sum(a == INVALID for a in scored), n_correct=correct,
        mean_correct=correct / n, majority=majority, majority_correct=majority == target,
        agreement=top / n,
    )


@dataclass(frozen=True)
class AttemptAccuracy:
    """Accuracy of each attempt over the items scored in it, and their mean and spread."""

    per_attempt: tuple[float | None, ...]
    """Accuracy of attempt k over the items with a scored answer in attempt k (None: no such item)."""
    n_per_attempt: tuple[int, ...]
    mean: float | None
    """Mean of the defined per-attempt accuracies."""
    sd: float | None
    """Sample standard deviation (ddof=1) of the per-attempt accuracies; None with fewer than two."""
    low: float | None
    high: float | None


def attempt_accuracy(correct: Sequence[Sequence[bool | None]] | np.ndarray) -> AttemptAccuracy:
    """Per-attempt accuracy from a matrix of items x attempts (True/False, None = not scored).

    A 2-D integer array works too (1 correct, 0 wrong, -1 not scored): a million items stay one array.

    >>> r = attempt_accuracy([[True, True, False], [True, False, False], [False, False, True], [True, True, True]])
    >>> r.per_attempt, r.mean, round(r.sd, 4)
    ((0.75, 0.5, 0.5), 0.5833333333333334, 0.1443)
    """
    if isinstance(correct, np.ndarray):
        if correct.ndim != 2 or correct.shape[0] == 0 or correct.shape[1] == 0:
            raise ValueError(f"correct must be an items x attempts matrix with at least one of each. Got shape "
                             f"{correct.shape}.")
        scored = correct >= 0
        counts = scored.sum(axis=0)
        hits = (correct == 1).sum(axis=0)
        per_arr = [float(h) / float(c) if c else None for h, c in zip(hits, counts)]
        return _attempt_summary(per_arr, [int(c) for c in counts])
    rows = [list(r) for r in correct]
    if not rows:
        raise ValueError("correct must hold at least one item. Got 0 items.")
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        widths = sorted({len(r) for r in rows})
        raise ValueError(f"every item must have the same number of attempts (>= 1). Got {widths}.")
    per, ns = [], []
    for k in range(width):
        col = [r[k] for r in rows if r[k] is not None]
        ns.append(len(col))
        per.append(sum(bool(c) for c in col) / len(col) if col else None)
    return _attempt_summary(per, ns)


def _attempt_summary(per: Sequence[float | None], ns: Sequence[int]) -> AttemptAccuracy:
    defined = [p for p in per if p is not None]
    if not defined:
        return AttemptAccuracy(tuple(per), tuple(ns), None, None, None, None)
    arr = np.asarray(defined, dtype=float)
    return AttemptAccuracy(tuple(per), tuple(ns), float(arr.mean()),
                           float(arr.std(ddof=1)) if arr.size > 1 else None, float(arr.min()), float(arr.max()))
