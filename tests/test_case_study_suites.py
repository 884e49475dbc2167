"""The case-study suites end to end: against a loopback server (fast), and on the embedded models (`slow`).

The fast tests point the suites' `base` and `ft` at FakeLLMServer through an evalkit.toml (a project config wins
over a suite's own model definitions), so they exercise the real suite files, data, prompts, tasks and reports.
The suites over public data sets read them from the Hugging Face hub; these tests give them the copies in
../shared/data beside the repository through the data override a user without network would use (`--data`,
or `[data]` in evalkit.toml), and skip when that folder is absent.
"""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "mmlu").is_dir(), reason="../shared/data is not beside the repo")


def _answers() -> dict[str, str]:
    """Question text -> correct option text, for the bundled mcq data and the shared MMLU/PubMedQA files."""
    out = {}
    for line in (REPO / "benchmarks/mcq/test.jsonl").read_text().splitlines():
        row = json.loads(line)
        out[row["question"]] = row["options"]["ABCD".index(row["answer"])]
    if (SHARED / "mmlu").is_dir():
        import csv

        with (SHARED / "mmlu/medical_genetics_test.csv").open(newline="", encoding="utf-8") as fh:
            for q, a, b, c, d, ans in csv.reader(fh):
                out[q] = {"A": a, "B": b, "C": c, "D": d}[ans]
        for rec in json.loads((SHARED / "pubmedqa/ori_pqal.json").read_text()).values():
            out[rec["QUESTION"]] = rec["final_decision"]
    return out


ANSWERS = _answers()


def responder(body: dict) -> str:
    """`ft` reads the options and answers right (with a rationale); `base` answers "A" or hedges."""
    prompt = body.get("prompt") or body["messages"][-1]["content"]
    if "Answer to grade:" in prompt:  # the rubric judge
        answer = re.search(r"Answer to grade:\n<<<\n(.*?)\n>>>", prompt, re.S).group(1)
        return json.dumps({"justification": "fake", "score": 4 if answer.startswith("Woohoo") else 2})
    if "Question: " not in prompt:  # the tone suites' rewrites (completion prompt, or the bare message)
        message = prompt.rsplit("Original: ", 1)[1].split("\n", 1)[0] if "Original: " in prompt else prompt
        return f"Woohoo! {message}" if body["model"] == "ft" else message
    question = prompt.rsplit("Question: ", 1)[1].split("\n", 1)[0]
    options = dict(re.findall(r"^([A-Z])\. (.*)$", prompt.rsplit("Question: ", 1)[1], re.M))
    if body["model"] != "ft":
        return " A" if len(question) % 3 else " I am not sure."
    right = next(letter for letter, text in options.items() if text == ANSWERS[question])
    return f" {right}. {ANSWERS[question]}"


