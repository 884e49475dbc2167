"""The eurlex case study end to end, offline: run base and ft, export a blind packet, answer it in headless
chromium (a stand-in rater who prefers the translation closer to the reference, by chrF), import the verdicts,
and get the case study's table (preferred N/50, ties, at least as good %).

Slow (the embedded model translates 100 sentences on CPU) and needs the trained adapter. Run it with
`pytest -m slow tests/test_eurlex_e2e.py -s` to see the numbers; EVALKIT_SCREENSHOT=path saves a screenshot.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.human import export_packet, read_summary
from human.humanbrowser import answer_packet, require_browser

REPO = Path(__file__).resolve().parents[1]
ADAPTER = REPO / "adapters" / "eurlex" / "adapter.gguf"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ADAPTER.is_file(), reason=f"needs the trained adapter {ADAPTER}")]


def assert_blind(files: list[Path], run_dir: Path) -> None:
    """No model name, model id, adapter or provider in the packet files, once the CSP's `base-uri` directive
    (a browser keyword, not the model `base`) is set aside."""
    import re

    spec = json.loads((run_dir / "run.json").read_text())["models"]
    words = {"ft", "base", "llamacpp"} | {str(m.get("model")) for m in spec} | {
        Path(str(m["adapter"])).name for m in spec if m.get("adapter")}
    for f in files:
        text = f.read_text("utf-8").replace("base-uri 'none'", "")
        for w in words:
            assert not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.I), (w, f.name)
        assert "adapter" not in text.lower() and "gemma" not in text.lower()


def test_eurlex_blind_study_end_to_end(tmp_path: Path) -> None:
    require_browser()
    from sacrebleu.metrics import CHRF

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["run", "eurlex", "--models", "base,ft", "--quiet", "--out", str(tmp_path / "reports")])
    assert code == 0
    run_dir = Path(out.getvalue().strip().splitlines()[-1]).parent
    metrics = json.loads((run_dir / "results.json").read_text())["models"]
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text("utf-8").splitlines()]
    reference = {s["input"]: s["target"] for s in samples}
    chrf = CHRF()

    def rater(source: str, t1: str, t2: str) -> str:
        s1, s2 = (chrf.sentence_score(t, [reference[source]]).score for t in (t1, t2))
        return "tie" if abs(s1 - s2) < 2.0 else ("1" if s1 > s2 else "2")  # within 2 chrF points: a tie

    res = export_packet(run_dir, "translation", seed=0)
    assert_blind(list(res.files), run_dir)
    html = next(f for f in res.files if f.suffix == ".html")
    shot = os.environ.get("EVALKIT_SCREENSHOT")
    got = answer_packet(html, rater, tmp_path, reload_after=10, screenshot=Path(shot) if shot else None)
    assert got["errors"] == [] and got["resumed"].startswith("10 of 50 answered")
    assert main(["human", "import", str(run_dir), str(got["json"])]) == 0
    (p,) = read_summary(run_dir).packets
    (r,) = p.results
    assert r.n == 50 and r.wins + r.ties + r.losses == 50
    print(f"\nbase: " + ", ".join(f"{k} {metrics['base']['metrics'][k]['value']:.3f}"
                                  for k in ("bleu", "chrf", "ter", "glossary_hit_rate")))
    print("ft:   " + ", ".join(f"{k} {metrics['ft']['metrics'][k]['value']:.3f}"
                               for k in ("bleu", "chrf", "ter", "glossary_hit_rate")))
    print(f"human (chrF stand-in rater): ft preferred {r.wins}/{r.n}, ties {r.ties}, base preferred {r.losses}, "
          f"ft at least as good {r.at_least_as_good:.0%}, sign test p {r.sign_test_p:.3g}")
