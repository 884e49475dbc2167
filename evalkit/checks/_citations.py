"""French legal citations: found in an answer, resolved against the references a question turns on (gold) and
the ones it was given (context), and scored. Pure functions, no I/O.

What counts as a citation: a trigger (`article`, `articles`, `art.`, `l'article`, any case) followed by one or
more article numbers, then optionally the instrument they belong to:

    l'article 1382 de l'ancien Code civil          -> 1382, code "ancien code civil"
    art. VII.105 du Code de droit économique       -> VII.105, code "code de droit economique"
    articles 1337bis à 1337octies du Code judiciaire -> the range 1337bis..1337octies, code "code judiciaire"
    les articles 8 et 11 du Code du bail           -> 8 and 11, both of that code
    Art. 1er, Code test du bail                    -> 1, code "code test du bail" (BSARD's reference form)
    l'article 12 dudit code / du même code         -> 12, the code of the previous citation

Numbers: digits with dotted or slashed parts (`3.40`, `1675/2`), a Roman book prefix (`VII.105`), a Latin
suffix (`37bis`, `1337 octies`), `1er`/`premier`; subdivisions after a number (`§ 2`, `alinéa 3`, `al. 1er`, `2°`)
are skipped. A number without an instrument belongs to the instrument of the previous citation in the answer
(legal writing names the code once), and when the answer named none, to the one given reference with that
number (several: the citation is *ambiguous*).

Codes are compared after folding case, accents and typographic apostrophes; the instrument after a number is
the longest known code name (from the references) the following text starts with, else the words up to the next
punctuation when they start like an instrument (`Code`, `loi`, `décret`, `Constitution`, ...).

Ranges are not expanded (no list of a code's article numbers exists here): a reference is covered by
`articles A à B` when it is of the range's code and its number lies between A and B in the natural order
(book, number, dotted parts, then suffix: 1337 < 1337bis < 1337ter < ... < 1338). `articles 11 et suivants` is
the open range from 11.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from evalkit.checks._base import Check, CheckArgs, CheckResult, sample_field
from evalkit.errors import DataError
from evalkit.records import Sample

__all__ = ["ArticleNumber", "Citation", "CitationScore", "CitationsArgs", "CitationsCheck", "Reference",
           "ResolvedCitation", "find_citations", "parse_number", "parse_reference", "score_citations"]

SUFFIXES: dict[str, int] = {
    "bis": 2, "ter": 3, "quater": 4, "quinquies": 5, "sexies": 6, "septies": 7, "octies": 8, "novies": 9,
    "nonies": 9, "decies": 10, "undecies": 11, "duodecies": 12, "terdecies": 13, "quaterdecies": 14,
    "quinquiesdecies": 15, "quindecies": 15, "sexdecies": 16, "septdecies": 17, "octodecies": 18, "novodecies": 19,
}
"""Latin multiplicative suffixes of inserted articles, with their rank (the article itself is rank 1)."""

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
_SUFFIX_RE = "|".join(sorted(SUFFIXES, key=len, reverse=True))
# Case-sensitive on purpose: a Roman book prefix is upper case (`VII.105`), and `v.` or `l.` are not books.
_NUMBER = rf"(?:premier|1er|(?:[IVXLC]+\.)?\d+(?:[./]\d+)*(?:\s?(?:{_SUFFIX_RE}))?)(?!\w)"
_SUB = r"(?:\s*,?\s*(?:§\s*\d+(?:er)?|(?i:alinéa|al\.)\s*\d+(?:er)?|\d+°))*"
_ITEM_PREFIX = r"(?:(?i:l['’]\s*)?(?i:articles?|art\.)\s*)?"
_SEP = r"(?:\s*,\s*(?:et\s+|ou\s+)?|\s+(?:et|ou)\s+|\s*(?:à|au|-|–)\s*)"
_CITATION = re.compile(
    rf"(?<!\w)(?i:articles?|arts?\.|art(?=\s+\d))\s*(?P<list>{_NUMBER}{_SUB}(?:{_SEP}{_ITEM_PREFIX}{_NUMBER}{_SUB})*)"
    rf"(?P<following>\s+(?i:et\s+(?:suivants|s\.)))?")
_NUMBER_IN_LIST = re.compile(rf"(?P<sep>{_SEP})?{_ITEM_PREFIX}(?P<number>{_NUMBER}){_SUB}")
_LINK = re.compile(r"^\s*,?\s*(?:(?:du|de\s+la|de\s+l'|des|de|d')\s*)?", re.IGNORECASE)
_SAME_CODE = re.compile(r"^\s*,?\s*(?:dudit|du\s+meme|de\s+ce(?:\s+meme)?|de\s+la\s+meme|de\s+ladite)\s+"
                        r"(?:code|loi|decret|arrete|ordonnance|constitution)\b")
# An instrument the references do not name: `code` with an adjective and/or chains of `de ...` groups (`code
# civil`, `code de droit economique`, `code de la consommation et du credit`), or an act with its date (`loi du
# 10 avril 1971`). Text is folded first; anything after the name (a verb, the rest of the sentence) is left out.
_CONNECTOR = r"(?:et\s+)?(?:(?:de\s+la|du|des|de)\s+|(?:de\s+l'|d')\s*)"
_INSTRUMENT = re.compile(
    rf"^(?:(?:ancien|nouveau)\s+)?(?:code(?:\s+(?!{_CONNECTOR})[a-z]+)?(?:\s+{_CONNECTOR}[a-z]+(?:\s+(?!et\b|qui\b|que\b)"
    rf"[a-z]+(?=\s+{_CONNECTOR}|\s*[,.;:)]|\s*$))?)*|constitution|(?:loi|lois|decret|arrete|ordonnance)"
    rf"(?:\s+(?:royal|ministeriel|coordonnees|speciale))?(?:\s+du\s+\d{{1,2}}(?:er)?\s+[a-z]+\s+\d{{4}})?)")


_GENERIC_INSTRUMENTS = frozenset({"", "code", "ancien code", "nouveau code", "loi", "lois", "decret", "arrete",
                                  "ordonnance"})


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophes as `'`, spaces collapsed (for comparing names)."""
    text = text.replace("’", "'").replace("ʼ", "'").replace("\u00a0", " ").replace("\u202f", " ")
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"\s+", " ", "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()).strip()


