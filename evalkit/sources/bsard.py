"""BSARD (Belgian Statutory Article Retrieval Dataset): legal questions joined with the articles that answer them.

The Hugging Face dataset `maastrichtlawtech/bsard` has two configs:

- `questions` (splits `train`, `test`, `synthetic`): `id`, `question`, `category`, `subcategory`,
  `extra_description`, and `article_ids`: the ids of the relevant articles, a comma-separated string in the CSV
  files the hub serves (`"1062,1063"`; a lone id may be read as an integer), a list in older script versions;
- `corpus` (split `corpus`): `id`, `article` (the text), `reference` (its identifier), and where it sits in the
  law (`law_type`, `code`, `book`, `part`, `act`, `chapter`, `section`, `subsection`, `description`).

A suite names this source with `data: {source: bsard, path: ..., split: ...}`. `path` is either the hub name or a
local folder laid out like the hub repository (`questions_<split>.csv`, `articles.csv`), such as the bundled
offline sample in benchmarks/bsard. The hub is read through `datasets`; a local folder with the standard
library's csv reader (the tests check it agrees with the `csv` builder `datasets` uses for the hub's files).

Each question becomes one Sample: `input` is the question; `fields` carry the relevant articles (`articles`,
`article_ids`, and their citations as `references`), the articles the models are shown (`context_articles`,
`context_references`, and rendered as one text block, `context`), and the question's metadata; `target` is the
`answer` column where a split has one (the bundled training split's reference answers; the hub has none).

`data.options` (BsardOptions):

    distractors   N articles of the corpus that do not govern the question, added to its context (default 0).
                  A real legal copilot's retrieval returns the governing articles among others; citing one of
                  the others as the legal basis is an error a check can see. Which articles, and the order of
                  the gold and distractor articles in the context, are drawn from a generator seeded with
                  `seed` and the question id, so a question's context is the same in every run, split and
                  process, and independent of the other questions (adding a question changes no other context).
    seed          the seed of that draw (default 0); part of the data set, like the split, not of a run
                  (`--seed` does not change the articles a model is shown, so cached answers stay valid).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError, DataError
from evalkit.records import Sample
from evalkit.suite import DataSpec

__all__ = ["BsardArticle", "BsardOptions", "article_from_row", "context_articles", "join_questions", "load_bsard",
           "parse_article_ids", "render_context"]

HUB_QUESTIONS_CONFIG = "questions"
HUB_CORPUS_CONFIG = "corpus"
HUB_CORPUS_SPLIT = "corpus"
CORPUS_FILE = "articles.csv"
QUESTION_COLUMNS = ("id", "question", "article_ids")
METADATA_COLUMNS = ("category", "subcategory", "extra_description")


class BsardOptions(BaseModel):
    """`data.options` of a `source: bsard` suite."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    distractors: int = Field(default=0, ge=0, le=50)
    """Articles that do not govern the question, added to its context (0: the gold articles only)."""
    seed: int = 0
    """Seed of the distractor draw and of the context order (with the question id)."""


def parse_options(raw: Mapping[str, Any], where: str) -> BsardOptions:
    """BsardOptions from `data.options`; a ConfigError names the field, what was received and what is allowed."""
    try:
        return BsardOptions.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        allowed = ", ".join(BsardOptions.model_fields)
        msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{where}: data.options.{field}: {msg} (received {err.get('input')!r}; "
                          f"options of source bsard: {allowed})") from None


@dataclass(frozen=True)
class BsardArticle:
    """One statutory article of the corpus."""

    id: str
    reference: str
    """How the article is cited (e.g. `Art. 12, Code du logement locatif`): what a good answer names."""
    text: str

    def as_dict(self) -> dict[str, str]:
        """Plain JSON-able form, stored in Sample.fields (records stay serialisable)."""
        return {"id": self.id, "reference": self.reference, "text": self.text}


