"""Terminology check: does a translation use the required target term for each glossary term in its source?

A glossary maps a source term to the target term a translation must use (`vice de procédure` ->
`Verfahrensmangel`). A *check* is one (segment, glossary entry) whose source contains the source term; it is a
*hit* when the translation contains the target term. Matching is deliberately tolerant of inflection, strict
about the word itself:

- both sides are compared case-insensitively after folding accents and umlauts (`ä` -> `a`, `é` -> `e`,
  `ß` -> `ss`) and typographic apostrophes (`’` -> `'`), so `Verfahrensmängel` (plural) matches
  `Verfahrensmangel`, and `Etat membre` matches `État membre`;
- each word of a term must start at a word boundary and may end in one inflectional ending: for German
  (target) the word, or its stem (the word minus one ending from this list), may be followed by `e`, `en`,
  `er`, `ern`, `es`, `em`, `n`, `ns`, `s`, so `höhere Gewalt` matches `höherer Gewalt`, `Gerichtsgesetzbuch` matches
  `Gerichtsgesetzbuches`, `öffentlicher Auftraggeber` matches `öffentlichen Auftraggebers`; for French (source)
  `s`, `x`, `e`, `es` (`États membres`, `vices de procédure` is *not* matched: only the term's last letters
  vary, not inner words' plural forms — give such variants as separate glossary rows);
- the words of a multi-word term must follow each other, separated by whitespace (or, in French, an
  apostrophe after an elided word such as `d'`);
- a term inside a longer compound does not count (`Auftrag` does not match `Auftraggeber`), and neither
  does a term split by other words.

A glossary file is CSV with a header row `source,target` (further columns are ignored); a target may list
accepted alternatives separated by `|`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from evalkit.errors import DataError

__all__ = ["GlossaryCheck", "GlossaryEntry", "check_terms", "contains_term", "fold", "load_glossary"]

_ENDINGS = {
    "de": ("ern", "em", "en", "er", "es", "ns", "e", "n", "s"),
    "fr": ("es", "e", "s", "x"),
}
"""Inflectional endings a word of a term may carry, per language (longest first)."""


@dataclass(frozen=True)
class GlossaryEntry:
    """One required translation: a source term and the accepted target terms."""

    source: str
    targets: tuple[str, ...]
    line: int = 0
    """Line of the glossary file (1 = header), for messages."""

    @property
    def label(self) -> str:
        """`source → target` as shown in reports."""
        return f"{self.source} → {' | '.join(self.targets)}"


@dataclass(frozen=True)
class GlossaryCheck:
    """One glossary entry whose source term occurs in a segment, and whether a translation used its target."""

    entry: GlossaryEntry
    hit: bool


def fold(text: str) -> str:
    """Lower-cased text without accents or umlauts, `ß` as `ss`, typographic apostrophes as `'`.

    >>> fold("Verfahrensmängel für États’")
    "verfahrensmangel fur etats'"
    """
    text = text.replace("ß", "ss").replace("ẞ", "ss").replace("’", "'").replace("ʼ", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _word_pattern(word: str, lang: str) -> str:
    endings = _ENDINGS.get(lang, ())
    if not endings:
        return re.escape(word)
    forms = [word]
    for e in endings:
        # The stem (the word minus one ending) may take another ending: höhere -> höher-er, Daten -> Dat-en.
        # Stems keep at least 3 letters so short words do not turn into prefixes of everything.
        if word.endswith(e) and len(word) - len(e) >= 3:
            forms.append(word[: -len(e)])
            break
    suffix = "(?:" + "|".join(endings) + ")?"
    return "(?:" + "|".join(re.escape(f) for f in forms) + ")" + suffix


@lru_cache(maxsize=4096)
def _term_regex(term: str, lang: str) -> re.Pattern[str]:
    words = fold(term).split()
    if not words:
        raise ValueError(f"a glossary term must contain a word. Got {term!r}.")
    parts = []
    for w in words:
        # An elided French word (`d'`, `l'`) is glued to the next one; keep it literal.
        parts.append(re.escape(w) if w.endswith("'") else _word_pattern(w, lang))
    body = ""
    for i, (w, p) in enumerate(zip(words, parts)):
        body += p
        if i < len(words) - 1:
            body += r"\s*" if w.endswith("'") else r"\s+"
    return re.compile(r"(?<![\w])" + body + r"(?![\w])")


def contains_term(text: str, term: str, lang: str) -> bool:
    """True when `text` contains `term` under the matching rules of the module docstring.

    >>> contains_term("Die Frist im Fall höherer Gewalt", "höhere Gewalt", "de")
    True
    >>> contains_term("der öffentliche Auftraggeber", "öffentlicher Auftrag", "de")
    False
    """
    if lang not in _ENDINGS:
        raise ValueError(f"lang must be a str among {sorted(_ENDINGS)}. Got {lang!r} instead.")
    return _term_regex(term, lang).search(fold(text)) is not None


def check_terms(source: str, translation: str, glossary: Sequence[GlossaryEntry], *, source_lang: str,
                target_lang: str) -> list[GlossaryCheck]:
    """One check per glossary entry whose source term occurs in `source`, in glossary order."""
    out = []
    for entry in glossary:
        if contains_term(source, entry.source, source_lang):
            hit = any(contains_term(translation, t, target_lang) for t in entry.targets)
            out.append(GlossaryCheck(entry=entry, hit=hit))
    return out


def load_glossary(path: Path) -> tuple[GlossaryEntry, ...]:
    """Entries of a glossary CSV (`source,target` header); DataError naming the file, line and column."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in ("source", "target") if c not in header]
            if missing:
                raise DataError(f"{path}:1: glossary header must name the columns 'source' and 'target'; "
                                f"missing {missing}, got {header}")
            entries: list[GlossaryEntry] = []
            seen: dict[str, int] = {}
            for i, row in enumerate(reader, start=2):
                src = (row.get("source") or "").strip()
                targets = tuple(t.strip() for t in (row.get("target") or "").split("|") if t.strip())
                if not src or not targets:
                    col = "source" if not src else "target"
                    raise DataError(f"{path}:{i}: column '{col}' is empty (got {row.get(col)!r})")
                key = fold(src)
                if key in seen:
                    raise DataError(f"{path}:{i}: source term {src!r} repeats line {seen[key]}")
                seen[key] = i
                entries.append(GlossaryEntry(source=src, targets=targets, line=i))
    except FileNotFoundError:
        raise DataError(f"glossary file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not entries:
        raise DataError(f"{path}: the glossary has no entries")
    return tuple(entries)
