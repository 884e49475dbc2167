"""The bundled bsard sample and its suites: sizes, schema, answer format, and the prompts the models get."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from evalkit.loaders import load_samples
from evalkit.prompts import render_prompt
from evalkit.suite import load_suite

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bsard"
HUB_QUESTION_COLUMNS = ["id", "question", "category", "subcategory", "extra_description", "article_ids"]
HUB_CORPUS_COLUMNS = ["id", "article", "reference", "law_type", "code", "book", "part", "act", "chapter",
                      "section", "subsection", "description"]


@pytest.fixture(scope="module")
def suite():
    return load_suite(str(BENCH / "suite.yaml"))


@pytest.fixture(scope="module")
def test_samples(suite):
    return load_samples(suite.data, suite.directory)


@pytest.fixture(scope="module")
def train_samples(suite):
    return load_samples(suite.data, suite.directory, split_path=suite.data.train_path)


def _header(name: str) -> list[str]:
    with (BENCH / name).open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def test_files_use_the_hub_columns() -> None:
    assert _header("articles.csv") == HUB_CORPUS_COLUMNS
    assert _header("questions_test.csv") == HUB_QUESTION_COLUMNS
    assert _header("questions_train.csv") == HUB_QUESTION_COLUMNS + ["answer"]


def test_sizes_and_disjoint_splits(test_samples, train_samples) -> None:
    assert len(test_samples) >= 30 and len(train_samples) >= 120
    assert not {s.id for s in test_samples} & {s.id for s in train_samples}
    norm = lambda t: re.sub(r"\W+", " ", t.lower()).strip()  # noqa: E731
    assert not {norm(s.input) for s in test_samples} & {norm(s.input) for s in train_samples}
    assert len({norm(s.input) for s in test_samples + train_samples}) == len(test_samples) + len(train_samples)


def test_every_article_is_used_and_every_domain_is_tested(test_samples, train_samples) -> None:
    with (BENCH / "articles.csv").open(encoding="utf-8", newline="") as fh:
        corpus = {row["id"] for row in csv.DictReader(fh)}
    used = {a for s in test_samples + train_samples for a in s.fields["article_ids"]}
    assert used == corpus
    assert {s.fields["subcategory"] for s in test_samples} == {s.fields["subcategory"] for s in train_samples}


def test_training_answers_cite_their_articles_in_the_taught_format(train_samples) -> None:
    for s in train_samples:
        answer = s.target or ""
        assert answer.startswith("## Réponse\n\n"), s.id
        assert "\n\n## Fondement légal\n\n- **" in answer and "\n\n## Application\n\n" in answer, s.id
        for article in s.fields["articles"]:
            # Cited by its exact reference in the bullets, and by name ("l'article N du Code ...") in the reasoning.
            assert f"- **{article['reference']}** : " in answer, (s.id, article["reference"])
            number_and_code = article["reference"].removeprefix("Art. ")
            application = answer.split("## Application")[1].lower()
            assert f"article {number_and_code}".lower() in application, (s.id, number_and_code)


def test_test_questions_have_no_reference_answer(test_samples) -> None:
    assert all(s.target is None for s in test_samples)


def test_prompts_base_instructed_ft_bare(suite, test_samples) -> None:
    sample = test_samples[0]
    _, base = suite.prompt_for("base", None)
    _, ft = suite.prompt_for("ft", None)
    base_text = render_prompt(base, sample, {}, where="base").text or ""
    ft_text = render_prompt(ft, sample, {}, where="ft").text or ""
    assert ft_text == f"Articles :\n{sample.fields['context']}\n\nQuestion : {sample.input}\n"
    assert base_text.endswith(ft_text) and "Cite explicitement" in base_text  # same material, plus instructions
    assert "## Fondement légal" in base_text  # the one worked example shows the expected format
    # The worked example's article is not one of the data set's (no answer leaks into the base prompt).
    with (BENCH / "articles.csv").open(encoding="utf-8", newline="") as fh:
        references = {row["reference"] for row in csv.DictReader(fh)}
    example = base_text[: -len(ft_text)]
    assert not any(ref in example for ref in references)


def test_suite_settings(suite) -> None:
    assert suite.task == "pairwise_judge"
    assert suite.task_args == {"checks": "bsard_checks", "judge": "legal_quality",
                               "context_field": "context"}  # RAGAS off offline
    assert suite.generation.max_tokens <= 256 and suite.generation.temperature == 0.0
    assert suite.models["ft"]["adapter"] == "../../adapters/bsard/adapter.gguf"


def test_hub_suite_matches_the_offline_one(suite) -> None:
    hub = load_suite(str(BENCH / "hub.yaml"))
    assert hub.data.source == "bsard" and hub.data.path == "maastrichtlawtech/bsard" and hub.data.split == "test"
    assert hub.prompts == suite.prompts and hub.generation == suite.generation
    assert (hub.task, hub.models) == (suite.task, suite.models)
    assert hub.task_args == {**suite.task_args, "ragas": {"metrics": ["faithfulness", "answer_relevancy"]}}


@pytest.mark.parametrize("name", ["suite.yaml", "hub.yaml"])
def test_suites_build_their_task(name: str) -> None:
    from evalkit.tasks import create_task

    suite = load_suite(str(BENCH / name))
    task = create_task(suite.task, suite.task_args, suite.path)
    assert task.name == "pairwise_judge" and (task.ragas is not None) == (name == "hub.yaml")


def test_suite_contexts_hold_three_distractors(suite, test_samples, train_samples) -> None:
    assert suite.data.options == {"distractors": 3}
    for s in test_samples + train_samples:
        assert len(s.fields["distractor_ids"]) == 3
        assert len(s.fields["context_references"]) == len(s.fields["references"]) + 3
        assert set(s.fields["references"]) < set(s.fields["context_references"])
    # The gold articles are not always shown first: position gives nothing away.
    firsts = [s.fields["context_article_ids"][0] in s.fields["article_ids"] for s in test_samples]
    assert 0 < sum(firsts) < len(firsts)


def test_training_variants_share_answers_not_contexts() -> None:
    import sys

    sys.path.insert(0, str(BENCH))
    try:
        from train_adapter import TRAIN_SPLIT, suite_pairs
    finally:
        sys.path.remove(str(BENCH))
    one = suite_pairs(BENCH.parents[1] / TRAIN_SPLIT, 1)
    two = suite_pairs(BENCH.parents[1] / TRAIN_SPLIT, 2)
    n = len(one)
    assert two[:n] == one  # variant 0 is exactly what the suite shows
    assert [c for _, c in two[n:]] == [c for _, c in one]
    assert sum(p != q for (p, _), (q, _) in zip(two[:n], two[n:])) == n  # every variant-1 context differs
