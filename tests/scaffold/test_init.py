"""`evalkit init --data FILE` on the tone-chat fine-tuning file and on a classification table: the suites it
writes load, list every skipped line, pick the task from the references, and run offline end to end through
`evalkit run` (replay models and a replay judge; the embedded model in the slow test)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from analysis.runmaker import news_items
from rich.console import Console

from evalkit.cli import main
from evalkit.errors import ConfigError, DataError
from evalkit.scaffold import choose_task, default_name, init_suite
from evalkit.scaffold import command as init_command
from evalkit.suite import load_suite

REPO = Path(__file__).resolve().parents[2]
TONE_EVAL = REPO / "benchmarks" / "tone" / "tone_eval.jsonl"  # the file benchmarks/tone-chat evaluates


def run_init(*argv: str) -> tuple[str, str]:
    parser = argparse.ArgumentParser()
    init_command.add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out):
        assert init_command.cmd_init(parser.parse_args(["init", *argv]), Console(file=err, width=200)) == 0
    return out.getvalue(), err.getvalue()


def replay_config(root: Path, outputs: dict[str, dict[str, str]], judge: str | None = None) -> Path:
    """evalkit.toml with one replay model per entry of `outputs` (model -> {sample id: output})."""
    lines = []
    for model, by_id in outputs.items():
        path = root / f"{model}.predictions.jsonl"
        path.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in by_id.items()), "utf-8")
        lines += [f"[models.{model}]", 'provider = "replay"', f'model = "{model}-replay"', f'path = "{path}"', ""]
    return_path = root / "evalkit.toml"
    return_path.write_text("\n".join(lines), encoding="utf-8")
    return return_path


def run(*argv: str) -> Path:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["run", *argv, "--quiet"]) == 0
    return Path(out.getvalue().strip().splitlines()[-1]).parent


def test_init_on_the_tone_chat_file_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    out, err = run_init("--data", str(TONE_EVAL))
    suite_path = tmp_path / "benchmarks" / "tone" / "suite.yaml"
    assert out.splitlines() == [f"Wrote {Path('benchmarks/tone/suite.yaml')}",
                                "evalkit run benchmarks/tone/suite.yaml --models base,ft"]
    # Both invalid lines of the file, each with its line number and reason, as the fine-tuning guide says.
    assert f"{TONE_EVAL}: line 37: message 2 (assistant): empty assistant message" in err
    assert f"{TONE_EVAL}: line 38: the last message is from 'user', not the assistant" in err
    assert "38 line(s), 36 usable, 2 skipped. Task: reference_match" in err

    suite = load_suite(str(suite_path))
    assert suite.task == "reference_match" and suite.task_args["judge"] == "additive_rubric"
    assert suite.data.source == "chat_jsonl" and Path(suite.data.path).is_absolute()  # outside the project
    base, ft = suite.prompts["default"], suite.prompts["ft"]
    assert base.system == "Rewrite the app's message in Tally's tone of voice." and base.template == "{{ input }}"
    assert ft.system is None and ft.template == "{{ input }}"  # the fine-tuned model: the bare input
    text = suite_path.read_text("utf-8")
    assert text.startswith("# Suite drafted by `evalkit init`") and "make `ft` `{style: messages}`" in text

    lines = [json.loads(x) for x in TONE_EVAL.read_text("utf-8").splitlines()[:36]]
    refs = {x["id"]: x["messages"][-1]["content"] for x in lines}
    ids = list(refs)
    config = replay_config(tmp_path, {
        "base": {i: "Your payment failed." for i in ids},
        "ft": {i: refs[i] if n % 2 == 0 else refs[i].upper() + "!" for n, i in enumerate(ids)},
        "judge": {i: json.dumps({"justification": "fine", "score": 4}) for i in ids},
    })
    run_dir = run(str(suite_path), "--models", "base,ft", "--config", str(config), "--judge", "judge",
                  "--limit", "6")
    doc = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert doc["run"]["status"] == "complete" and doc["run"]["n_samples"] == 6
    ft_metrics, base_metrics = doc["models"]["ft"]["metrics"], doc["models"]["base"]["metrics"]
    assert ft_metrics["exact_match"]["value"] == 0.5  # every other answer is the reference verbatim
    assert ft_metrics["normalized_match"]["value"] == 1.0  # the others differ only in case and final punctuation
    assert base_metrics["normalized_match"]["value"] == 0.0
    prompts = {p["profile"]: p for p in doc["prompts"]}
    assert prompts["ft"]["models"] == ["ft"] and prompts["default"]["models"] == ["base"]
    judged = [json.loads(x) for x in (run_dir / "results.jsonl").read_text("utf-8").splitlines()]
    assert all(j["parsed"]["score"] == 4 for r in judged for j in r["judgments"])


def classification_table(path: Path) -> list[dict[str, str]]:
    rows = [{"id": r["id"], "text": r["text"], "label": r["label"]} for r in news_items()]
    bad = [{"id": "bad-1", "text": "", "label": "news_related"}, {"id": "bad-2", "text": "is it raining", "label": ""},
           {"id": "q001", "text": "a repeated id", "label": "news_related"}]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "label"])
        w.writeheader()
        w.writerows(rows[:10] + bad + rows[10:])
    return rows


def test_init_on_a_classification_table_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    rows = classification_table(tmp_path / "routing_valid.csv")
    out, err = run_init("--data", "routing_valid.csv", "--out", "suites/routing.yaml")
    assert out.splitlines()[-1] == "evalkit run suites/routing.yaml --models base,ft"
    # CSV line numbers count the header: the bad rows are lines 12, 13 and 14.
    assert "routing_valid.csv: line 12: empty or missing input 'text' (skipped)" in err
    assert "routing_valid.csv: line 13: empty or missing reference 'label' (skipped)" in err
    assert "routing_valid.csv: line 14: id 'q001' repeats line 3 (skipped)" in err
    assert "33 line(s), 30 usable, 3 skipped. Task: classification" in err

    suite = load_suite("suites/routing.yaml")
    assert suite.name == "routing" and suite.task == "classification"
    assert suite.task_args == {"labels": ["not_news_related", "news_related"], "positive_label": "news_related"}
    assert suite.data.source == "jsonl" and suite.data.path == "data.jsonl"  # the clean copy beside the suite
    copy = [json.loads(x) for x in (tmp_path / "suites" / "data.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in copy] == [r["id"] for r in rows]
    assert suite.generation.stop == ("\n",) and suite.generation.temperature == 0.0
    assert "news_related, not_news_related" not in suite.prompts["default"].system  # most frequent first
    assert suite.prompts["default"].system.endswith("not_news_related, news_related.")
    assert suite.prompts["ft"].template == "{{ input }}" and suite.prompts["ft"].system is None

    truth = {r["id"]: r["label"] for r in rows}
    config = replay_config(tmp_path, {
        "base": {i: "not_news_related" for i in truth},
        "ft": {i: (lab if i not in ("q003", "q004") else "news_related") for i, lab in truth.items()},
    })
    run_dir = run("suites/routing.yaml", "--models", "base,ft", "--config", str(config))
    doc = json.loads((run_dir / "results.json").read_text("utf-8"))
    assert doc["models"]["base"]["metrics"]["accuracy"]["value"] == pytest.approx(20 / 30)
    assert doc["models"]["ft"]["metrics"]["accuracy"]["value"] == pytest.approx(29 / 30)  # q004 is not news
    assert doc["comparisons"]["ft"]["accuracy"]["test"] == "mcnemar-exact"


@pytest.mark.slow
def test_init_suite_runs_on_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    classification_table(tmp_path / "routing.csv")
    run_init("--data", "routing.csv")
    run_dir = run("benchmarks/routing/suite.yaml", "--models", "base", "--limit", "3")
    doc = json.loads((run_dir / "results.json").read_text("utf-8"))
    calls = doc["models"]["base"]["calls"]
    assert doc["run"]["status"] == "complete" and calls["total"] == 3 and calls["failed"] == 0
    assert 0.0 <= doc["models"]["base"]["metrics"]["accuracy"]["value"] <= 1.0


def test_task_choice_from_the_references() -> None:
    labels = choose_task(["yes", "no", "no", "yes", "no", "no"])
    assert labels.task == "classification" and labels.task_args == {"labels": ["no", "yes"], "positive_label": "yes"}
    three = choose_task(["a", "b", "c"] * 3)
    assert three.task == "classification" and "positive_label" not in three.task_args
    assert choose_task(["a", "b", "c", "d"]).task == "reference_match"  # each label used once: free text
    long = choose_task(["The contract can be ended with notice.", "No."] * 5)
    assert long.task == "reference_match" and long.task_args["judge"] == "additive_rubric"
    assert default_name(Path("data/tone_eval.jsonl")) == "tone" and default_name(Path("Support Valid.csv")) == "support"


def test_multi_turn_chat_lines_keep_the_conversation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    convo = [{"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "Hello!"},
                           {"role": "user", "content": f"What is {i} + {i}?"},
                           {"role": "assistant", "content": f"It is {2 * i}, as {i} plus {i} makes {2 * i}."}]}
             for i in range(5)]
    (tmp_path / "maths.jsonl").write_text("".join(json.dumps(c) + "\n" for c in convo), encoding="utf-8")
    result = init_suite(Path("maths.jsonl"))
    suite = load_suite(str(result.suite_path))
    assert suite.prompts["ft"].style == "messages" and suite.prompts["default"].style == "messages"
    assert suite.prompts["default"].system == "Answer the user's message."
    assert "placeholder" in result.suite_path.read_text("utf-8") and suite.data.path == "../../maths.jsonl"


def test_bad_data_and_existing_suites_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        init_suite(Path("missing.jsonl"))
    (tmp_path / "t.csv").write_text("question,notes\nwhat?,x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no reference column \(looked for reference, target, answer"):
        init_suite(Path("t.csv"))
    with pytest.raises(ConfigError, match="unknown column 'answr'. Known: notes, question"):
        init_suite(Path("t.csv"), reference_column="answr")
    result = init_suite(Path("t.csv"), reference_column="notes")
    assert result.profile.samples[0].target == "x"
    with pytest.raises(ConfigError, match="already exists; choose another --out or pass --force"):
        init_suite(Path("t.csv"), reference_column="notes")
    (tmp_path / "bad.jsonl").write_text('{"messages": []}\n{"messages": [{"role": "user", "content": "x"}]}\n',
                                        encoding="utf-8")
    with pytest.raises(DataError, match="no valid line in Mistral's chat fine-tuning format"):
        init_suite(Path("bad.jsonl"))
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a .jsonl"):
        init_suite(Path("notes.txt"))