def _roman(text: str) -> int:
    total, prev = 0, 0
    for ch in reversed(text):
        value = _ROMAN[ch]
        total = total - value if value < prev else total + value
        prev = max(prev, value)
    return total


@dataclass(frozen=True, order=True)
class ArticleNumber:
    """An article number: `key` orders numbers the natural way; `text` is its canonical spelling."""

    key: tuple[int, ...]
    text: str = field(compare=False)


def parse_number(text: str) -> ArticleNumber:
    """The canonical number and order key of `1er`, `37bis`, `VII.105`, `3.40`, `1675/2`, `1337 octies`.

    >>> parse_number("1337 octies")
    ArticleNumber(key=(1337, 8), text='1337octies')
    """
    raw = re.sub(r"\s+", "", text.strip())
    if raw.lower() in ("1er", "premier"):
        return ArticleNumber(key=(1, 1), text="1")
    book: list[int] = []
    m = re.match(r"^([IVXLC]+)\.(.*)$", raw)
    if m:
        book, raw = [_roman(m.group(1))], m.group(2)
    m = re.match(rf"^(\d+(?:[./]\d+)*)({_SUFFIX_RE})?$", raw, re.IGNORECASE)
    if not m:
        raise ValueError(f"not an article number: {text!r}")
    parts = [int(p) for p in re.split(r"[./]", m.group(1))]
    suffix = (m.group(2) or "").lower()
    prefix = f"{text.strip().split('.')[0]}." if book else ""
    return ArticleNumber(key=(*book, *parts, SUFFIXES.get(suffix, 1)), text=f"{prefix}{m.group(1)}{suffix}")


