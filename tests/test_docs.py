"""Documentation that cannot drift: the metric names, exit codes and commands the docs promise exist.

Each check reads the promise from the doc itself (not a copy of it here), so editing a doc without the code, or
the code without the doc, fails a test.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from evalkit.cli import build_parser, main
from evalkit.operational import OPERATIONAL_COMPARISONS, OPERATIONAL_METRICS

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def names_in(text: str) -> list[str]:
    return re.findall(r"`([a-z][a-z0-9_]*)`", text)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real classification run of two replay models (one of them wrong on a third of the items)."""
    root = tmp_path_factory.mktemp("docs-run")
    rows = [{"id": f"s{i}", "text": f"item {i}", "label": "pos" if i % 2 else "neg"} for i in range(30)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for name, wrong in (("base", 3), ("ft", 10)):
        (root / f"{name}.jsonl").write_text("".join(
            json.dumps({"id": r["id"], "output": ("neg" if r["label"] == "pos" else "pos") if i % wrong == 0
                        else r["label"]}) + "\n" for i, r in enumerate(rows)), encoding="utf-8")
    (root / "suite.yaml").write_text("""
task: classification
task_args: {labels: [pos, neg], positive_label: pos}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts: {default: {style: chat, template: "{{ input }}"}}
models:
  base: {provider: replay, model: base, path: base.jsonl}
  ft: {provider: replay, model: ft, path: ft.jsonl}
""", encoding="utf-8")
    code, out, err = cli("run", str(root / "suite.yaml"), "--models", "base,ft", "--quiet", "--out", str(root / "r"),
                         "--no-cache")
    assert code == 0, err
    return Path(out.strip().splitlines()[-1]).parent


def test_metric_names_of_the_results_schema_appear_in_a_real_run(run_dir: Path) -> None:
    text = (DOCS / "results-schema.md").read_text(encoding="utf-8")
    doc = json.loads((run_dir / "results.json").read_text())
    task_part = re.search(r"classification: (.*?)\)", text, re.S).group(1)
    operational_part = re.search(r"Operational metrics are common to all tasks: (.*?)\.\n", text, re.S).group(1)
    comparisons_part = re.search(r"operational comparisons\s+use their own names \((.*?)\)", text, re.S).group(1)
    promised = names_in(task_part) + names_in(operational_part)
    assert len(promised) >= 10
    for model in ("base", "ft"):
        missing = [n for n in promised if n not in doc["models"][model]["metrics"]]
        assert not missing, f"docs/results-schema.md promises {missing}, absent from results.json"
    assert set(names_in(operational_part)) <= set(OPERATIONAL_METRICS)
    for name in names_in(comparisons_part):
        assert name in OPERATIONAL_COMPARISONS and name in doc["comparisons"]["ft"]
    table = text.split("A metric object:")[1].split("Metric names")[0]
    fields = [f for cell in re.findall(r"^\| (`[^|]*`) \|", table, re.M) for f in names_in(cell)]
    assert fields and set(fields) <= set(doc["models"]["ft"]["metrics"]["accuracy"]), fields


def _exit_codes(text: str) -> dict[int, str]:
    return {int(code): meaning for code, meaning in re.findall(r"^\| `(\d)` \| (.*?) \|$", text, re.M)}


def test_gate_exit_codes_are_the_documented_ones(run_dir: Path, tmp_path: Path) -> None:
    codes = _exit_codes((DOCS / "ci-gates.md").read_text(encoding="utf-8"))
    assert sorted(codes) == [0, 1, 2, 3] and "did not complete" in codes[3]
    rules = tmp_path / "rules.yaml"
    rules.write_text("- ft.accuracy >= 0.5\n", encoding="utf-8")
    assert cli("gate", str(run_dir), "--rules", str(rules))[0] == 0
    rules.write_text("- ft.accuracy >= 0.99\n", encoding="utf-8")
    assert cli("gate", str(run_dir), "--rules", str(rules))[0] == 1
    rules.write_text("- ft.acuracy >= 0.5\n", encoding="utf-8")
    code, _, err = cli("gate", str(run_dir), "--rules", str(rules))
    assert code == 2 and len(err.strip().splitlines()) == 1
    # An incomplete run: what run.json says after an interrupted `evalkit run`.
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    for f in run_dir.iterdir():
        if f.is_file():
            (incomplete / f.name).write_bytes(f.read_bytes())
    info = json.loads((incomplete / "run.json").read_text())
    (incomplete / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    rules.write_text("- ft.accuracy >= 0.5\n", encoding="utf-8")
    assert cli("gate", str(incomplete), "--rules", str(rules))[0] == 3
    (incomplete / "results.json").unlink()  # killed before the report: nothing to gate, still exit 3, not 2
    code, out, _ = cli("gate", str(incomplete), "--rules", str(rules))
    assert code == 3 and "'interrupted'" in out


def test_run_exit_codes_in_the_readme(tmp_path: Path) -> None:
    line = next(x for x in (REPO / "README.md").read_text().splitlines() if x.startswith("Exit codes: 0 success"))
    promised = {int(c) for c in re.findall(r"(\d+) (?:success|a usage|interrupted)", line)}
    assert promised == {0, 2, 130}
    from evalkit import cli as cli_module

    assert (cli_module.EXIT_OK, cli_module.EXIT_USAGE, cli_module.EXIT_INTERRUPTED) == (0, 2, 130)
    assert cli("run", str(tmp_path / "missing.yaml"), "--models", "base")[0] == 2


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_and_run_option_in_the_readme_exists() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = _subcommands(build_parser())
    promised = set(re.findall(r"^\| `evalkit ([a-z-]+)", readme, re.M))
    assert {"run", "report", "models", "suites", "gate", "human", "judge"} <= promised
    assert promised <= set(commands), f"README commands without a subcommand: {promised - set(commands)}"
    for sub, names in (("judge", ("list", "calibrate")), ("human", ("export", "import"))):
        assert set(names) <= set(_subcommands(commands[sub]))
    run_row = next(x for x in readme.splitlines() if x.startswith("| `evalkit run SUITE"))
    options = set(re.findall(r"`(--[a-z-]+)", run_row)) | set(re.findall(r"`evalkit run \.\.\. (--[a-z-]+)", readme))
    known = {opt for a in commands["run"]._actions for opt in a.option_strings}
    assert options and options <= known, f"README run options that do not exist: {options - known}"
