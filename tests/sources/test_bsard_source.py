"""The BSARD source: the pure join on rows, local folders in the hub's CSV layout, and the hub path (stubbed)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_samples
from evalkit.sources.bsard import (BsardArticle, article_from_row, index_corpus, join_questions, parse_article_ids,
                                   render_context)
from evalkit.suite import DataSpec

# The columns the hub serves (config `corpus`, split `corpus`; config `questions`, splits train/test/synthetic).
CORPUS_COLUMNS = ["id", "article", "reference", "law_type", "code", "book", "part", "act", "chapter", "section",
                  "subsection", "description"]
QUESTION_COLUMNS = ["id", "question", "category", "subcategory", "extra_description", "article_ids"]

CORPUS = [
    {"id": 10, "article": "Le bail est conclu par écrit.", "reference": "Art. 1er, Code test du bail"},
    {"id": 11, "article": "La garantie ne dépasse pas deux mois de loyer.", "reference": "Art. 2, Code test du bail"},
    {"id": 12, "article": "Le préavis est de trois mois.", "reference": "Art. 3, Code test du bail"},
]


def _corpus() -> dict[str, BsardArticle]:
    return index_corpus(CORPUS, "corpus")


def test_article_ids_forms() -> None:
    assert parse_article_ids("1062,1063", "q") == ("1062", "1063")
    assert parse_article_ids(" 5 , 7 ,5", "q") == ("5", "7")  # spaces trimmed, repeats dropped, order kept
    assert parse_article_ids(13348, "q") == ("13348",)  # a lone id read as an integer by the CSV builder
    assert parse_article_ids(7.0, "q") == ("7",)
    assert parse_article_ids([3, "4"], "q") == ("3", "4")  # older script versions gave lists


@pytest.mark.parametrize("value", ["", None, float("nan"), "1,,2", True, {"a": 1}])
def test_article_ids_rejects_bad_values(value: object) -> None:
    with pytest.raises(DataError, match=r"^q row 3: column 'article_ids'"):
        parse_article_ids(value, "q row 3")


def test_join_builds_context_in_article_order() -> None:
    rows = [{"id": 1, "question": " Combien de garantie ? ", "article_ids": "11,10", "category": "Logement",
             "subcategory": None, "extra_description": "Bail"}]
    [sample] = join_questions(rows, _corpus(), "questions")
    assert sample.id == "1" and sample.input == "Combien de garantie ?" and sample.target is None
    assert sample.fields["article_ids"] == ["11", "10"]
    assert [a["reference"] for a in sample.fields["articles"]] == ["Art. 2, Code test du bail",
                                                                 "Art. 1er, Code test du bail"]
    assert sample.fields["context"] == ("Art. 2, Code test du bail\nLa garantie ne dépasse pas deux mois de loyer."
                                        "\n\nArt. 1er, Code test du bail\nLe bail est conclu par écrit.")
    assert sample.fields["category"] == "Logement" and sample.fields["subcategory"] is None


def test_join_keeps_reference_answers_as_target() -> None:
    rows = [{"id": "t1", "question": "Q ?", "article_ids": "12", "answer": "## Réponse\nSelon l'Art. 3 ..."}]
    [sample] = join_questions(rows, _corpus(), "train")
    assert sample.target == "## Réponse\nSelon l'Art. 3 ..."


def test_join_errors_name_the_row() -> None:
    corpus = _corpus()
    with pytest.raises(DataError, match=r"questions row 1: article id\(s\) 99 not found in the corpus \(3 articles\)"):
        join_questions([{"id": 1, "question": "a", "article_ids": "10"},
                        {"id": 2, "question": "b", "article_ids": "10,99"}], corpus, "questions")
    with pytest.raises(DataError, match=r"questions row 0: missing column\(s\) 'article_ids'"):
        join_questions([{"id": 1, "question": "a"}], corpus, "questions")
    with pytest.raises(DataError, match=r"questions row 1: duplicated question id '1' \(first at row 0\)"):
        join_questions([{"id": 1, "question": "a", "article_ids": "10"},
                        {"id": "1", "question": "b", "article_ids": "11"}], corpus, "questions")
    with pytest.raises(DataError, match=r"questions row 0: column 'question' must be non-empty text"):
        join_questions([{"id": 1, "question": "  ", "article_ids": "10"}], corpus, "questions")
    with pytest.raises(DataError, match=r"questions: no questions"):
        join_questions([], corpus, "questions")


def test_corpus_reference_fallbacks_and_duplicates() -> None:
    assert article_from_row({"id": 4, "article": "x", "article_no": "7bis", "code": "Code judiciaire"},
                            "c").reference == "Art. 7bis, Code judiciaire"
    assert article_from_row({"id": 4, "article": "x", "reference": None}, "c").reference == "Article 4"
    with pytest.raises(DataError, match=r"corpus row 1: duplicated article id '10'"):
        index_corpus([CORPUS[0], CORPUS[0]], "corpus")
    with pytest.raises(DataError, match=r"c: missing or empty column\(s\) 'article'"):
        article_from_row({"id": 4, "article": ""}, "c")


def test_render_context_is_empty_safe() -> None:
    assert render_context([]) == ""


# ---------------------------------------------------------------------------------------------------------
# Local CSV files laid out like the hub repository


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


@pytest.fixture
def hub_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "suite" / "data"
    folder.mkdir(parents=True)
    _write_csv(folder / "articles.csv", CORPUS_COLUMNS,
               [dict(r, law_type="regional", code="Code test du bail") for r in CORPUS])
    # One multi-article question, one lone id, and a question spanning two lines (quoted CSV cell).
    _write_csv(folder / "questions_test.csv", QUESTION_COLUMNS, [
        {"id": 1, "question": "Quelle garantie ?", "category": "Logement", "article_ids": "11,10"},
        {"id": 2, "question": "Quel préavis ?\nEt pour un bail court ?", "category": "Logement", "article_ids": "12"},
    ])
    _write_csv(folder / "questions_train.csv", QUESTION_COLUMNS + ["answer"], [
        {"id": 3, "question": "Faut-il un écrit ?", "article_ids": "10", "answer": "## Réponse\n- **Art. 1er**"},
    ])
    return folder


def test_local_folder(hub_folder: Path) -> None:
    spec = DataSpec(source="bsard", path="data", split="test")
    samples = load_samples(spec, hub_folder.parent)
    assert [s.id for s in samples] == ["1", "2"]
    assert samples[0].fields["article_ids"] == ["11", "10"]
    assert samples[1].input == "Quel préavis ?\nEt pour un bail court ?"  # multi-line CSV cells survive
    assert samples[1].fields["context"] == "Art. 3, Code test du bail\nLe préavis est de trois mois."
    assert samples[1].fields["extra_description"] is None  # empty cell -> None, not "nan"


def test_train_split_by_path_and_by_split_name(hub_folder: Path) -> None:
    spec = DataSpec(source="bsard", path="data", split="test", train_path="data/questions_train.csv")
    [by_path] = load_samples(spec, hub_folder.parent, split_path=spec.train_path)
    [by_split] = load_samples(spec.model_copy(update={"split": "train"}), hub_folder.parent)
    assert by_path == by_split
    assert by_path.target == "## Réponse\n- **Art. 1er**" and by_path.fields["article_ids"] == ["10"]


def test_local_errors_name_file_and_line(hub_folder: Path) -> None:
    _write_csv(hub_folder / "questions_bad.csv", QUESTION_COLUMNS, [
        {"id": 1, "question": "Une question\nsur deux lignes ?", "article_ids": "10"},
        {"id": 2, "question": "Quel article ?", "article_ids": "10,404"},
    ])
    spec = DataSpec(source="bsard", path="data", split="bad")
    # Row 2 starts on line 4: the header is line 1 and the first question spans lines 2-3.
    with pytest.raises(DataError, match=r"questions_bad\.csv:4: article id\(s\) 404 not found in the corpus"):
        load_samples(spec, hub_folder.parent)


def test_local_reader_agrees_with_the_datasets_csv_builder(hub_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub serves these files through `datasets`' csv builder; the local reader must see the same rows."""
    import datasets
    import datasets.config

    # Offline and with a private cache, through datasets' own settings (restored after the test): setting the
    # environment variables would only work before `datasets` is first imported, and would then stick.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", hub_folder.parent / "hf-cache")

    from evalkit.sources.bsard import _read_csv

    for name in ("articles.csv", "questions_test.csv", "questions_train.csv"):
        path = hub_folder / name
        ours, _ = _read_csv(path)
        theirs = [dict(r) for r in datasets.load_dataset("csv", data_files=str(path), split="train")]
        corpus = index_corpus(_read_csv(hub_folder / "articles.csv")[0], "c")
        if name == "articles.csv":
            assert index_corpus(ours, "a") == index_corpus(theirs, "b")
        else:
            assert join_questions(ours, corpus, "a") == join_questions(theirs, corpus, "b")


