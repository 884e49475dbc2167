"""`evalkit plan`: stated assumptions, a pilot run directory, and one-line errors naming the option."""

from __future__ import annotations

import argparse
import io
import re

import numpy as np
import pytest
from rich.console import Console

from evalkit.errors import ConfigError, DataError
from evalkit.records import ModelScore, RunInfo, SampleResult
from evalkit.sequential import mcnemar_mdd, mcnemar_sample_size, paired_t_mdd, paired_t_sample_size
from evalkit.sequential.command import add_parser, cmd_plan
from evalkit.store import RESULTS_FILE, RunStore


def plan(argv: list[str], capsys) -> str:
    parser = argparse.ArgumentParser(prog="evalkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["plan", *argv])
    assert cmd_plan(args, Console(file=io.StringIO())) == 0
    return capsys.readouterr().out


def row(out: str, label: str) -> str:
    line = next(ln for ln in out.splitlines() if label in ln)
    return " ".join(line.replace("│", " ").split())


def test_stated_discordance(capsys):
    out = plan(["--metric", "accuracy", "--discordance", "0.2", "--delta", "0.05,0.1", "--power", "0.8",
                "--n", "180"], capsys)
    assert "McNemar" in out and "discordance 0.2 (stated)" in out
    assert row(out, "+0.05 (5 points)").endswith(str(mcnemar_sample_size(0.2, 0.05)))
    assert row(out, "+0.05 (5 points)").endswith("626")
    assert row(out, "+0.1 (10 points)").endswith(str(mcnemar_sample_size(0.2, 0.1)))
    assert f"{mcnemar_mdd(180, 0.2):.3g}" in row(out, "At n = 180")


def test_default_deltas_larger_than_the_discordance_are_impossible(capsys):
    out = plan(["--discordance", "0.1"], capsys)
    assert "impossible (> discordance 0.1)" in row(out, "+0.2 (20 points)")
    assert row(out, "+0.02 (2 points)").endswith(str(mcnemar_sample_size(0.1, 0.02)))


def test_stated_sd(capsys):
    out = plan(["--metric", "legal_quality_score", "--sd", "0.9", "--delta", "0.3"], capsys)
    assert "paired t-test" in out and "legal_quality_score" in out
    assert row(out, "+0.3").endswith(str(paired_t_sample_size(0.9, 0.3)))


def write_pilot(tmp_path, pairs: list[tuple[float | None, float | None]]):
    store = RunStore(tmp_path)
    store.write_info(RunInfo(run_id="r1", suite="news-mini", suite_path="x.yaml", task="classification",
                             models=({"name": "base"}, {"name": "ft"}), reference="base", seed=0,
                             started_at="2026-01-01T00:00:00Z", status="complete", evalkit_version="0"))
    store.write_records(RESULTS_FILE, [
        SampleResult(sample_id=f"s{i}", scores={"base": ModelScore(value=b), "ft": ModelScore(value=f)})
        for i, (f, b) in enumerate(pairs)])
    return tmp_path


def test_pilot_run_binary(tmp_path, capsys):
    # 100 items: ft alone right on 15, base alone right on 5, both right on 60, one failed call.
    pairs = [(1.0, 0.0)] * 15 + [(0.0, 1.0)] * 5 + [(1.0, 1.0)] * 60 + [(0.0, 0.0)] * 20 + [(None, 1.0)]
    out = plan([str(write_pilot(tmp_path, pairs))], capsys)
    assert "ft - base on accuracy" in out and "n = 100 (1 without a score, left out)" in out
    assert "observed difference +0.1" in out and "discordance 0.2 (pilot)" in out
    assert row(out, "+0.05 (5 points)").endswith("626")
    assert f"{mcnemar_mdd(100, 0.2):.3g}" in row(out, "At n = 100")


def test_pilot_run_scores(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 4, size=80).astype(float)
    ft = np.clip(base + rng.integers(-1, 3, size=80), 0, 3)
    out = plan([str(write_pilot(tmp_path, list(zip(ft, base))))], capsys)
    sd = float(np.std(ft - base, ddof=1))
    assert "paired t-test" in out and f"SD of differences {sd:.3g} (pilot)" in out
    assert f"{paired_t_mdd(80, sd):.3g}" in row(out, "At n = 80")
    assert row(out, f"{0.5 * sd:+.3g}").endswith(str(paired_t_sample_size(sd, 0.5 * sd)))


def test_pilot_where_the_models_always_agree_asks_for_a_stated_discordance(tmp_path, capsys):
    run = write_pilot(tmp_path, [(1.0, 1.0)] * 10)
    with pytest.raises(DataError, match="agree on all 10 items.*--discordance"):
        plan([str(run)], capsys)
    assert "discordance 0.3 (stated)" in plan([str(run), "--discordance", "0.3"], capsys)


@pytest.mark.parametrize("argv, message", [
    (["--discordance", "0.2", "--power", "1.5"], "--power: expected a number in (0, 1), e.g. 0.8, got '1.5'"),
    (["--discordance", "0.2", "--alpha", "x"], "--alpha: expected a number in (0, 1)"),
    (["--discordance", "1.2"], "--discordance: expected a share of items in (0, 1]"),
    (["--sd", "-1"], "--sd: expected a positive number"),
    (["--discordance", "0.2", "--delta", "0.05,zero"], "--delta: expected non-zero numbers"),
    (["--discordance", "0.2", "--n", "1"], "--n: expected a whole number >= 2, got '1'"),
    (["--discordance", "0.2", "--sd", "1"], "--discordance and --sd: give one"),
    ([], "give a pilot RUN_DIR, or --discordance"),
    (["--sd", "1", "--reference", "base"], "--reference: only applies with RUN_DIR"),
    (["--sd", "1", "--metric", "a b"], "--metric: expected a metric name"),
])
def test_bad_options_name_the_option_and_what_is_allowed(argv, message, capsys):
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan(argv, capsys)


def test_bad_run_directory_and_reference(tmp_path, capsys):
    with pytest.raises(DataError, match="not an evalkit run directory"):
        plan([str(tmp_path)], capsys)
    run = write_pilot(tmp_path, [(1.0, 0.0), (0.0, 0.0)])
    with pytest.raises(ConfigError, match="--reference: 'gpt' is not a model"):
        plan([str(run), "--reference", "gpt"], capsys)
