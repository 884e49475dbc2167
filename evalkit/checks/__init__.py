"""Deterministic criteria checks: pure functions over (answer, sample) with a typed result, and their registry.

    check = create_check("markdown_sections", {"sections": ["Réponse", "Fondement légal"]}, where="...")
    result = check.run(answer, sample)     # CheckResult(met=..., score=0..1, details={...})

A check judge (judges/*.yaml with `kind: checks`, evalkit.judging) scores criteria with checks instead of a
model. A new check is one subclass of `Check` plus one registration line here; other packages register theirs
through the entry-point group `evalkit.checks` (`mycheck = "mypkg.checks:MyCheck"`, a Check subclass).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.checks._base import Check, CheckArgs, CheckResult, NoArgs, sample_field
from evalkit.checks._citations import (
    ArticleNumber,
    Citation,
    CitationsCheck,
    CitationScore,
    Reference,
    find_citations,
    parse_number,
    parse_reference,
    score_citations,
)
from evalkit.checks._json import JsonSchemaCheck
from evalkit.checks._length import LengthCheck
from evalkit.checks._markdown import MarkdownSectionsCheck, headings
from evalkit.checks._patterns import RegexCheck
from evalkit.checks._terms import TermsCheck
from evalkit.registry import Registry

__all__ = [
    "ArticleNumber",
    "Check",
    "CheckArgs",
    "CheckResult",
    "Citation",
    "CitationScore",
    "NoArgs",
    "Reference",
    "checks",
    "create_check",
    "find_citations",
    "headings",
    "parse_number",
    "parse_reference",
    "sample_field",
    "score_citations",
]

checks: Registry[type[Check]] = Registry("check", "evalkit.checks")

checks.register("citations")(CitationsCheck)
checks.register("markdown_sections")(MarkdownSectionsCheck)
checks.register("regex")(RegexCheck)
checks.register("terms")(TermsCheck)
checks.register("length")(LengthCheck)
checks.register("json_schema")(JsonSchemaCheck)


def create_check(name: str, args: Mapping[str, Any], *, where: str, base_dir: Path | None = None) -> Check:
    """The registered check `name` configured with `args`.

    `where` names the place that configures it (e.g. `judges/x.yaml: criteria[0]`); a one-line ConfigError
    names `<where>: check` for an unknown name (with close matches) and `<where>: args.<field>` for bad arguments.
    """
    cls = checks.get(name, where=f"{where}: check")
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        from evalkit.errors import ConfigError

        raise ConfigError(f"{where}: check: '{name}' is registered as {cls!r}, which is not a Check subclass")
    return cls.create(args, where=where, prefix="args.", base_dir=base_dir)