@dataclass(frozen=True)
class Citation:
    """One cited article, or one range of articles, as written in an answer."""

    text: str
    """The words of the answer it was read from (a list yields one Citation per item or range)."""
    start: int
    first: ArticleNumber
    last: ArticleNumber | None = None
    """End of a range (None: a single article, unless `open_ended`)."""
    open_ended: bool = False
    """`articles 11 et suivants`: every article from `first` on."""
    code: str | None = None
    """The instrument, folded (`code judiciaire`); None when neither the answer nor the context says which."""
    code_source: Literal["named", "previous", "none"] = "none"
    """Where `code` comes from: named after the number, the previous citation's, or none."""

    @property
    def is_range(self) -> bool:
        """True for `articles A à B` and `articles A et suivants`."""
        return self.last is not None or self.open_ended

    @property
    def label(self) -> str:
        """A short readable form: `art. 1337bis-1337octies (code judiciaire)`."""
        span = self.first.text + (f"-{self.last.text}" if self.last else "+" if self.open_ended else "")
        return f"art. {span}" + (f" ({self.code})" if self.code else "")

    def covers(self, number: ArticleNumber) -> bool:
        """True when `number` is this article, or lies within this range."""
        if self.last is not None:
            return self.first.key <= number.key <= self.last.key
        if self.open_ended:
            return number.key >= self.first.key
        return number.key == self.first.key


def _instrument(tail: str, known_codes: Sequence[str]) -> tuple[str | None, bool]:
    """(the instrument named at the start of `tail`, whether it says "the same code"), from folded text."""
    if _SAME_CODE.match(tail):
        return None, True
    rest = tail[_LINK.match(tail).end():] if _LINK.match(tail) else tail  # type: ignore[union-attr]
    for code in sorted(known_codes, key=len, reverse=True):
        if rest.startswith(code) and (len(rest) == len(code) or not rest[len(code)].isalnum()):
            return code, False
    m = _INSTRUMENT.match(rest)
    name = m.group(0).strip() if m else ""
    # A bare `du Code` (e.g. an answer cut off there) names no instrument: the number then resolves as a bare one.
    return (None if name in _GENERIC_INSTRUMENTS else name), False


def find_citations(text: str, known_codes: Sequence[str] = ()) -> list[Citation]:
    """Every article citation in `text`, in order; `known_codes` (folded) help delimit instrument names.

    >>> [c.label for c in find_citations("Selon les articles 1337bis à 1337octies du Code judiciaire ...")]
    ['art. 1337bis-1337octies (code judiciaire)']
    """
    # Markdown emphasis would split `**Art. 5** du Code` from its code; typographic spaces confuse \s.
    clean = re.sub(r"[*_`]", "", text).replace("\u00a0", " ").replace("\u202f", " ").replace("’", "'")
    folded_codes = [fold(c) for c in known_codes if c]
    out: list[Citation] = []
    previous_code: str | None = None
    for m in _CITATION.finditer(clean):
        code, same = _instrument(fold(clean[m.end(): m.end() + 200]), folded_codes)
        if same or code is None:
            code, source = previous_code, ("previous" if previous_code else "none")
        else:
            source = "named"
        items: list[tuple[str | None, ArticleNumber, int]] = []
        base = m.start("list")
        for n in _NUMBER_IN_LIST.finditer(m.group("list")):
            sep = (n.group("sep") or "").strip()
            items.append((sep, parse_number(n.group("number")), base + n.start("number")))
        i = 0
        while i < len(items):
            _, first, pos = items[i]
            if i + 1 < len(items) and items[i + 1][0] in ("à", "au", "-", "–"):
                out.append(Citation(text=m.group(0), start=pos, first=first, last=items[i + 1][1], code=code,
                                    code_source=source))  # type: ignore[arg-type]
                i += 2
                continue
            open_ended = m.group("following") is not None and i == len(items) - 1
            out.append(Citation(text=m.group(0), start=pos, first=first, open_ended=open_ended, code=code,
                                code_source=source))  # type: ignore[arg-type]
            i += 1
        if code is not None:
            previous_code = code
    return out


