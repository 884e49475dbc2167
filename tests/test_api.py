"""`evalkit.run` from Python: the same run as the command, its outcome's lookups, and use inside an event loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import evalkit


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    rows = [{"id": f"s{i}", "text": f"item {i}", "label": "pos" if i % 2 else "neg"} for i in range(20)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "right.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": r["label"]}) + "\n"
                                                  for r in rows), encoding="utf-8")
    (tmp_path / "half.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": "pos"}) + "\n"
                                                 for r in rows), encoding="utf-8")
    (tmp_path / "suite.yaml").write_text("""
task: classification
task_args: {labels: [pos, neg], positive_label: pos}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts: {default: {style: chat, template: "{{ input }}"}}
models:
  half: {provider: replay, model: half, path: half.jsonl}
  right: {provider: replay, model: right, path: right.jsonl}
""", encoding="utf-8")
    return tmp_path


def test_run_returns_the_finished_run(project: Path) -> None:
    outcome = evalkit.run(project / "suite.yaml", ["half", "right"], out_dir=project / "runs")
    assert outcome.run_dir.parent == project / "runs" and (outcome.run_dir / "report.html").is_file()
    assert outcome.metric("half", "accuracy").value == 0.5 and outcome.metric("right", "accuracy").value == 1.0
    delta = outcome.comparison("right", "accuracy")
    assert delta.delta == 0.5 and delta.reference == "half" and delta.test == "mcnemar-exact"
    assert outcome.calls == {"half": 20, "right": 20}  # replay is never served from the cache
    with pytest.raises(KeyError, match="no metric 'acuracy'"):
        outcome.metric("right", "acuracy")


def test_run_works_inside_a_running_event_loop(project: Path) -> None:
    async def notebook_cell() -> evalkit.RunOutcome:
        return evalkit.run(project / "suite.yaml", "right,half", limit=4)  # as a notebook would call it

    outcome = asyncio.run(notebook_cell())
    assert outcome.result.info.reference == "right" and len(outcome.result.samples) == 4


def test_user_errors_raise_before_any_work(project: Path) -> None:
    with pytest.raises(evalkit.ConfigError, match="unknown model 'rigth'.*Did you mean: right"):
        evalkit.run(project / "suite.yaml", ["half", "rigth"])
    assert not (project / "reports").exists()
