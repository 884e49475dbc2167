"""MT metrics: evalkit's numbers equal the `sacrebleu` command's on the same files; CIs are sane."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evalkit.metrics.translation import corpus_scores, paired_mt_bootstrap, sacrebleu_seed

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "eurlex" / "test.jsonl"


def _systems() -> tuple[list[str], list[str], list[str]]:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines()][:30]
    refs = [r["de"] for r in rows]
    # A: drops the last word of every other sentence; B: drops every third word everywhere.
    a = [" ".join(r.split()[:-1]) if i % 2 else r for i, r in enumerate(refs)]
    b = [" ".join(w for j, w in enumerate(r.split()) if j % 3) for r in refs]
    return refs, a, b


def _cli(*args: str) -> str:
    exe = Path(sys.executable).with_name("sacrebleu")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "SACREBLEU_SEED": "12345"}).stdout


def test_corpus_scores_equal_the_sacrebleu_command(tmp_path: Path) -> None:
    refs, a, _ = _systems()
    (tmp_path / "ref.txt").write_text("\n".join(refs) + "\n", "utf-8")
    (tmp_path / "a.txt").write_text("\n".join(a) + "\n", "utf-8")
    cli = {d["name"]: d["score"] for d in json.loads(_cli(str(tmp_path / "ref.txt"), "-i", str(tmp_path / "a.txt"),
                                                          "-m", "bleu", "chrf", "ter", "-w", "4", "-f", "json"))}
    ours = corpus_scores(a, refs)
    assert ours["bleu"] == pytest.approx(cli["BLEU"], abs=1e-4)
    assert ours["chrf"] == pytest.approx(cli["chrF2"], abs=1e-4)
    assert ours["ter"] == pytest.approx(cli["TER"], abs=1e-4)


def test_paired_bootstrap_p_values_equal_the_sacrebleu_command(tmp_path: Path) -> None:
    refs, a, b = _systems()
    for name, hyps in (("ref", refs), ("a", a), ("b", b)):
        (tmp_path / f"{name}.txt").write_text("\n".join(hyps) + "\n", "utf-8")
    text = _cli(str(tmp_path / "ref.txt"), "-i", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "-m", "bleu",
                "chrf", "ter", "--paired-bs", "-w", "4", "-f", "text")
    p_cli = [float(p) for p in re.findall(r"p = ([0-9.]+)", text)]
    scores, comps, sigs = paired_mt_bootstrap({"a": a, "b": b}, refs, "a", n_resamples=1000, seed=0)
    ours = [comps["b"][k].p_value for k in ("bleu", "chrf", "ter")]
    assert p_cli == pytest.approx(ours, abs=1e-4)
    assert "bs:1000" in sigs["bleu"] and "seed:12345" in sigs["bleu"]
    # The delta is the difference of corpus scores; its CI brackets it.
    for k in ("bleu", "chrf", "ter"):
        c = comps["b"][k]
        assert c.delta == pytest.approx(scores["b"][k].score - scores["a"][k].score)
        assert c.ci_low <= c.delta <= c.ci_high


def test_intervals_use_sacrebleus_own_resamples() -> None:
    """Our per-system bootstrap mean equals the mean sacrebleu reports (same seed, same index matrix)."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest

    refs, a, b = _systems()
    scores, _, _ = paired_mt_bootstrap({"a": a, "b": b}, refs, "a", n_resamples=500, seed=0)
    _, res = PairedTest([("a", a), ("b", b)], {"BLEU": BLEU()}, [refs], test_type="bs", n_samples=500)()
    stats = np.asarray(BLEU()._extract_corpus_statistics(b, [refs]), dtype="float32")
    idx = np.random.default_rng(sacrebleu_seed(0)).choice(len(refs), size=(500, len(refs)), replace=True)
    means = np.mean([BLEU()._compute_score_from_stats(s.sum(0)).score for s in stats[idx]])
    assert res["BLEU"][1].mean == pytest.approx(means)
    assert scores["b"]["bleu"].ci_low < scores["b"]["bleu"].score < scores["b"]["bleu"].ci_high


def test_input_errors_and_single_segment() -> None:
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        paired_mt_bootstrap({"a": ["x"], "b": ["x", "y"]}, ["x"], "a")
    with pytest.raises(ValueError, match="baseline must be among"):
        paired_mt_bootstrap({"a": ["x"]}, ["x"], "z")
    scores, comps, _ = paired_mt_bootstrap({"a": ["Das Gericht"], "b": ["Gericht"]}, ["Das Gericht"], "a")
    assert comps == {} and scores["a"]["chrf"].ci_low is None
    assert sacrebleu_seed(0) == 12345 and sacrebleu_seed(7) == 7
