"""`evalkit run --until-decided` end to end: the run stops once every comparison is decided, reports what it saved,
resumes in the same order from the cache, and its gates read the anytime-valid interval."""

from __future__ import annotations

import io
import json
import random
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main

N = 400
ROWS = [{"id": f"s{i:03d}", "text": f"item {i}", "label": "pos" if i % 2 else "neg"} for i in range(N)]
TRUTH = {r["text"]: r["label"] for r in ROWS}


def flip(label: str) -> str:
    return "neg" if label == "pos" else "pos"


def responder(body: dict) -> str:
    """`strong` is right on 95% of items, `weak` on 70%, `twin` answers exactly as `weak` (seeded by the item)."""
    text = body["messages"][-1]["content"]
    rnd = random.Random(text)
    p = {"strong": 0.95, "weak": 0.7, "twin": 0.7}[body["model"]]
    return TRUTH[text] if rnd.random() < p else flip(TRUTH[text])


def project(root: Path, url: str, gates: str = "") -> Path:
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    (root / "suite.yaml").write_text(f"""
task: classification
task_args: {{labels: [pos, neg], positive_label: pos}}
data: {{path: data.jsonl, fields: {{id: id, input: text, target: label}}}}
prompts: {{default: {{style: chat, template: "{{{{ input }}}}"}}}}
{gates}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text("".join(f'[models.{m}]\nprovider = "openai"\nmodel = "{m}"\nbase_url = "{url}/v1"\n'
                                               for m in ("strong", "weak", "twin")), encoding="utf-8")
    return root / "suite.yaml"


def run(*args: str) -> Path:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    return Path(out.getvalue().strip().splitlines()[-1]).parent


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_stops_when_decided_saves_calls_resumes_and_gates_on_the_sequence(root: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = project(root, server.url, gates="gates: ['strong.accuracy - weak.accuracy >= 0.05']")
        run_dir = run("run", str(suite), "--models", "weak,strong", "--until-decided", "--look-every", "25",
                      "--quiet")
        seq = json.loads((run_dir / "sequential.json").read_text())
        drawn = seq["items_drawn"]
        assert seq["stopped"] == "decided" and 25 <= drawn < N and drawn % 25 == 0
        (outcome,) = seq["comparisons"]
        assert outcome["decision"]["kind"] == "above" and outcome["spec"]["bounds"] == [0.05]
        last = outcome["sequence"]["looks"][-1]
        assert last["low"] > 0.05  # decided against the gate's bound too
        assert server.call_count == 2 * drawn  # no call beyond the items drawn
        doc = json.loads((run_dir / "results.json").read_text())
        assert doc["sequential"]["items_drawn"] == drawn
        assert doc["models"]["strong"]["metrics"]["n"]["value"] == drawn
        assert any(f"{drawn} of {N} items drawn" in n for n in doc["notes"])
        summary = (run_dir / "summary.md").read_text()
        assert f"about {2 * (N - drawn)} calls saved" in summary
        # The gate reads the anytime-valid interval, not the fixed-n bootstrap one.
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["gate", str(run_dir)]) == 0
        assert "anytime-valid confidence sequence" in out.getvalue()

        # The same command again: the same items in the same order, all from the cache.
        server.reset()
        again = run("run", str(suite), "--models", "weak,strong", "--until-decided", "--look-every", "25", "--quiet")
        assert server.call_count == 0
        assert json.loads((again / "sequential.json").read_text())["items_drawn"] == drawn
        first = [json.loads(x)["sample_id"] for x in (run_dir / "results.jsonl").read_text().splitlines()]
        second = [json.loads(x)["sample_id"] for x in (again / "results.jsonl").read_text().splitlines()]
        assert first == second and first != sorted(first)  # a seeded random order, not the data's


def test_equal_models_are_decided_equivalent_within_a_margin(root: Path) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = project(root, server.url)
        run_dir = run("run", str(suite), "--models", "weak,twin", "--until-decided", "--margin", "0.2",
                      "--look-every", "40", "--quiet")
        seq = json.loads((run_dir / "sequential.json").read_text())
        assert seq["comparisons"][0]["decision"]["kind"] == "equivalent" and seq["items_drawn"] < N


def test_sequential_options_are_checked_before_any_call(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLLMServer(responder=responder) as server:
        suite = project(root, server.url)
        assert "--look-every only apply with --until-decided" in user_error(
            ["run", str(suite), "--models", "weak,strong", "--look-every", "10"], capsys)
        assert "at least two" in user_error(["run", str(suite), "--models", "weak", "--until-decided"], capsys)
        assert server.call_count == 0
    latency = root / "latency.yaml"
    latency.write_text("task: latency\ndata: {path: data.jsonl, fields: {id: id, input: text}}\n"
                       "prompts: {default: {style: chat, template: '{{ input }}'}}\n", encoding="utf-8")
    assert "has no per-item metric" in user_error(["run", str(latency), "--models", "weak,strong",
                                                   "--until-decided"], capsys)


@pytest.mark.slow
def test_news_offline_stops_early_with_the_full_runs_decision(root: Path) -> None:
    """The embedded base model against its news LoRA: the sequential run stops before the 180 items with the
    decision the full run reaches (ft's accuracy above base's), and says how many calls it saved."""
    seq_dir = run("run", "news", "--models", "base,ft", "--until-decided", "--look-every", "20", "--quiet")
    seq = json.loads((seq_dir / "sequential.json").read_text())
    assert seq["stopped"] == "decided" and seq["items_drawn"] < seq["items_total"] == 180
    decision = seq["comparisons"][0]["decision"]
    full_dir = run("run", "news", "--models", "base,ft", "--quiet")  # the drawn items come from the cache
    full = json.loads((full_dir / "results.json").read_text())["comparisons"]["ft"]["accuracy"]
    assert decision["kind"] == "above" and full["significant"] and full["delta"] > 0
    saved = 2 * (180 - seq["items_drawn"])
    assert f"about {saved} calls saved" in (seq_dir / "summary.md").read_text()