@dataclass(frozen=True)
class Reference:
    """A reference as a data set gives it (`Art. 11 du Code du bail d'habitation`), parsed when it can be."""

    text: str
    number: ArticleNumber | None
    """None when the text holds no article number: then it is matched by its words (folded) in the answer."""
    code: str | None


def parse_reference(text: str) -> Reference:
    """The number and instrument of a reference string; the whole rest after the number is the instrument.

    >>> r = parse_reference("Art. 1er, Code test du bail"); (r.number.text, r.code)
    ('1', 'code test du bail')
    """
    clean = re.sub(r"[*_`]", "", text).strip()
    m = _CITATION.search(clean)
    if m is None:
        return Reference(text=text, number=None, code=None)
    first = _NUMBER_IN_LIST.match(m.group("list"))
    number = parse_number(first.group("number")) if first else None
    tail = fold(clean[m.end():])
    link = _LINK.match(tail)
    code = tail[link.end():].strip(" .") if link else tail
    return Reference(text=text, number=number, code=code or None)


CitationStatus = Literal["gold", "distractor", "absent", "ambiguous"]


@dataclass(frozen=True)
class ResolvedCitation:
    """A citation and what it points to among the given references."""

    citation: Citation
    status: CitationStatus
    """`gold`: a reference the question turns on; `distractor`: a given reference that is not one of them;
    `absent`: nothing given matches; `ambiguous`: a bare number that fits several given references."""
    references: tuple[str, ...]
    """The given references it matches (for a range, all it covers)."""