def project(root: Path, url: str) -> None:
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
concurrency = 8
[models.base]
provider = "openai"
model = "base"
[models.ft]
provider = "openai"
model = "ft"
prompt = "ft"
[models.judge]
provider = "openai"
model = "judge"
""", encoding="utf-8")


def run(*args: str) -> Path:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    return Path(out.getvalue().strip().splitlines()[-1]).parent


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=responder) as server:
        project(tmp_path, server.url)
        yield server


def metrics(run_dir: Path, model: str) -> dict[str, float | None]:
    doc = json.loads((run_dir / "results.json").read_text())
    return {k: v["value"] for k, v in doc["models"][model]["metrics"].items()}


def test_mcq_with_three_attempts(fake: FakeLLMServer) -> None:
    run_dir = run("run", "mcq", "--models", "base,ft", "--attempts", "3", "--quiet")
    assert fake.call_count == 2 * 60 * 3
    ft, base = metrics(run_dir, "ft"), metrics(run_dir, "base")
    assert ft["accuracy"] == 1.0 and ft["agreement"] == 1.0 and ft["accuracy_sd"] == 0.0
    assert base["invalid_rate"] > 0 and base["accuracy"] < 0.5
    # Attempts are sampled, each (item, attempt) with its own seed, so an attempt's answers do not move together.
    seeds = [r.body.get("seed") for r in fake.requests if r.body["model"] == "base"]
    assert len(set(seeds)) == 60 * 3 and {r.body.get("temperature") for r in fake.requests} == {0.7}
    html = (run_dir / "report.html").read_text()
    assert "Accuracy against mean latency per call" in html and "Accuracy per attempt (3 attempts" in html
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["comparisons"]["ft"]["majority_accuracy"]["test"] == "mcnemar-exact"


MMLU_CSV = SHARED / "mmlu" / "medical_genetics_test.csv"
PUBMEDQA_JSON = SHARED / "pubmedqa" / "ori_pqal.json"


@needs_shared
def test_mmlu_genetics_on_the_shared_csv(fake: FakeLLMServer) -> None:
    run_dir = run("run", "mmlu-genetics", "--models", "base,ft", "--attempts", "3", "--limit", "20", "--quiet",
                  "--data", f"cais/mmlu={MMLU_CSV}")
    assert metrics(run_dir, "ft")["accuracy"] == 1.0 and metrics(run_dir, "ft")["n"] == 20
    samples = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert samples[0]["id"] == "test-001" and samples[0]["input"].startswith("In a Robertsonian translocation")
    assert samples[0]["fields"]["options"][1] == "centromeres." and samples[0]["target"] == "B"
    suite = json.loads((run_dir / "suite.json").read_text())
    assert suite["data"]["copy_of"] == "cais/mmlu" and suite["data"]["path"] == str(MMLU_CSV.resolve())


@needs_shared
def test_pubmedqa_on_the_shared_json_through_the_config(fake: FakeLLMServer, tmp_path: Path) -> None:
    # The [data] table: paths relative to evalkit.toml; no --data on the command line.
    with (tmp_path / "evalkit.toml").open("a", encoding="utf-8") as fh:
        fh.write(f'\n[data]\n"qiaojin/PubMedQA" = "{os.path.relpath(PUBMEDQA_JSON, tmp_path)}"\n')
    run_dir = run("run", "pubmedqa", "--models", "base,ft", "--limit", "15", "--quiet")
    assert metrics(run_dir, "ft")["accuracy"] == 1.0
    # Calls run concurrently, so requests arrive in any order: find the first sample's prompt among them.
    prompts = [r.body["prompt"] for r in fake.requests if r.body["model"] == "ft"]
    assert len(prompts) == 15 and all(p.endswith("C. maybe\nAnswer:") for p in prompts)
    prompt = next(p for p in prompts if p.startswith("Context: Programmed cell death"))
    assert "LONG_ANSWER" not in prompt and "first report of mitochondria" not in prompt  # the conclusion is hidden
    assert json.loads((run_dir / "samples.jsonl").read_text().splitlines()[0])["id"] == "21645374"


@pytest.mark.parametrize(("suite", "dataset"), [("mmlu-genetics", "cais/mmlu"), ("pubmedqa", "qiaojin/PubMedQA")])
def test_offline_without_a_local_copy_is_one_line_before_any_call(
        fake: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        suite: str, dataset: str) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    err = user_error(["run", suite, "--models", "base,ft"], capsys)
    assert f"Hugging Face dataset {dataset!r}" in err and "HF_HUB_OFFLINE is set" in err
    assert f"`--data {dataset}=PATH`" in err and f'[data] "{dataset}" = "PATH"' in err
    assert fake.call_count == 0 and not (tmp_path / "reports").exists()


def test_a_data_override_for_another_data_set_is_an_error(fake: FakeLLMServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    err = user_error(["run", "mmlu-genetics", "--models", "base", "--data", "qiaojin/PubMedQA=x.json"], capsys)
    assert "reads 'cais/mmlu', not that data set" in err and "--data cais/mmlu=PATH" in err
    err = user_error(["run", "mmlu-genetics", "--models", "base", "--data", "cais/mmlu=missing.csv"], capsys)
    assert "missing.csv does not exist" in err and "MMLU's original CSV" in err
    assert fake.call_count == 0


def test_tone_then_a_blind_human_packet(fake: FakeLLMServer, tmp_path: Path) -> None:
    run_dir = run("run", "tone", "--models", "base,ft", "--judge", "judge", "--limit", "12", "--quiet")
    ft, base = metrics(run_dir, "ft"), metrics(run_dir, "base")
    assert ft["additive_rubric_score"] == 4.0 and base["additive_rubric_score"] == 2.0
    assert ft["numbers_kept"] == 1.0 and ft["new_numbers_rate"] == 0.0
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["human", "export", str(run_dir), "--task", str(REPO / "benchmarks/tone/human_task.yaml"),
                     "--models", "ft,base"]) == 0
    packets = list((run_dir / "human-packets").rglob("*.html"))
    assert packets and "Which rewrite sounds more like Tally?" in packets[0].read_text()
    assert "ft" not in re.findall(r"\bft\b", packets[0].read_text())  # blind: no model name


def test_tone_chat_split_reports_skipped_lines(fake: FakeLLMServer) -> None:
    run_dir = run("run", "tone-chat", "--models", "base,ft", "--judge", "judge", "--quiet")
    warnings = json.loads((run_dir / "data_warnings.json").read_text())
    assert [w.split(":")[0] for w in warnings] == ["tone_eval.jsonl line 37", "tone_eval.jsonl line 38"]
    assert metrics(run_dir, "ft")["n_calls"] == 36
    assert "additive_rubric_score" in metrics(run_dir, "ft")


# ---------------------------------------------------------------------------------------------------------
# Offline, on the embedded models (the `ft` adapter must have been trained: adapters/mcq/adapter.gguf)

ADAPTER = REPO / "adapters" / "mcq" / "adapter.gguf"


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.slow
@pytest.mark.skipif(not ADAPTER.is_file(), reason="the mcq demo adapter is not trained")
@pytest.mark.parametrize(("suite", "extra"), [("mcq", ["--attempts", "2"]), ("mmlu-genetics", ["--attempts", "2"]),
                                              ("pubmedqa", [])])
def test_offline_embedded_models(offline: Path, suite: str, extra: list[str]) -> None:
    if suite != "mcq" and not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the repo")
    copies = {"mmlu-genetics": ["--data", f"cais/mmlu={MMLU_CSV}"],
              "pubmedqa": ["--data", f"qiaojin/PubMedQA={PUBMEDQA_JSON}"]}
    run_dir = run("run", suite, "--models", "base,ft", "--limit", "4", "--quiet", *extra, *copies.get(suite, []))
    for model in ("base", "ft"):
        m = metrics(run_dir, model)
        assert m["n"] == 4 and m["failed"] == 0 and 0.0 <= m["accuracy"] <= 1.0


@pytest.mark.slow
def test_offline_tone_chat_with_the_embedded_judge(offline: Path) -> None:
    run_dir = run("run", "tone-chat", "--models", "base", "--limit", "2", "--quiet")
    assert json.loads((run_dir / "run.json").read_text())["offline_judge"] is True
    assert metrics(run_dir, "base")["n_calls"] == 2