def _blank(value: Any) -> bool:
    """None, NaN (pandas' empty CSV cell) or whitespace-only text."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN
        return True
    return isinstance(value, str) and not value.strip()


def parse_article_ids(value: Any, where: str) -> tuple[str, ...]:
    """The article ids of one question, in their order, from a list, an integer or a comma-separated string."""
    if isinstance(value, bool) or _blank(value):
        raise DataError(f"{where}: column 'article_ids' is empty; every question needs at least one article")
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, float) and value.is_integer():
        items = [int(value)]  # a CSV column of lone ids may be read as floats when some cells are empty
    elif isinstance(value, str):
        items = [part for part in value.split(",")]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise DataError(f"{where}: column 'article_ids' must be a comma-separated string or a list of ids, "
                        f"got {type(value).__name__} {value!r}")
    ids: list[str] = []
    for item in items:
        text = str(item).strip()
        if not text:
            raise DataError(f"{where}: column 'article_ids' has an empty id in {value!r}")
        if text not in ids:  # a repeated id would show the same article twice
            ids.append(text)
    return tuple(ids)


def article_from_row(row: Mapping[str, Any], where: str) -> BsardArticle:
    """One corpus row as a BsardArticle; the citation falls back to `Art. <article_no>, <code>`, then the id."""
    missing = [c for c in ("id", "article") if c not in row or _blank(row[c])]
    if missing:
        raise DataError(f"{where}: missing or empty column(s) {', '.join(repr(c) for c in missing)}; "
                        f"the row has {', '.join(repr(c) for c in row) or 'no columns'}")
    article_id = str(row["id"]).strip()
    reference = row.get("reference")
    if _blank(reference):
        number, code = row.get("article_no"), row.get("code")
        if not _blank(number) and not _blank(code):
            reference = f"Art. {number}, {code}"
        else:
            reference = f"Article {article_id}"
    return BsardArticle(id=article_id, reference=str(reference).strip(), text=str(row["article"]).strip())


def index_corpus(rows: Iterable[Mapping[str, Any]], where: str,
                 labels: Sequence[str] | None = None) -> dict[str, BsardArticle]:
    """Corpus rows by article id; a repeated id is an error (which article a question means would be unclear).

    `labels` name each row in errors (e.g. `file.csv:12`); by default `<where> row <i>`.
    """
    corpus: dict[str, BsardArticle] = {}
    for i, row in enumerate(rows):
        here = labels[i] if labels else f"{where} row {i}"
        article = article_from_row(row, here)
        if article.id in corpus:
            raise DataError(f"{here}: duplicated article id {article.id!r}")
        corpus[article.id] = article
    if not corpus:
        raise DataError(f"{where}: the corpus has no articles")
    return corpus


def render_context(articles: Sequence[BsardArticle]) -> str:
    """The articles as the models see them: each citation on its own line, then the text; blank line between."""
    return "\n\n".join(f"{a.reference}\n{a.text}" for a in articles)


def context_articles(gold_ids: Sequence[str], corpus_ids: Sequence[str], question_id: str, distractors: int,
                     seed: int) -> tuple[list[str], list[str]]:
    """(the article ids shown for a question, in context order; the distractor ids among them). Pure.

    Without distractors the context is the gold articles in the question's order. With N, N ids are drawn from
    `corpus_ids` minus the gold ones, and gold and distractors are shuffled together, by a generator seeded with
    the text `bsard:<seed>:<question id>` (Python seeds str through SHA-512: the same in every process).
    """
    if distractors == 0:
        return list(gold_ids), []
    gold = set(gold_ids)
    pool = sorted(a for a in corpus_ids if a not in gold)  # sorted: the draw must not depend on row order
    if len(pool) < distractors:
        raise ValueError(f"question {question_id!r}: {distractors} distractors asked, but the corpus has only "
                         f"{len(pool)} other articles")
    rng = random.Random(f"bsard:{seed}:{question_id}")
    chosen = rng.sample(pool, distractors)
    shown = [*gold_ids, *chosen]
    rng.shuffle(shown)
    return shown, chosen


def join_questions(questions: Iterable[Mapping[str, Any]], corpus: Mapping[str, BsardArticle],
                   where: str, labels: Sequence[str] | None = None,
                   options: BsardOptions | None = None) -> list[Sample]:
    """Samples from question rows, each with its relevant articles looked up in the corpus (a pure function).

    Errors name the question row (`labels[i]` when given); an article id missing from the corpus is an error, never a silently shorter
    context, because the models would then be judged on articles they were not given. `options.distractors`
    adds that many other corpus articles to each context (see context_articles).
    """
    options = options or BsardOptions()
    corpus_ids = list(corpus)
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(questions):
        here = labels[i] if labels else f"{where} row {i}"
        missing = [c for c in QUESTION_COLUMNS if c not in row]
        if missing:
            raise DataError(f"{here}: missing column(s) {', '.join(repr(c) for c in missing)}; "
                            f"the row has {', '.join(repr(c) for c in row) or 'no columns'}")
        if _blank(row["question"]) or not isinstance(row["question"], str):
            raise DataError(f"{here}: column 'question' must be non-empty text, got {row['question']!r}")
        qid = str(row["id"]).strip()
        if qid in seen:
            first = labels[seen[qid]] if labels else f"row {seen[qid]}"
            raise DataError(f"{here}: duplicated question id {qid!r} (first at {first})")
        seen[qid] = i
        ids = parse_article_ids(row["article_ids"], here)
        unknown = [a for a in ids if a not in corpus]
        if unknown:
            raise DataError(f"{here}: article id(s) {', '.join(unknown)} not found in the corpus "
                            f"({len(corpus)} articles)")
        articles = [corpus[a] for a in ids]
        try:
            shown_ids, distractor_ids = context_articles(ids, corpus_ids, qid, options.distractors, options.seed)
        except ValueError as exc:
            raise DataError(f"{here}: {exc}") from None
        shown = [corpus[a] for a in shown_ids]
        fields: dict[str, Any] = {
            "article_ids": list(ids),
            "articles": [a.as_dict() for a in articles],
            "references": [a.reference for a in articles],
            "context_article_ids": shown_ids,
            "distractor_ids": distractor_ids,
            "context_references": [a.reference for a in shown],
            "context": render_context(shown),
        }
        for column in METADATA_COLUMNS:
            if column in row:
                fields[column] = None if _blank(row[column]) else str(row[column]).strip()
        answer = row.get("answer")
        samples.append(Sample(id=qid, input=row["question"].strip(),
                              target=None if _blank(answer) else str(answer).strip(), fields=fields))
    if not samples:
        raise DataError(f"{where}: no questions")
    return samples


# ---------------------------------------------------------------------------------------------------------
# Loading shell: everything above is pure; below only reads tables through `datasets`.


def _read_hub(path: str, config: str, split: str) -> list[dict[str, Any]]:
    """All rows of one hub dataset split as dicts, through `datasets` (the caller holds the hub session that
    makes an offline read use the local cache, evalkit.sources.hub)."""
    from evalkit.sources.hub import (
        load_hub_split,  # imports `datasets`: only suites that read the hub pay it
    )

    return [dict(row) for row in load_hub_split(path, config, split)]


def _read_csv(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Rows of a local CSV in the hub's layout, and the line each row starts on (cells may span lines).

    The standard library reads the same files the hub's `csv` builder does (evalkit's tests check that the two
    agree on the bundled sample); it keeps the offline demo free of `datasets` and lets errors name a line.
    """
    import csv

    rows, lines = [], []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            start = 2
            for row in reader:
                rows.append({k: (v if v != "" else None) for k, v in row.items()})
                lines.append(start)
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: invalid CSV: {exc}") from None
    return rows, lines