def test_missing_local_file_is_named(hub_folder: Path) -> None:
    spec = DataSpec(source="bsard", path="data", split="synthetic")
    with pytest.raises(DataError, match=r"BSARD data file not found: .*questions_synthetic\.csv"):
        load_samples(spec, hub_folder.parent)


def test_hub_path_asks_datasets_for_both_configs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a local folder, the hub name is loaded as two configs; here `datasets` is replaced by a stub."""
    import datasets

    calls: list[tuple[str, str | None, str]] = []
    tables = {"corpus": CORPUS, "questions": [{"id": 7, "question": "Q ?", "article_ids": "12,10",
                                               "category": "c", "subcategory": "s", "extra_description": "e"}]}

    def fake_load(path: str, name: str | None = None, split: str = "", **kwargs: object) -> list[dict]:
        calls.append((path, name, split))
        return tables[name]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # "the hub is reachable", without a network probe
    samples = load_samples(DataSpec(source="bsard", path="maastrichtlawtech/bsard", split="test"), tmp_path)
    assert calls == [("maastrichtlawtech/bsard", "corpus", "corpus"), ("maastrichtlawtech/bsard", "questions", "test")]
    assert samples[0].fields["article_ids"] == ["12", "10"] and samples[0].fields["subcategory"] == "s"


def test_hub_failure_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    spec = DataSpec(source="bsard", path="no-such-owner/no-such-bsard", split="test")
    with pytest.raises(DataError, match=r"Hugging Face dataset 'no-such-owner/no-such-bsard' \(split 'test'\) could "
                                         r"not be loaded: the hub is out of reach \(HF_HUB_OFFLINE is set\)") as info:
        load_samples(spec, tmp_path)
    assert "\n" not in str(info.value)


def test_a_hub_read_that_fails_names_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import datasets

    def broken(path: str, name: str | None = None, split: str = "", **kwargs: object) -> list[dict]:
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(DataError, match=r"'maastrichtlawtech/bsard' \(config 'corpus', split 'corpus'\) could not be "
                                         r"loaded: ConnectionError: reset by peer"):
        load_samples(DataSpec(source="bsard", path="maastrichtlawtech/bsard", split="test"), tmp_path)


# ---------------------------------------------------------------------------------------------------------
# Distractors: other corpus articles added to each context, seeded by the options' seed and the question id

BIG_CORPUS = [{"id": i, "article": f"Texte de l'article {i}.", "reference": f"Art. {i} du Code test"}
              for i in range(100, 120)]


def _questions() -> list[dict]:
    return [{"id": q, "question": f"Question {q} ?", "article_ids": ids}
            for q, ids in (("q1", "100,101"), ("q2", "105"), ("q3", "110,111"))]


def test_distractors_are_other_articles_shuffled_with_the_gold_ones() -> None:
    from evalkit.sources.bsard import BsardOptions

    corpus = index_corpus(BIG_CORPUS, "corpus")
    samples = join_questions(_questions(), corpus, "questions", options=BsardOptions(distractors=3))
    for s in samples:
        gold, shown, extra = s.fields["article_ids"], s.fields["context_article_ids"], s.fields["distractor_ids"]
        assert len(extra) == 3 and not set(extra) & set(gold)  # three others, never a gold one
        assert sorted(shown) == sorted([*gold, *extra])
        assert s.fields["references"] == [f"Art. {a} du Code test" for a in gold]  # gold only, question order
        assert s.fields["context_references"] == [f"Art. {a} du Code test" for a in shown]
        # The context shows exactly the shown articles, in that order.
        assert s.fields["context"] == "\n\n".join(f"Art. {a} du Code test\nTexte de l'article {a}." for a in shown)
    # Across the three questions the gold articles are not always first (the order is shuffled).
    assert any(s.fields["context_article_ids"][: len(s.fields["article_ids"])] != s.fields["article_ids"]
               for s in samples)


def test_distractors_depend_on_seed_and_question_only() -> None:
    from evalkit.sources.bsard import BsardOptions

    corpus = index_corpus(BIG_CORPUS, "corpus")
    first = join_questions(_questions(), corpus, "q", options=BsardOptions(distractors=3))
    again = join_questions(list(reversed(_questions())), index_corpus(list(reversed(BIG_CORPUS)), "c"), "q",
                           options=BsardOptions(distractors=3))
    # Same contexts whatever the order of the questions and of the corpus rows.
    assert {s.id: s.fields["context_article_ids"] for s in first} == {s.id: s.fields["context_article_ids"]
                                                                       for s in again}
    alone = join_questions(_questions()[1:2], corpus, "q", options=BsardOptions(distractors=3))
    assert alone[0].fields["context_article_ids"] == first[1].fields["context_article_ids"]  # not the others
    other_seed = join_questions(_questions(), corpus, "q", options=BsardOptions(distractors=3, seed=1))
    assert [s.fields["context_article_ids"] for s in other_seed] != [s.fields["context_article_ids"] for s in first]


def test_pinned_draw_is_stable_across_processes() -> None:
    """The draw is seeded by text (SHA-512 inside `random`), so it does not depend on PYTHONHASHSEED."""
    import subprocess
    import sys

    from evalkit.sources.bsard import context_articles

    ids = [str(i) for i in range(100, 120)]
    here = context_articles(["100"], ids, "q1", 3, 0)
    code = ("from evalkit.sources.bsard import context_articles as c;"
            f"print(c(['100'], {ids!r}, 'q1', 3, 0))")
    for hashseed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": hashseed, "PATH": ""})
        assert out.stdout.strip() == repr(here)


def test_zero_distractors_keeps_the_gold_context() -> None:
    [sample] = join_questions([{"id": 1, "question": "Q ?", "article_ids": "11,10"}], _corpus(), "q")
    assert sample.fields["context_article_ids"] == ["11", "10"] and sample.fields["distractor_ids"] == []


def test_too_many_distractors_names_the_row() -> None:
    from evalkit.sources.bsard import BsardOptions

    with pytest.raises(DataError, match=r"^questions row 0: question '1': 5 distractors asked, but the corpus has "
                                        r"only 1 other articles$"):
        join_questions([{"id": 1, "question": "Q ?", "article_ids": "11,10"}], _corpus(), "questions",
                       options=BsardOptions(distractors=5))


def test_options_are_validated_in_one_line(hub_folder: Path) -> None:
    from evalkit.errors import ConfigError

    for options, message in (({"distractors": -1}, r"data\.options\.distractors: .*greater than or equal to 0"),
                             ({"distractor": 2}, r"data\.options\.distractor: unknown option .*distractors, seed")):
        spec = DataSpec(source="bsard", path="data", split="test", options=options)
        with pytest.raises(ConfigError, match=message) as info:
            load_samples(spec, hub_folder.parent)
        assert "\n" not in str(info.value)


def test_local_folder_and_hub_draw_the_same_distractors(hub_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The option works for both loaders, and the same rows give the same contexts."""
    import datasets

    local = load_samples(DataSpec(source="bsard", path="data", split="test", options={"distractors": 1}),
                         hub_folder.parent)
    tables = {"corpus": CORPUS, "questions": [{"id": 1, "question": "Quelle garantie ?", "article_ids": "11,10"},
                                              {"id": 2, "question": "Quel préavis ?", "article_ids": "12"}]}
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None, split="", **kw: tables[name])
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    hub = load_samples(DataSpec(source="bsard", path="maastrichtlawtech/bsard", split="test",
                                options={"distractors": 1}), hub_folder)
    assert [s.fields["context_article_ids"] for s in hub] == [s.fields["context_article_ids"] for s in local]
    assert hub[1].fields["distractor_ids"] and hub[1].fields["distractor_ids"][0] in {"10", "11"}
