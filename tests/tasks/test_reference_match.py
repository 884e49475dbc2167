"""A suite over a chat-format eval split, end to end: validation warnings in the run, messages prompts, matching."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

from evalkit.cli import main
from evalkit.tasks.reference_match import create, normalize_answer

N = 12


def responder(body: dict) -> str:
    """`good` repeats the reference the user message hides after 'say:', with different case and a full stop."""
    last = body["messages"][-1]["content"]
    word = last.split("say: ")[1]
    return f"{word.upper()}." if body["model"] == "good" else "no idea"


def write_project(root: Path, url: str) -> Path:
    lines = []
    for i in range(N):
        lines.append(json.dumps({"messages": [
            {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! What shall I repeat?"},
            {"role": "user", "content": f"Please say: word{i}"}, {"role": "assistant", "content": f"word{i}"}]}))
    lines.insert(3, json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]}))
    lines.insert(5, "{broken")
    (root / "ft_eval.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: chat-eval
task: reference_match
data: {source: chat_jsonl, path: ft_eval.jsonl}
prompts:
  default: {style: messages, system: "Repeat exactly what you are asked to say."}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
[models.good]
provider = "openai"
model = "good"
[models.bad]
provider = "openai"
model = "bad"
""", encoding="utf-8")
    return root / "suite.yaml"


def test_chat_eval_split_suite_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=responder) as server:
        suite = write_project(tmp_path, server.url)
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["run", str(suite), "--models", "bad,good", "--quiet"]) == 0
        run_dir = Path(out.getvalue().strip().splitlines()[-1]).parent
        first = server.requests[0].body["messages"]
        assert [m["role"] for m in first] == ["system", "user", "assistant", "user"]
        assert server.call_count == 2 * N
    doc = json.loads((run_dir / "results.json").read_text())
    good, bad = doc["models"]["good"]["metrics"], doc["models"]["bad"]["metrics"]
    assert good["normalized_match"]["value"] == 1.0 and good["exact_match"]["value"] == 0.0
    assert bad["normalized_match"]["value"] == 0.0
    comparison = doc["comparisons"]["good"]["normalized_match"]
    assert comparison["delta"] == 1.0
    warnings = json.loads((run_dir / "data_warnings.json").read_text())
    assert warnings == ["ft_eval.jsonl line 4: message 2 (assistant): empty assistant message (no content and no "
                        "tool calls) (skipped)",
                        "ft_eval.jsonl line 6: invalid JSON (Expecting property name enclosed in double quotes at "
                        "column 2) (skipped)"]
    notes = json.loads((run_dir / "summary.json").read_text())["notes"]
    assert f"data: {warnings[0]}" in notes
    info = json.loads((run_dir / "run.json").read_text())
    assert info["prompts"][0]["style"] == "chat" and "own chat messages" in info["prompts"][0]["template"]
    assert "empty assistant message" in (run_dir / "report.html").read_text()


def test_normalisation_and_args() -> None:
    assert normalize_answer("  Silent!  ") == normalize_answer("silent") == "silent"
    assert normalize_answer('[TOOL_CALLS] [{"name": "a", "arguments": {"x": 1, "y": 2}}]') == \
        normalize_answer('[{"arguments": {"y": 2, "x": 1}, "name": "a"}]')
    assert normalize_answer("{not json") == "{not json"
    from evalkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"task_args.match.0: Input should be 'exact' or 'normalized'"):
        create({"match": ["fuzzy"]}, Path("suite.yaml"))
    task = create({"judge": "additive_rubric"}, Path("benchmarks/x/suite.yaml"))
    assert task.needs_judge and task.rubric.args.show_reference is True
