"""The bundled suites, judges and adapters in a source checkout: where evalkit finds them, what overrides them,
and that no suite the distribution ships names a file outside what it ships (tests/packaging/test_wheel.py
checks the same on the built wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_refs import outside_references, path_references

from evalkit.judging import available_judges
from evalkit.resources import _is_evalkit_checkout, bundled_dir, bundled_root
from evalkit.suite import available_suites, load_suite
from evalkit.tasks.judged import judge_dirs

REPO = Path(__file__).resolve().parents[2]
SHIPPED_SUITES = sorted(d.name for d in (REPO / "benchmarks").iterdir() if (d / "suite.yaml").is_file())
"""The suite folders setup.py maps into the package (a folder of benchmarks/ with a suite.yaml)."""
LISTED = sorted([*SHIPPED_SUITES,
                 *(f"{s}-hub" for s in SHIPPED_SUITES if (REPO / "benchmarks" / s / "hub.yaml").is_file())])
"""What `evalkit suites` lists: each suite, and each hub variant (NAME/hub.yaml) as NAME-hub."""


def test_a_checkout_reads_its_own_top_level_folders() -> None:
    assert bundled_root() == REPO
    assert bundled_dir("benchmarks") == REPO / "benchmarks" and bundled_dir("adapters") == REPO / "adapters"
    with pytest.raises(ValueError, match="not a bundled folder: 'docs'"):
        bundled_dir("docs")


def test_only_a_pyproject_naming_evalkit_makes_a_checkout(tmp_path: Path) -> None:
    assert not _is_evalkit_checkout(tmp_path)  # e.g. site-packages with someone else's benchmarks/ folder
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    assert not _is_evalkit_checkout(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "evalkit"\n', encoding="utf-8")
    assert _is_evalkit_checkout(tmp_path)


def test_perf_and_sequential_are_scripts_not_suites() -> None:
    assert "perf" not in SHIPPED_SUITES and "sequential" not in SHIPPED_SUITES
    assert {"news", "bsard", "eurlex", "mmlu-genetics", "pubmedqa"} <= set(SHIPPED_SUITES)


def test_user_suites_and_judges_override_the_bundled_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALKIT_BENCHMARKS", raising=False)
    monkeypatch.delenv("EVALKIT_JUDGES", raising=False)
    assert list(available_suites()) == LISTED and {"bsard-hub", "eurlex-hub"} <= set(LISTED)
    assert all(p.is_relative_to(REPO / "benchmarks") for p in available_suites().values())
    # ./benchmarks wins over the bundled folder, and $EVALKIT_BENCHMARKS over ./benchmarks.
    (tmp_path / "benchmarks" / "news").mkdir(parents=True)
    (tmp_path / "benchmarks" / "news" / "suite.yaml").write_text(
        (REPO / "benchmarks/news/suite.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert available_suites()["news"] == (tmp_path / "benchmarks/news/suite.yaml").resolve()
    (tmp_path / "env" / "news").mkdir(parents=True)
    (tmp_path / "env" / "news" / "suite.yaml").write_text(
        (REPO / "benchmarks/news/suite.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("EVALKIT_BENCHMARKS", str(tmp_path / "env"))
    assert available_suites()["news"] == (tmp_path / "env/news/suite.yaml").resolve()
    assert available_suites()["bsard"] == REPO / "benchmarks/bsard/suite.yaml"  # the rest stays bundled
    # Judges: ./judges, then $EVALKIT_JUDGES before it, then the bundled ones.
    (tmp_path / "judges").mkdir()
    (tmp_path / "judges" / "preference.yaml").write_text((REPO / "judges/preference.yaml").read_text(encoding="utf-8"),
                                                        encoding="utf-8")
    found = available_judges(judge_dirs())
    assert found["preference"] == (tmp_path / "judges/preference.yaml").resolve()
    assert found["legal_quality"] == REPO / "judges/legal_quality.yaml"


def test_the_reference_check_sees_a_path_outside_the_bundle() -> None:
    text = "data: {path: ../../../shared/data/mmlu/x.csv}\nmodels: {ft: {adapter: ../../adapters/mcq/adapter.gguf}}\n"
    assert outside_references("b/benchmarks/s/suite.yaml", text, "b") == ["../../../shared/data/mmlu/x.csv"]
    assert outside_references("b/benchmarks/s/suite.yaml", "data: {path: /abs/t.jsonl}", "b") == ["/abs/t.jsonl"]
    assert path_references("data: {path: cais/mmlu}\ndescription: BLEU/chrF and a.csv file\n") == []


@pytest.mark.parametrize("suite", SHIPPED_SUITES)
def test_no_shipped_suite_names_a_file_outside_the_bundle(suite: str) -> None:
    for f in sorted((REPO / "benchmarks" / suite).glob("*.yaml")):
        rel = f.relative_to(REPO).as_posix()
        text = f.read_text(encoding="utf-8")
        assert outside_references(rel, text, ".") == [], f"{rel} names a path outside the repository"
        for ref in path_references(text):
            target = (f.parent / ref).resolve()
            assert target.exists(), f"{rel} names {ref}, which does not exist"
            assert target.relative_to(REPO).parts[0] in ("benchmarks", "judges", "adapters"), f"{rel}: {ref}"


@pytest.mark.parametrize("suite", SHIPPED_SUITES)
def test_every_judge_a_shipped_suite_names_is_bundled(suite: str) -> None:
    spec = load_suite(suite)
    names = [spec.task_args.get(k) for k in ("judge", "checks") if isinstance(spec.task_args.get(k), str)]
    bundled = available_judges([REPO / "judges"])
    for name in names:
        assert name in bundled, f"suite {suite} names judge {name!r}, which judges/ does not hold"
