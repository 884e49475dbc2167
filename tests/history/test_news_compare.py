"""`evalkit compare` on two real runs of the bundled news suite with the embedded models (slow): run A is
`base,ft` as the suite defines them (ft: the news LoRA adapter, bare query); run B gives the same adapter the
base model's 16-shot prompt. The shared `base` must show no change; `ft` a paired delta and its changed items,
all recomputed here from the runs' own files.

Set EVALKIT_SCREENSHOTS=docs/img to refresh the documentation's screenshots (run-index.png, run-compare.png).
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from human.humanbrowser import ARGS, CHROMIUM, require_browser

from evalkit.cli import main
from evalkit.history import compare_runs, write_comparison, write_index
from evalkit.stats import mcnemar_exact

pytestmark = pytest.mark.slow
LIMIT = "24"


def run(out: Path) -> Path:
    """`evalkit run news --models base,ft` in the current folder (whose evalkit.toml, if any, applies)."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["run", "news", "--models", "base,ft", "--limit", LIMIT, "--quiet", "--out", str(out)]) == 0
    return Path(buf.getvalue().strip().splitlines()[-1]).parent


def correctness(run_dir: Path, model: str) -> dict[str, bool]:
    rows = [json.loads(x) for x in (run_dir / "results.jsonl").read_text("utf-8").splitlines()]
    return {r["sample_id"]: bool(r["scores"][model]["correct"]) for r in rows}


def test_compare_two_news_runs_on_the_embedded_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    shots = os.environ.get("EVALKIT_SCREENSHOTS")
    shots_dir = Path(shots).resolve() if shots else None  # before the test changes folder
    adapter = Path(__file__).resolve().parents[2] / "adapters" / "news" / "adapter.gguf"
    (tmp_path / "plain").mkdir()
    (tmp_path / "prompted").mkdir()
    (tmp_path / "prompted" / "evalkit.toml").write_text(f"""
[models.ft]
provider = "llamacpp"
model = "gemma3-270m"
adapter = "{adapter}"
prompt = "default"
concurrency = 1
timeout_s = 600
metadata = {{description = "the news adapter given the base model's 16-shot prompt"}}
""", encoding="utf-8")
    reports = tmp_path / "reports"
    monkeypatch.chdir(tmp_path / "plain")
    a = run(reports)
    monkeypatch.chdir(tmp_path / "prompted")
    b = run(reports)

    cmp = compare_runs(a, b)
    assert {(r.model, r.field) for r in cmp.config if r.differs} == {("ft", "prompt_profile"),
                                                                     ("ft", "prompt_sha256"), ("ft", "metadata")}
    base, ft = cmp.pairs
    # The same model, prompt and items (B's base answers come from the cache): nothing may change.
    assert base.n_paired == int(LIMIT) and base.changed == ()
    assert all(d.delta == 0 for d in base.metrics if d.delta is not None and d.method == "paired")

    ca, cb = correctness(a, "ft"), correctness(b, "ft")
    ids = list(ca)
    expected_changed = [i for i in ids if ca[i] != cb[i]]
    assert [c.sample_id for c in ft.changed] == expected_changed
    assert all(c.change == ("fixed" if cb[c.sample_id] else "broken") for c in ft.changed)
    acc = {d.metric: d for d in ft.metrics}["accuracy"]
    reported = [json.loads((r / "results.json").read_text("utf-8"))["models"]["ft"]["metrics"]["accuracy"]["value"]
                for r in (a, b)]
    assert acc.method == "paired" and acc.test == "mcnemar-exact" and acc.n == int(LIMIT)
    assert acc.delta == pytest.approx(reported[1] - reported[0])
    assert acc.p_value == pytest.approx(mcnemar_exact([ca[i] for i in ids], [cb[i] for i in ids]).p_value)
    tokens = {d.metric: d for d in ft.metrics}["prompt_tokens_mean"]
    assert tokens.method == "paired calls" and tokens.delta > 100  # the 16-shot prompt is far longer

    if shots_dir is not None:  # refresh the documentation's screenshots from this real comparison
        require_browser()
        from playwright.sync_api import sync_playwright

        page_path = write_comparison(cmp).html
        index = write_index(reports)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(index.resolve().as_uri())
                page.screenshot(path=str(shots_dir / "run-index.png"), full_page=True)
                page.goto(page_path.resolve().as_uri())
                page.screenshot(path=str(shots_dir / "run-compare.png"), full_page=True)
            finally:
                browser.close()
