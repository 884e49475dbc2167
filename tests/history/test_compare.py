"""`evalkit compare` on two real runs of a news-like suite: configuration differences, a paired delta for each
shared model, the items whose verdict changed, and the same numbers in HTML, Markdown and JSON."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from analysis.runmaker import HOSTILE, N_NEWS, news_items
from markupsafe import escape
from rich.console import Console

from evalkit.errors import ConfigError
from evalkit.history import command as history_command
from evalkit.history import compare_runs, comparison_document, write_comparison
from evalkit.stats import mcnemar_exact


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    history_command.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


def test_config_differences_name_exactly_what_changed(two_runs) -> None:
    cmp = compare_runs(two_runs.a, two_runs.b)
    differs = {(r.model, r.field): (r.a, r.b) for r in cmp.config if r.differs}
    assert set(differs) == {("ft", "model_id"), ("ft", "adapter"), ("ft", "metadata")}
    assert differs[("ft", "model_id")] == ("oracle", "ft-model-v2")
    assert json.loads(differs[("ft", "metadata")][1]) == {"learning_rate": 0.0001, "step": 200}
    same = {(r.model, r.field) for r in cmp.config if not r.differs}
    assert {("", "data_sha256"), ("", "task_args"), ("base", "prompt_sha256"), ("ft", "prompt_sha256")} <= same
    assert [p.model_a for p in cmp.pairs] == ["base", "ft"]


def test_paired_delta_for_the_shared_models_and_the_changed_items(two_runs) -> None:
    cmp = compare_runs(two_runs.a, two_runs.b)
    base, ft = cmp.pairs
    assert base.n_paired == ft.n_paired == N_NEWS and base.n_only_a == base.n_mismatched == 0
    # base is the same model with the same prompt in both runs: no change at all.
    assert base.changed == ()
    assert all(d.delta == 0 for d in base.metrics if d.delta is not None)

    # ft-model-v2 is wrong on items 4, 9 and 10, which the first adapter got right.
    assert [(c.sample_id, c.change) for c in ft.changed] == [("q004", "broken"), ("q009", "broken"),
                                                             ("q010", "broken")]
    items = {r["id"]: r for r in news_items()}
    c = ft.changed[0]
    assert (c.input, c.target, c.output_a) == (items["q004"]["text"], "not_news_related", "not_news_related")
    assert c.output_b == "news_related" and (c.correct_a, c.correct_b) == (True, False)
    acc = {d.metric: d for d in ft.metrics}["accuracy"]
    assert (acc.a, acc.b) == (1.0, pytest.approx(27 / 30)) and acc.delta == pytest.approx(-3 / 30)
    assert acc.method == "paired" and acc.test == "mcnemar-exact" and acc.n == N_NEWS
    # McNemar on the paired correctness, recomputed from the per-item verdicts: 3 discordant pairs.
    assert acc.p_value == pytest.approx(mcnemar_exact([1] * 30, [0 if i in (4, 9, 10) else 1 for i in range(30)]).p_value)
    assert acc.verdict == "not significant" and acc.ci_low < acc.delta <= acc.ci_high
    f1 = {d.metric: d for d in ft.metrics}["f1"]
    assert f1.test == "paired-bootstrap" and f1.ci_low is not None and f1.delta < 0
    lat = {d.metric: d for d in ft.metrics}["latency_p50_s"]
    assert lat.method == "paired calls" and lat.test == "paired-bootstrap" and lat.n == N_NEWS
    # The same numbers as the two runs reported on their own (every item is paired).
    for run, value in ((two_runs.a, acc.a), (two_runs.b, acc.b)):
        doc = json.loads((run / "results.json").read_text("utf-8"))
        assert doc["models"]["ft"]["metrics"]["accuracy"]["value"] == pytest.approx(value)


def test_outputs_agree_and_escape_untrusted_text(two_runs, tmp_path: Path) -> None:
    cmp = compare_runs(two_runs.a, two_runs.b)
    paths = write_comparison(cmp, tmp_path / "cmp")
    doc = json.loads(paths.json.read_text("utf-8"))
    assert doc == json.loads(json.dumps(comparison_document(cmp)))
    assert doc["schema_version"] == "1" and doc["a"]["run_id"] == two_runs.a.name
    ft = doc["pairs"][1]
    assert ft["counts"] == {"fixed": 0, "broken": 3, "better": 0, "worse": 0, "changed": 0}
    assert [c["sample_id"] for c in ft["changed"]] == ["q004", "q009", "q010"]
    assert {r["field"] for r in doc["config"] if r["differs"]} == {"model_id", "adapter", "metadata"}

    html = paths.html.read_text("utf-8")
    assert HOSTILE not in html and str(escape(HOSTILE)) in html  # the dataset's markup is shown as text
    assert "<script" not in html.lower() and "script-src" not in html  # the page runs no script at all
    assert "default-src 'none'" in html
    md = paths.markdown.read_text("utf-8")
    assert "| accuracy | 1.000 | 0.900 | -0.100 |" in md and "&lt;script&gt;" in md and HOSTILE not in md
    assert "3 broken" in md


def test_compare_command_writes_beside_the_runs(two_runs) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert history_command.cmd_compare(parse("compare", str(two_runs.a), str(two_runs.b)),
                                           console=Console(file=io.StringIO())) == 0
    html = Path(out.getvalue().strip().splitlines()[-1])
    assert html.name == "compare.html" and html.parent.parent == two_runs.reports / "comparisons"
    assert (html.parent / "compare.md").is_file() and (html.parent / "compare.json").is_file()
    # Relative links from the page to both runs' reports resolve.
    text = html.read_text("utf-8")
    for run in (two_runs.a, two_runs.b):
        assert f'href="../../{run.name}/report.html"' in text and (run / "report.html").is_file()


def test_explicit_pairs_and_refusals(two_runs, legal_run: Path, tmp_path: Path) -> None:
    cmp = compare_runs(two_runs.a, two_runs.b, pairs=[("base", "ft")])
    (p,) = cmp.pairs
    acc = {d.metric: d for d in p.metrics}["accuracy"]
    assert (p.model_a, p.model_b) == ("base", "ft") and acc.delta == pytest.approx(27 / 30 - 22 / 30)
    assert {c.change for c in p.changed} <= {"fixed", "broken"} and p.count("fixed") > 0
    with pytest.raises(ConfigError, match="run .*: unknown model .nope.. Known: base, ft"):
        compare_runs(two_runs.a, two_runs.b, pairs=[("nope", "ft")])
    with pytest.raises(ConfigError, match="metrics are not comparable"):
        compare_runs(two_runs.a, legal_run)
    with pytest.raises(SystemExit):
        parse("compare", "a", "b", "--pair", "ft")


def test_runs_that_share_no_item_get_unpaired_deltas(two_runs, tmp_path: Path) -> None:
    other = shutil.copytree(two_runs.b, tmp_path / "other")
    lines = (other / "samples.jsonl").read_text("utf-8").splitlines()
    changed = [json.dumps({**json.loads(x), "input": json.loads(x)["input"] + " (edited)"}) for x in lines]
    (other / "samples.jsonl").write_text("\n".join(changed) + "\n", encoding="utf-8")
    cmp = compare_runs(two_runs.a, other)
    ft = cmp.pairs[1]
    assert ft.n_paired == 0 and ft.n_mismatched == N_NEWS and ft.changed == ()
    assert any("share no sample" in n for n in ft.notes) and any("another input or target" in n for n in ft.notes)
    acc = {d.metric: d for d in ft.metrics}["accuracy"]
    assert acc.method == "reported values" and acc.ci_low is None and acc.verdict == "not computed"
    assert acc.delta == pytest.approx(27 / 30 - 1.0)
    assert {(r.field, r.differs) for r in cmp.config if r.field == "data_sha256"} == {("data_sha256", True)}
