"""A 4-model learning-rate sweep end to end: every table and chart handles N models, `--reference` picks the
model deltas are taken against, and the models' metadata gives metric-vs-hyperparameter charts."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

from evalkit.cli import main

N_ITEMS = 120
# Share of items each model gets wrong (deterministically, on different items): the sweep's best is lr 1e-5.
ERROR_EVERY = {"base-model": 3, "ft-lr1e-6-model": 4, "ft-lr1e-5-model": 12, "ft-lr1e-4-model": 6}
SWEEP = "base,ft-lr1e-6,ft-lr1e-5,ft-lr1e-4"


def truth(i: int) -> str:
    return ("sports", "politics", "science")[i % 3]


def responder(body: dict) -> str:
    i = int(body["messages"][-1]["content"].split()[1])
    every = ERROR_EVERY[body["model"]]
    wrong = (i + len(body["model"])) % every == 0
    return ("politics" if truth(i) == "sports" else "sports") if wrong else truth(i)


def make_sweep(root: Path, url: str) -> Path:
    rows = [{"id": f"n{i:03d}", "text": f"headline {i}", "label": truth(i)} for i in range(N_ITEMS)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: topics
description: Topic of a headline (sports, politics, science); a learning-rate sweep of fine-tuned models.
task: classification
task_args: {labels: [sports, politics, science]}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts:
  default: {style: chat, system: "Answer with the topic.", template: "{{ input }}"}
""", encoding="utf-8")
    models = [f"""
[models.{name}]
provider = "openai"
model = "{name}-model"
base_url = "{url}/v1"
""" + (f"metadata = {{learning_rate = {lr}, steps = {steps}}}\n" if lr else "")
              for name, lr, steps in (("base", None, None), ("ft-lr1e-6", "1e-6", 100), ("ft-lr1e-5", "1e-5", 100),
                                      ("ft-lr1e-4", "1e-4", 200))]
    (root / "evalkit.toml").write_text("".join(models), encoding="utf-8")
    return root / "suite.yaml"


def run(*args: str) -> tuple[int, Path | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (Path(lines[-1]).parent if lines else None), err.getvalue()


@pytest.fixture
def sweep_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    cache = root / "cache"
    with FakeLLMServer(responder=responder) as server, pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("EVALKIT_CACHE_DIR", str(cache))
        suite = make_sweep(root, server.url)
        code, run_dir, err = run("run", str(suite), "--models", SWEEP, "--quiet")
        assert code == 0, err
        code, ref_dir, err = run("run", str(suite), "--models", SWEEP, "--quiet", "--reference", "ft-lr1e-5")
        assert code == 0, err
        assert server.call_count == 4 * N_ITEMS  # the second run came from the cache
        yield run_dir.resolve(), ref_dir.resolve()


def test_results_cover_every_model(sweep_run) -> None:
    run_dir, _ = sweep_run
    doc = json.loads((run_dir / "results.json").read_text())
    models = SWEEP.split(",")
    assert doc["run"]["model_order"] == models and doc["run"]["reference"] == "base"
    acc = {m: doc["models"][m]["metrics"]["accuracy"]["value"] for m in models}
    assert max(acc, key=acc.get) == "ft-lr1e-5" and min(acc, key=acc.get) == "base"
    assert set(doc["comparisons"]) == set(models[1:])
    assert [cm["model"] for cm in doc["confusion_matrices"]] == models
    assert doc["run"]["models"][2]["metadata"] == {"learning_rate": 1e-5, "steps": 100}


def test_reference_flag_changes_what_deltas_are_against(sweep_run) -> None:
    _, ref_dir = sweep_run
    doc = json.loads((ref_dir / "results.json").read_text())
    assert doc["run"]["reference"] == "ft-lr1e-5"
    assert set(doc["comparisons"]) == {"base", "ft-lr1e-6", "ft-lr1e-4"}
    assert all(c["accuracy"]["reference"] == "ft-lr1e-5" and c["accuracy"]["delta"] < 0
               for c in doc["comparisons"].values())
    md = (ref_dir / "summary.md").read_text()
    assert "| metric | base | ft-lr1e-6 | ft-lr1e-5 (reference) | ft-lr1e-4 |" in md


def test_html_has_a_column_per_model_and_sweep_charts(sweep_run) -> None:
    run_dir, _ = sweep_run
    html = (run_dir / "report.html").read_text()
    headline = html[html.index('<table class="headline">'):]
    headline = headline[: headline.index("</table>")]
    header = headline[: headline.index("</thead>")]
    assert [re.sub(r"<[^>]+>", "", h).replace("reference", "").strip()
            for h in re.findall(r"<th>(.*?)</th>", header)] == SWEEP.split(",")
    assert headline.count('class="delta') >= 3  # each non-reference model has deltas
    charts = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert any(c.startswith("Metrics against learning_rate") for c in charts)
    assert any(c.startswith("Metrics against steps") for c in charts)
    assert any(c.startswith("Metrics per model") for c in charts) and any(c.startswith("Confusion") for c in charts)


@pytest.mark.slow
def test_headless_screenshot_of_the_sweep_report(sweep_run, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH")
    run_dir, _ = sweep_run
    shot = tmp_path / "sweep.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                        f"--screenshot={shot}", "--window-size=1400,3000", (run_dir / "report.html").as_uri()],
                       check=True, timeout=120, capture_output=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one


def test_example_sweep_config_resolves() -> None:
    from evalkit.config import load_config, resolve_models
    from evalkit.gating import gate_spec

    config = load_config(Path(__file__).resolve().parents[1] / "docs" / "examples" / "sweep.toml")
    specs = resolve_models(SWEEP.split(","), config)
    assert [s.metadata.get("learning_rate") for s in specs] == [None, 1e-6, 1e-5, 1e-4]
    assert all(s.price is not None for s in specs)  # the glob price covers every fine-tuned id
    assert len(gate_spec(None, None, config.gates, config.path).rules) == 2
