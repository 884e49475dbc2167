"""`evalkit judge calibrate`: label files, and a run end to end against the fake server on real human labels
(LLMBar natural, read from ../shared/data, never copied into the repository)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main
from evalkit.errors import DataError
from evalkit.judging import parse_label
from evalkit.label_files import load_labels
from judging.fakejudge import choice, slots

LLMBAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "llmbar" / "natural.json"


def test_label_files_in_every_format(tmp_path: Path) -> None:
    rows = [{"question": "q1", "answer_1": "a", "answer_2": "b", "label": "A"},
            {"question": "q2", "answer_1": "c", "answer_2": "d", "label": 2},
            {"question": "q3", "answer_1": "e", "answer_2": "f", "label": "Tie"}]
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "l.json").write_text(json.dumps([{"input": r["question"], "output_1": r["answer_1"],
                                                  "output_2": r["answer_2"], "label": r["label"]} for r in rows]))
    (tmp_path / "l.csv").write_text("id,prompt,response_1,response_2,human_label\nx,q1,a,b,1\ny,q2,c,d,b\nz,q3,e,f,0\n")
    for name in ("l.jsonl", "l.json", "l.csv"):
        pairs = load_labels(tmp_path / name)
        assert [p.human for p in pairs] == ["1", "2", "tie"] and pairs[1].answer_2 == "d"
    assert [p.id for p in load_labels(tmp_path / "l.csv")] == ["x", "y", "z"]
    assert [parse_label(v) for v in (1, 2.0, " B ", "draw", True, "3")] == ["1", "2", "2", "tie", None, None]


def test_label_file_errors_name_file_row_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer_1": "a", "answer_2": "b", "label": "maybe"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:1: field 'label': received 'maybe'; allowed: 1"):
        load_labels(bad)
    bad.write_text('{"question": "q", "answer_1": "a", "label": 1}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:1: no column for 'answer_2': expected one of"):
        load_labels(bad)
    other = tmp_path / "labels.txt"
    other.write_text("x")
    with pytest.raises(DataError, match=r"unknown label file type '\.txt'; allowed: \.csv, \.jsonl, \.json"):
        load_labels(other)


def project(tmp_path: Path, url: str) -> None:
    (tmp_path / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
max_retries = 0
concurrency = 8
[models.agreeing]
provider = "openai"
model = "agree-judge"
[models.contrarian]
provider = "openai"
model = "contrarian-judge"
[models.first]
provider = "openai"
model = "first-judge"
""", encoding="utf-8")


@pytest.mark.skipif(not LLMBAR.is_file(), reason=f"real human labels not found at {LLMBAR} (the shared data folder "
                                                  f"next to the repository)")
def test_calibrate_end_to_end_on_llmbar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(LLMBAR.read_text(encoding="utf-8"))
    preferred = {row[f"output_{row['label']}"] for row in data}

    def respond(body: dict) -> str:
        first, _ = slots(body["messages"][0]["content"])
        human_pick = "A" if first in preferred else "B"
        if body["model"] == "agree-judge":
            return choice(human_pick)
        if body["model"] == "first-judge":
            return choice("A")  # always the answer shown first
        return choice("B" if human_pick == "A" else "A")

    monkeypatch.chdir(tmp_path)
    with FakeLLMServer(responder=respond) as server:
        project(tmp_path, server.url)
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["judge", "calibrate", "preference", str(LLMBAR), "--models", "agreeing,contrarian,first",
                         "--cache-dir", str(tmp_path / "cache"), "--quiet"])
        assert code == 0
        assert server.call_count == 3 * 2 * len(data)  # three candidates, both orders of every pair
        bodies = [r.body for r in server.requests]
        assert all(b["response_format"]["type"] == "json_schema" for b in bodies)

    doc = json.loads(Path(out.getvalue().strip().splitlines()[-1]).read_text())
    n1 = sum(row["label"] == 1 for row in data)
    n2 = len(data) - n1
    assert doc["labels"]["n_pairs"] == len(data) and doc["labels"]["human"] == {"1": n1, "2": n2, "tie": 0}
    assert doc["judge"]["id"] == "preference" and len(doc["judge"]["template_sha256"]) == 64
    agreeing, first, contrarian = doc["candidates"]  # best first (by kappa: 1, 0, negative)
    assert doc["best"] == "agreeing" and agreeing["model"] == "agreeing"
    assert agreeing["agreement_with_ties"] == 1.0 and agreeing["agreement_without_ties"] == 1.0
    assert agreeing["kappa"] == pytest.approx(1.0) and agreeing["flip_rate"] == 0.0
    assert contrarian["agreement_with_ties"] == 0.0 and contrarian["n"] == len(data)
    # Perfectly opposite labels: po = 0, pe = 2 * n1 * n2 / N^2, kappa = -pe / (1 - pe).
    pe = 2 * n1 * n2 / len(data) ** 2
    assert contrarian["kappa"] == pytest.approx(-pe / (1 - pe))
    assert contrarian["judge_labels"] == {"1": n2, "2": n1, "tie": 0}
    assert agreeing["judge_calls"]["calls"] == 2 * len(data) and agreeing["judge_calls"]["reasks"] == 0
    # LLMBar's measures: accuracy over both orders' verdicts, and the share of pairs judged alike both ways.
    assert (agreeing["accuracy"], agreeing["positional_agreement"]) == (1.0, 1.0)
    assert (contrarian["accuracy"], contrarian["positional_agreement"]) == (0.0, 1.0)
    # Always slot 1: exactly one order of each pair is right (50%, LLMBar's random level), never consistent.
    assert (first["model"], first["accuracy"], first["positional_agreement"]) == ("first", 0.5, 0.0)
    assert first["position_bias"] == 1.0 and first["flip_rate"] == 1.0
    lines = next(tmp_path.glob("reports/calibration-preference-*.judgments.jsonl")).read_text().splitlines()
    assert len(lines) == 3 * len(data) and len(json.loads(lines[0])["judgments"]) == 2


def test_calibrate_refuses_a_single_answer_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "l.jsonl"
    labels.write_text('{"question": "q", "answer_1": "a", "answer_2": "b", "label": 1}\n')
    assert "has kind 'single'" in user_error(["judge", "calibrate", "additive_rubric", str(labels), "--models",
                                              "base"], capsys)