@dataclass(frozen=True)
class CitationScore:
    """Citations of one answer against the gold and context references."""

    resolved: tuple[ResolvedCitation, ...]
    cited: int
    """Distinct things cited (an article cited three times counts once; a range counts once)."""
    cited_gold: int
    gold_total: int
    gold_covered: tuple[str, ...]
    gold_missed: tuple[str, ...]
    distractors: tuple[str, ...]
    """Given references that are not gold, cited by the answer."""
    absent: tuple[str, ...]
    """Citations matching nothing the answer was given (labels of the citations)."""
    ambiguous: tuple[str, ...]

    @property
    def precision(self) -> float | None:
        """Share of distinct citations that are gold (ranges: covering a gold one); None without any citation."""
        return self.cited_gold / self.cited if self.cited else None

    @property
    def recall(self) -> float:
        """Share of the gold references the answer cites (by article, or by a range that covers it)."""
        return len(self.gold_covered) / self.gold_total if self.gold_total else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall; 0 without any citation."""
        p, r = self.precision, self.recall
        return 0.0 if not p or not r else 2 * p * r / (p + r)

    @property
    def grounded(self) -> bool:
        """At least one gold citation, and none of a distractor or of an article absent from the context."""
        return self.cited_gold > 0 and not self.distractors and not self.absent


def _codes_match(reference: Reference, citation: Citation) -> bool:
    return citation.code is None or reference.code is None or reference.code == citation.code


def score_citations(answer: str, gold: Sequence[str], context: Sequence[str] = ()) -> CitationScore:
    """Resolve every citation of `answer` against `gold` and `context` references (gold ones count as given).

    >>> s = score_citations("Selon l'article 11 du Code du bail, puis l'art. 14 du même code.",
    ...                     ["Art. 11 du Code du bail"], ["Art. 11 du Code du bail", "Art. 14 du Code du bail"])
    >>> (s.precision, s.recall, s.distractors)
    (0.5, 1.0, ('Art. 14 du Code du bail',))
    """
    gold_refs = [parse_reference(g) for g in gold]
    given = list(dict.fromkeys([*gold, *context]))
    refs = [parse_reference(g) for g in given]
    gold_set = set(gold)
    citations = find_citations(answer, [r.code for r in refs if r.code])
    resolved: list[ResolvedCitation] = []
    targets: dict[tuple[object, ...], bool] = {}
    covered: set[str] = set()
    for c in citations:
        matches = tuple(r.text for r in refs if r.number is not None and c.covers(r.number) and _codes_match(r, c))
        if c.code is None and not c.is_range and len(matches) > 1:
            status: CitationStatus = "ambiguous"
            key: tuple[object, ...] = ("ambiguous", c.first.text)
        elif not matches:
            status, key = "absent", ("absent", c.code, c.first.text, c.last.text if c.last else c.open_ended)
        else:
            status = "gold" if any(t in gold_set for t in matches) else "distractor"
            key = ("range", c.code, c.first.text, c.last.text if c.last else None) if c.is_range else ("ref", matches)
            covered.update(t for t in matches if t in gold_set)
        resolved.append(ResolvedCitation(citation=c, status=status, references=matches if status != "absent" else ()))
        targets[key] = targets.get(key, False) or status == "gold"
    folded = fold(re.sub(r"[*_`]", "", answer))
    for r in gold_refs:  # a reference without a number can only be found by its words
        if r.number is None and fold(r.text) in folded:
            covered.add(r.text)
            targets[("text", r.text)] = True
    distractors = tuple(dict.fromkeys(t for rc in resolved if rc.status == "distractor" for t in rc.references))
    return CitationScore(
        resolved=tuple(resolved), cited=len(targets), cited_gold=sum(targets.values()), gold_total=len(gold_set),
        gold_covered=tuple(g for g in gold if g in covered), gold_missed=tuple(g for g in gold if g not in covered),
        distractors=distractors,
        absent=tuple(dict.fromkeys(rc.citation.label for rc in resolved if rc.status == "absent")),
        ambiguous=tuple(dict.fromkeys(rc.citation.label for rc in resolved if rc.status == "ambiguous")))


# ---------------------------------------------------------------------------------------------------------
# The `citations` check


class CitationsArgs(CheckArgs):
    """Arguments of the `citations` check."""

    gold_field: str = "references"
    """Sample field with the references the question turns on (a list of strings, or one string)."""
    context_field: str | None = "context_references"
    """Sample field with every reference the answer was given (gold ones included or not); None: gold only."""
    measure: Literal["f1", "precision", "recall", "grounded"] = "f1"
    """The score: F1, precision or recall of the citations against the gold references, or `grounded` (1 when
    the answer cites at least one gold reference and no distractor nor any article it was not given)."""
    min_score: float = Field(default=1.0, ge=0.0, le=1.0)
    """The answer meets the criterion when its score is at least this."""


def _strings(value: object, sample: Sample, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DataError(f"sample {sample.id!r}: field {name!r} must be a list of reference strings, got "
                    f"{type(value).__name__} {value!r:.80}")


class CitationsCheck(Check):
    """Cited articles against the sample's gold references: precision, recall, F1, distractors, absent ones."""

    Args = CitationsArgs
    args: CitationsArgs

    def required_fields(self) -> tuple[str, ...]:
        """The gold field, and the context field when one is named."""
        return (self.args.gold_field,) + ((self.args.context_field,) if self.args.context_field else ())

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Score the answer's citations; details list each citation with its status."""
        a = self.args
        gold = _strings(sample_field(sample, a.gold_field), sample, a.gold_field)
        context = _strings(sample_field(sample, a.context_field), sample, a.context_field) if a.context_field else []
        s = score_citations(answer, gold, context)
        score = {"f1": s.f1, "precision": s.precision or 0.0, "recall": s.recall,
                 "grounded": float(s.grounded)}[a.measure]
        details = {
            "measure": a.measure, "precision": s.precision, "recall": s.recall, "f1": s.f1, "grounded": s.grounded,
            "cited": s.cited, "cited_gold": s.cited_gold, "gold_total": s.gold_total,
            "gold_missed": list(s.gold_missed), "distractors": list(s.distractors), "absent": list(s.absent),
            "ambiguous": list(s.ambiguous),
            "citations": [{"label": r.citation.label, "status": r.status, "references": list(r.references),
                           "code_source": r.citation.code_source} for r in s.resolved],
        }
        return CheckResult(met=score >= a.min_score, score=score, details=details)
