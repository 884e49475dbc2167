"""Multi-EURLEX as translation pairs: the same EU legal act in two languages, paired by document (CELEX id).

The real data set is `coastalcph/multi_eurlex` on the Hugging Face hub, read through `datasets` with the
`all_languages` config, where each row is one act: `celex_id`, `publication_date`, `text` (a mapping language
code -> full text; a language the act was not published in is missing, None or empty) and `eurovoc_concepts`
or `labels`. A suite selects it with `data.source: eurlex` (see benchmarks/eurlex/hub.yaml) and these
`data.options`:

    source_lang / target_lang   language codes (default fr -> de)
    segment                     `paragraph` (default): split both texts into lines and pair line i with line i,
                                only for acts whose two texts have the same number of non-empty lines (EUR-Lex
                                publishes every language version with the same structure, so equal counts mean
                                aligned lines; an act whose counts differ is skipped, never guessed at);
                                `document`: one pair per act, the whole texts
    min_chars / max_chars       keep segments whose source has at least / at most this many characters
                                (default 40 / 1000: drops headings and list numbers, caps long passages)
    glossary                    a glossary CSV (evalkit.metrics.terminology), relative to the suite file
    require_glossary_term       keep only segments whose source contains a glossary term (default false)

Local files in the same row schema (JSONL or Parquet: `data_files`, or a data override such as
`--data coastalcph/multi_eurlex=test.jsonl`) are read through `datasets`' own builders, so the pairing logic
tested on them is the one the hub data goes through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.errors import ConfigError, DataError
from evalkit.metrics.terminology import GlossaryEntry, contains_term, load_glossary
from evalkit.records import Sample
from evalkit.sources.hub import load_hub_split, load_local_rows
from evalkit.suite import DataSpec

__all__ = ["EurlexOptions", "EurlexStats", "eurlex_pairs", "load_eurlex"]

HUB_CONFIG = "all_languages"
"""The hub config with every language of an act in one row (the only one that can pair languages)."""


class EurlexOptions(BaseModel):
    """`data.options` of an eurlex suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_lang: str = "fr"
    target_lang: str = "de"
    segment: Literal["paragraph", "document"] = "paragraph"
    min_chars: int = 40
    max_chars: int | None = 1000
    glossary: str | None = None
    require_glossary_term: bool = False


@dataclass(frozen=True)
class EurlexStats:
    """What pairing kept and why it dropped the rest."""

    documents: int
    missing_language: int
    """Acts without a text in one of the two languages."""
    misaligned: int
    """Acts skipped in paragraph mode because their line counts differ."""
    too_short: int
    too_long: int
    no_glossary_term: int
    pairs: int


def _text(row: Mapping[str, Any], lang: str) -> str:
    text = row.get("text")
    if isinstance(text, Mapping):
        value = text.get(lang)
        return value.strip() if isinstance(value, str) else ""
    raise DataError(f"eurlex row {row.get('celex_id')!r}: `text` must map languages to texts (the "
                    f"'{HUB_CONFIG}' config); got {type(text).__name__}")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def eurlex_pairs(rows: Iterable[Mapping[str, Any]], options: EurlexOptions,
                 glossary: tuple[GlossaryEntry, ...] = ()) -> tuple[list[Sample], EurlexStats]:
    """Translation samples (input: source text, target: reference) from Multi-EURLEX rows, and the counts."""
    src, tgt = options.source_lang, options.target_lang
    samples: list[Sample] = []
    counts = dict(documents=0, missing_language=0, misaligned=0, too_short=0, too_long=0, no_glossary_term=0)
    for row in rows:
        counts["documents"] += 1
        celex = str(row.get("celex_id") or f"row-{counts['documents']}")
        a, b = _text(row, src), _text(row, tgt)
        if not a or not b:
            counts["missing_language"] += 1
            continue
        if options.segment == "document":
            segments = [(None, a, b)]
        else:
            la, lb = _lines(a), _lines(b)
            if len(la) != len(lb):
                counts["misaligned"] += 1
                continue
            segments = [(i, x, y) for i, (x, y) in enumerate(zip(la, lb), 1)]
        for index, x, y in segments:
            if len(x) < options.min_chars:
                counts["too_short"] += 1
                continue
            if options.max_chars is not None and len(x) > options.max_chars:
                counts["too_long"] += 1
                continue
            terms = [e.source for e in glossary if contains_term(x, e.source, src)] if glossary else []
            if options.require_glossary_term and not terms:
                counts["no_glossary_term"] += 1
                continue
            date = row.get("publication_date")
            # `datasets` may parse the date; keep the ISO day as text so samples stay plain JSON.
            fields: dict[str, Any] = {"celex_id": celex, "publication_date": None if date is None else str(date)[:10],
                                      "source_lang": src, "target_lang": tgt}
            if index is not None:
                fields["paragraph"] = index
            if glossary:
                fields["glossary_terms"] = terms
            samples.append(Sample(id=celex if index is None else f"{celex}#{index:04d}", input=x, target=y,
                                  fields=fields))
    return samples, EurlexStats(**counts, pairs=len(samples))


def _options(spec: DataSpec, where: str) -> EurlexOptions:
    try:
        return EurlexOptions.model_validate(dict(spec.options))
    except ValidationError as exc:
        e = exc.errors()[0]
        field = ".".join(str(p) for p in e["loc"])
        msg = "unknown option" if e["type"] == "extra_forbidden" else e["msg"]
        raise ConfigError(f"{where}: data.options.{field}: {msg} (got {e.get('input')!r}; allowed: "
                          f"{', '.join(EurlexOptions.model_fields)})") from None


def _rows(spec: DataSpec, base_dir: Path, split_path: str | None, hub: bool) -> Iterable[Mapping[str, Any]]:
    if hub:
        return load_hub_split(spec.path, spec.name or HUB_CONFIG, spec.split)
    given = Path(split_path or spec.data_files or spec.path).expanduser()
    files = given if given.is_absolute() else base_dir / given
    if not files.exists():
        raise DataError(f"eurlex data file not found: {files}")
    return load_local_rows(files, what="Multi-EURLEX in the hub's all_languages schema")


def load_eurlex(spec: DataSpec, base_dir: Path, *, split_path: str | None = None, hub: bool) -> list[Sample]:
    """The translation samples of an eurlex suite: from the hub (`hub=True`: `spec.path` is the hub id), or from
    a local JSONL/Parquet file in the hub's row schema (`data_files`, `split_path` or `path`, relative to the
    suite folder)."""
    where = f"{base_dir / 'suite'}"
    options = _options(spec, where)
    glossary: tuple[GlossaryEntry, ...] = ()
    if options.glossary:
        path = Path(options.glossary)
        glossary = load_glossary(path if path.is_absolute() else base_dir / path)
    if options.require_glossary_term and not glossary:
        raise ConfigError(f"{where}: data.options.require_glossary_term needs data.options.glossary")
    samples, stats = eurlex_pairs(_rows(spec, base_dir, split_path, hub), options, glossary)
    if not samples:
        raise DataError(f"Multi-EURLEX {spec.path}: no {options.source_lang}->{options.target_lang} pair left of "
                        f"{stats.documents} acts ({stats.missing_language} without both languages, "
                        f"{stats.misaligned} with misaligned lines, {stats.too_short} segments too short, "
                        f"{stats.too_long} too long, {stats.no_glossary_term} without a glossary term)")
    return samples
