"""The blind packet in a real headless browser: keyboard answers, resume after reload, download, import."""

from __future__ import annotations

import json
from pathlib import Path

from sacrebleu.metrics import CHRF

from evalkit.cli import main
from evalkit.human import export_packet, read_summary
from human.humanbrowser import answer_packet, require_browser
from human.humanrun import MODEL_A, MODEL_B, SOURCES, a_output, b_output, make_run

REFERENCES = dict(SOURCES)


def prefer_higher_chrf(source: str, t1: str, t2: str) -> str:
    """The test's stand-in rater: the candidate closer to the reference (chrF), a tie when equally close."""
    chrf = CHRF()
    ref = REFERENCES[source]
    s1, s2 = chrf.sentence_score(t1, [ref]).score, chrf.sentence_score(t2, [ref]).score
    return "tie" if abs(s1 - s2) < 1e-9 else ("1" if s1 > s2 else "2")


def expected_counts() -> tuple[int, int, int]:
    """Wins, ties, losses of model A under the same rule, computed straight from the outputs (no blinding)."""
    chrf = CHRF()
    w = t = l = 0
    for i, (_, ref) in enumerate(SOURCES):
        a = chrf.sentence_score(a_output(i, ref).strip(), [ref]).score
        b = chrf.sentence_score(b_output(i, ref).strip(), [ref]).score
        w, t, l = (w + 1, t, l) if a > b else (w, t + 1, l) if a == b else (w, t, l + 1)
    return w, t, l


def test_browser_answers_resume_download_and_import(tmp_path: Path) -> None:
    require_browser()
    (tmp_path / "project").mkdir()
    run_dir = make_run(tmp_path / "project", judge_pairs=True)
    res = export_packet(run_dir, "translation", raters=1, seed=0)
    html = next(f for f in res.files if f.suffix == ".html")
    n = len(SOURCES)
    got = answer_packet(html, prefer_higher_chrf, tmp_path, reload_after=5, comment=(1, "Terminologie prüfen"))
    assert got["errors"] == []
    assert got["resumed"].startswith(f"5 of {n} answered")  # progress survived the reload
    assert got["done_visible"]
    doc = json.loads(Path(got["json"]).read_text("utf-8"))
    assert doc["packet_id"] == res.key.packet_id and doc["rater"] == "r1" and len(doc["verdicts"]) == n
    assert any(v["comment"] == "Terminologie prüfen" for v in doc["verdicts"])
    assert Path(got["json"]).name == f"verdicts-{res.key.packet_id}-r1.json"

    assert main(["human", "import", str(run_dir), str(got["json"])]) == 0
    (p,) = read_summary(run_dir).packets
    (r,) = p.results
    assert (p.model_a, p.model_b) == (MODEL_A, MODEL_B)
    assert (r.wins, r.ties, r.losses) == expected_counts()
    assert p.judge_agreement is not None and p.judge_agreement.n == n

    # The CSV download carries the same verdicts: importing it as well changes no count.
    assert main(["human", "import", str(run_dir), str(got["csv"])]) == 0
    (p2,) = read_summary(run_dir).packets
    assert p2.results[0] == r and p2.imports == 2