def load_bsard(spec: DataSpec, base_dir: Path, *, questions_file: str | None = None) -> list[Sample]:
    """Samples of a `source: bsard` DataSpec: from a local folder laid out like the hub, or the hub itself.

    `questions_file` reads another questions file of the local folder's layout (e.g. the training split's
    `questions_train.csv`), relative to the suite folder like DataSpec.train_path.
    """
    options = parse_options(spec.options, str(base_dir))
    local = Path(spec.path) if Path(spec.path).is_absolute() else base_dir / spec.path
    if questions_file is not None or local.is_dir():
        folder = local if local.is_dir() else base_dir
        qfile = Path(questions_file) if questions_file else Path(f"questions_{spec.split}.csv")
        qpath = qfile if qfile.is_absolute() else (base_dir / qfile if questions_file else folder / qfile)
        cpath = (qpath.parent if questions_file else folder) / CORPUS_FILE
        for p in (qpath, cpath):
            if not p.is_file():
                raise DataError(f"BSARD data file not found: {p} (a local BSARD folder holds "
                                f"questions_<split>.csv and {CORPUS_FILE})")
        corpus_rows, corpus_lines = _read_csv(cpath)
        question_rows, question_lines = _read_csv(qpath)
        corpus = index_corpus(corpus_rows, str(cpath), [f"{cpath}:{n}" for n in corpus_lines])
        return join_questions(question_rows, corpus, str(qpath), [f"{qpath}:{n}" for n in question_lines],
                              options)
    corpus_where = f"Hugging Face dataset {spec.path!r} (config {HUB_CORPUS_CONFIG!r})"
    questions_where = f"Hugging Face dataset {spec.path!r} (config {HUB_QUESTIONS_CONFIG!r}, split {spec.split!r})"
    corpus_rows = _read_hub(spec.path, HUB_CORPUS_CONFIG, HUB_CORPUS_SPLIT)
    question_rows = _read_hub(spec.path, HUB_QUESTIONS_CONFIG, spec.split)
    corpus = index_corpus(corpus_rows, corpus_where)
    return join_questions(question_rows, corpus, questions_where, options=options)
