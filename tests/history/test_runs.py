"""`evalkit runs [DIR]`: the table (80 columns), statuses and headline metrics; `--html` and write_index."""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path
from urllib.parse import unquote

import pytest
from rich.console import Console

from evalkit.errors import ConfigError
from evalkit.history import command as history_command
from evalkit.history import list_runs, write_index


def runs_output(*argv: str) -> str:
    parser = argparse.ArgumentParser()
    history_command.add_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    with redirect_stdout(out):
        assert history_command.cmd_runs(parser.parse_args(["runs", *argv]), Console(file=io.StringIO())) == 0
    return out.getvalue()


def test_list_runs_newest_first_with_headline_metric(two_runs) -> None:
    entries = list_runs(two_runs.reports)
    assert [e.path for e in entries] == [two_runs.b, two_runs.a]
    b = entries[0]
    assert (b.suite, b.task, b.status, b.metric, b.reference) == ("news-mini", "classification", "complete",
                                                                  "accuracy", "base")
    doc = json.loads((two_runs.b / "results.json").read_text("utf-8"))
    base, ft = b.models
    assert base.value == doc["models"]["base"]["metrics"]["accuracy"]["value"] and base.verdict == "reference"
    assert ft.model_id == "ft-model-v2" and ft.delta == pytest.approx(doc["comparisons"]["ft"]["accuracy"]["delta"])
    assert ft.significant == doc["comparisons"]["ft"]["accuracy"]["significant"]
    f1 = list_runs(two_runs.reports, metric="f1")[0]
    assert f1.metric == "f1" and f1.models[1].value == doc["models"]["ft"]["metrics"]["f1"]["value"]


def test_runs_table_fits_80_columns_and_shows_every_run(two_runs, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    for run in (two_runs.a, two_runs.b):
        shutil.copytree(run, folder / run.name)
    stopped = folder / two_runs.a.name
    info = json.loads((stopped / "run.json").read_text("utf-8"))
    (stopped / "run.json").write_text(json.dumps({**info, "status": "interrupted"}), encoding="utf-8")
    text = runs_output(str(folder))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert two_runs.a.name in text and two_runs.b.name in text
    assert "interrupted" in text and "complete" in text and "accuracy" in text
    assert "ft 0.900 (+0.167)" in text and "ft 1.000 (+0.267*)" in text and "base 0.733" in text
    assert text.index(two_runs.b.name) < text.index(two_runs.a.name)  # newest first


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert runs_output(str(tmp_path / "empty")).startswith("No run directories in")
    parser = argparse.ArgumentParser()
    history_command.add_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(ConfigError, match="folder not found"):
        history_command.cmd_runs(parser.parse_args(["runs", str(tmp_path / "missing")]), Console(file=io.StringIO()))


def test_html_index_links_every_run_report(two_runs) -> None:
    text = runs_output(str(two_runs.reports), "--html")
    index = Path(text.strip().splitlines()[-1])
    assert index == two_runs.reports / "index.html" == write_index(two_runs.reports)
    html = index.read_text("utf-8")
    links = [unquote(h) for h in re.findall(r'href="([^"]+/report\.html)"', html)]
    assert sorted(links) == sorted(f"{r.name}/report.html" for r in (two_runs.a, two_runs.b))
    assert all((index.parent / link).is_file() for link in links)
    assert "<script" not in html.lower() and "default-src 'none'" in html
    assert "ft-model-v2" in html and "oracle" in html


def test_listing_agrees_with_analysis_and_rereads_only_changed_runs(two_runs, tmp_path: Path) -> None:
    from evalkit.analysis import load_metrics
    from evalkit.history._entries import CACHE_FILE

    folder = tmp_path / "reports"
    for run in (two_runs.a, two_runs.b):
        shutil.copytree(run, folder / run.name)
    first = list_runs(folder)
    table = load_metrics(folder)  # the pandas reader of the same files
    for entry in first:
        for m in entry.models:
            row = table[(table["run_id"] == entry.run_id) & (table["model"] == m.model)
                        & (table["metric"] == entry.metric)]
            assert m.value == pytest.approx(float(row["value"].iloc[0]))
    cache = json.loads((folder / CACHE_FILE).read_text("utf-8"))
    assert sorted(cache["runs"]) == sorted(r.name for r in (two_runs.a, two_runs.b))
    assert list_runs(folder) == first  # from the remembered entries
    # a results.json rewritten (e.g. `evalkit report` again) is read again; the other run is not
    changed = folder / two_runs.a.name / "results.json"
    doc = json.loads(changed.read_text("utf-8"))
    doc["models"]["base"]["metrics"]["accuracy"]["value"] = 0.123
    changed.write_text(json.dumps(doc), encoding="utf-8")
    again = {e.run_id: e for e in list_runs(folder)}
    assert again[first[1].run_id].models[0].value == 0.123
    assert again[first[0].run_id] == first[0]
    # a damaged cache file is only a miss
    (folder / CACHE_FILE).write_text("{not json", encoding="utf-8")
    assert {e.run_id: e for e in list_runs(folder)} == again
