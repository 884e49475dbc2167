"""docs/analysis.md stays true: its worked example runs on real run directories, and its column tables list
exactly the columns and dtypes of evalkit.analysis."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

from evalkit import analysis

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def test_worked_example_runs_on_a_folder_of_runs(news_run: Path, legal_run: Path, tmp_path: Path,
                                                 monkeypatch) -> None:
    for run in (news_run, legal_run):
        shutil.copytree(run, tmp_path / "reports" / run.name)
    monkeypatch.chdir(tmp_path)
    (code,) = re.findall(r"## Worked example.*?```python\n(.*?)```", DOC.read_text("utf-8"), re.DOTALL)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 - our own documentation
    assert len(scope["runs"]) == 5 and set(scope["comps"]["run_id"]) == {news_run.name, legal_run.name}
    assert scope["run_dir"] == str(Path("reports") / news_run.name)
    assert len(scope["wins"]) > 0 and len(scope["judgments"]) > 0
    assert {"score_answer_1", "score_answer_2"} <= set(scope["verdicts"].columns)


def test_column_tables_match_the_code() -> None:
    text = DOC.read_text("utf-8")
    for name in ("RUN_COLUMNS", "METRIC_COLUMNS", "COMPARISON_COLUMNS", "SAMPLE_COLUMNS", "JUDGMENT_COLUMNS"):
        section = text.split(f"(`{name}`)", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        rows = re.findall(r"^\| `([a-z_0-9]+)` \| ([^|]+) \|", section, re.MULTILINE)
        columns = getattr(analysis, name)
        assert [c for c, _ in rows] == list(columns), name
        for col, dtype in rows:
            assert dtype.strip() == str(pd.api.types.pandas_dtype(columns[col])), (name, col)
