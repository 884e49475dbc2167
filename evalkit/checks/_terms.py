"""The `terms` check: required and forbidden terms (a glossary), matched as evalkit.metrics.terminology does.

Matching is tolerant of case, accents and one inflectional ending, strict about the word itself (`contains_term`,
docs in evalkit/metrics/terminology.py). Required terms come from the arguments, and optionally from a glossary
CSV (`source,target`): for each glossary entry whose source term occurs in the sample's `source_field`, one of
its target terms is required (the terminology rule of translation suites, usable by any suite).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from evalkit.checks._base import Check, CheckArgs, CheckResult, sample_field
from evalkit.metrics.terminology import GlossaryEntry, contains_term, load_glossary
from evalkit.records import Sample

__all__ = ["TermsArgs", "TermsCheck"]


class TermsArgs(CheckArgs):
    """Arguments of the `terms` check."""

    required: tuple[str, ...] = ()
    """Terms the answer must contain (each may list alternatives separated by `|`)."""
    forbidden: tuple[str, ...] = ()
    """Terms the answer must not contain."""
    glossary: str | None = None
    """A glossary CSV (relative to the judge file) whose entries found in `source_field` add required terms."""
    source_field: str = "input"
    """Where glossary source terms are looked for: `input` (the sample's input) or a sample field."""
    lang: Literal["fr", "de"] = "fr"
    """Language of the answer (the inflectional endings allowed)."""
    source_lang: Literal["fr", "de"] = "fr"

    @model_validator(mode="after")
    def _some_term(self) -> TermsArgs:
        if not (self.required or self.forbidden or self.glossary):
            raise ValueError("give at least one of required, forbidden, glossary")
        return self


class TermsCheck(Check):
    """Score: the share of term rules kept (required present, forbidden absent; 1 when there is none); met: all."""

    Args = TermsArgs
    args: TermsArgs

    def __init__(self, args: TermsArgs, base_dir: Path | None = None) -> None:
        super().__init__(args, base_dir)
        _ = self._glossary  # a missing or malformed glossary is an error when the judge loads

    @cached_property
    def _glossary(self) -> tuple[GlossaryEntry, ...]:
        if self.args.glossary is None:
            return ()
        path = Path(self.args.glossary)
        return load_glossary(path if path.is_absolute() else self.base_dir / path)

    def required_fields(self) -> tuple[str, ...]:
        """The glossary's source field, when a glossary is given and it is not the input."""
        return (self.args.source_field,) if self.args.glossary and self.args.source_field != "input" else ()

    def run(self, answer: str, sample: Sample) -> CheckResult:
        """Look for each required alternative and each forbidden term."""
        a = self.args
        required: list[tuple[str, tuple[str, ...]]] = [(t, tuple(x.strip() for x in t.split("|"))) for t in a.required]
        if self._glossary:
            source = sample.input if a.source_field == "input" else str(sample_field(sample, a.source_field))
            required += [(e.label, e.targets) for e in self._glossary if contains_term(source, e.source, a.source_lang)]
        missing = [label for label, alternatives in required
                   if not any(contains_term(answer, alt, a.lang) for alt in alternatives)]
        used = [t for t in a.forbidden if contains_term(answer, t, a.lang)]
        rules = len(required) + len(a.forbidden)
        score = 1 - (len(missing) + len(used)) / rules if rules else 1.0
        return CheckResult(met=not missing and not used, score=score,
                           details={"required": [label for label, _ in required], "missing": missing,
                                    "forbidden_used": used})
