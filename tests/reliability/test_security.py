"""Security through real runs: no API key is ever written anywhere, and untrusted text is inert in the report.

1. A distinctive key is planted in the environment; `mistral` and `openai` models run against the fake server
   with failures and retries, including error bodies that echo the key (as some APIs do). Every byte written
   under the project (run directory, cache database and its WAL) and everything printed is then searched for
   the key and for any 12-character piece of it (a key cut in half by an excerpt is still a leak).
2. Data set text, model outputs, the suite description and model metadata carry `<script>`, `<img onerror>`
   and `javascript:` payloads; the HTML report is parsed and must contain none of them as markup.

3. A judge model answers with markup, with text that is not JSON, and with JSON outside its schema: the run
   completes, the bad answers are recorded as invalid judgments (after the bounded re-asks), and every judge
   text is inert in the report.

The blind human packet is tested in test_human_packets.py.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fakeserver import Fault, FakeLLMServer

from .project import KEY_ENV, MODELS, oracle, read_jsonl, run_cli, write_project

KEY = "sk-PLANTED-7f3a9c2e1b4d8f6a0c5e3b7d9f1a2c4e"
WINDOW = 12

# The JSON error body starts with `{"object": "error", "message": "` (32 characters) and evalkit keeps 300
# characters of it: this padding puts the first 20 characters of the key before the cut, the rest after it.
PAD = "x" * (300 - 32 - 20)


def leaks(data: bytes) -> list[str]:
    """The pieces of KEY found in `data` (every WINDOW-character substring is checked)."""
    text = data.decode("utf-8", errors="replace")
    return sorted({KEY[i:i + WINDOW] for i in range(len(KEY) - WINDOW + 1) if KEY[i:i + WINDOW] in text})


def test_no_api_key_is_written_or_printed_even_through_failures(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=oracle, timeout_sleep_s=3.0) as srv:
        write_project(tmp_path, srv.url, n=30, concurrency=2, max_retries=2, timeout_s=1.0)
        echoed = f"invalid api key {KEY}"
        srv.queue_faults(
            Fault("unauthorized", message=echoed),                 # not retryable: the sample fails for good
            Fault("rate_limit", retry_after="0", message=echoed),  # retried
            Fault("server_error", message=PAD + KEY),              # the excerpt cuts through the key
            Fault("bad_request", message=PAD + KEY),               # ... and this one fails for good with it
            "malformed", "drop", "timeout",
            Fault("server_error", message=f"Authorization: Bearer {KEY}"),
        )
        code, run_dir = run_cli("run", "suite.yaml", "--models", ",".join(MODELS))
        assert code == 0 and run_dir is not None
        # A second, cached run and a re-rendered report write again: they must not leak either.
        assert run_cli("run", "suite.yaml", "--models", ",".join(MODELS), "--quiet")[0] == 0
        assert run_cli("report", str(run_dir))[0] == 0
        sent = srv.requests

    # The key really was in play: sent on every request, echoed back in error bodies.
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in sent)
    errors = [g["error"] for g in read_jsonl(run_dir / "generations.jsonl") if g["error"]]
    assert len(errors) == 2 and all("***" in e or "..." in e for e in errors)

    captured = capfd.readouterr()
    assert leaks(captured.out.encode()) == [] and leaks(captured.err.encode()) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "responses.sqlite" for p in written) and any(p.name == "report.html" for p in written)
    found = {str(p.relative_to(tmp_path)): leaks(p.read_bytes()) for p in written}
    assert {name: pieces for name, pieces in found.items() if pieces} == {}


PAYLOADS = (
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=alert('xss-img')>",
    '<a href="javascript:alert(\'xss-link\')">click</a>',
    "javascript:alert('xss-bare')",
    "</textarea></pre></div><svg onload=alert('xss-svg')>",
)


class _Markup(HTMLParser):
    """Collects every tag and attribute the browser would build from the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def hostile_responder(body: dict[str, Any]) -> str:
    """Answers with the right label wrapped in every payload (the label must still parse)."""
    label = oracle(body)
    return f"{PAYLOADS[0]} {label} {PAYLOADS[1]} {PAYLOADS[2]} {PAYLOADS[4]}"


def test_untrusted_text_is_escaped_in_the_report_of_a_real_run(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV, "sk-html-0000")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    inputs = [f"{p} the service was {'good' if i % 2 else 'bad'}" for i, p in enumerate(PAYLOADS * 4)]
    with FakeLLMServer(responder=hostile_responder) as srv:
        write_project(tmp_path, srv.url, n=len(inputs), inputs=inputs, description=" ".join(PAYLOADS),
                      metadata={"notes": PAYLOADS[1], "link": PAYLOADS[3]})
        code, run_dir = run_cli("run", "suite.yaml", "--models", ",".join(MODELS), "--quiet")
    assert code == 0 and run_dir is not None
    doc = (run_dir / "report.html").read_text(encoding="utf-8")

    parser = _Markup()
    parser.feed(doc)
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{}], "only the report's own inline script, and no script loaded from anywhere"
    assert not [tag for tag, _ in parser.tags if tag in ("svg", "iframe", "object", "embed", "a") and tag != "a"]
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on")], f"event handler on <{tag}>: {attrs}"
        for name in ("href", "src", "action", "formaction", "xlink:href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), f"<{tag} {name}={value!r}>"
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/"), attrs
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#"), f"a link leaving the report: {attrs}"
    # The payloads are there, as text: escaped, not dropped (a reviewer must see what the model said).
    assert "&lt;script&gt;alert(" in doc and "&lt;img src=x onerror=alert(" in doc
    assert doc.count("xss-script") >= len(inputs)
    # The models' answers were still parsed through the markup.
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["models"]["mis"]["metrics"]["accuracy"]["value"] == 1.0
    md = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md and "<svg" not in md


JUDGE_FILE = """
id: xss_judge
version: "1"
kind: pairwise
description: test judge
score_range: [0, 1]
result: {type: choice, field: winner, slot_1: A, slot_2: B, tie: tie}
output_schema:
  type: object
  properties: {winner: {type: string, enum: [A, B, tie]}, why: {type: string}}
  required: [winner]
template: "JUDGE Which is better? A: {{ answer_1 }} B: {{ answer_2 }} ({{ question }})"
"""


def judge_responder(body: dict[str, Any]) -> str:
    """Models answer with payloads; the judge answers valid JSON with markup, or not JSON, or off-schema JSON."""
    text = body["messages"][0]["content"]  # a re-ask appends messages after the judge prompt
    if not text.startswith("JUDGE"):
        # The models' answers differ, so no two judge prompts are byte-identical (a pair of identical calls in
        # flight is answered once or twice depending on timing, and this test counts calls).
        return f"{PAYLOADS[0]} {oracle(body)} {body['model']} {PAYLOADS[2]}"
    item = int(text.split("review ")[1][:5])
    if item % 3 == 0:
        return json.dumps({"winner": "A", "why": f"{PAYLOADS[0]} {PAYLOADS[1]} {PAYLOADS[3]}"})
    if item % 3 == 1:
        return f"{PAYLOADS[4]} <blink>not json</blink> {PAYLOADS[1]}"
    return json.dumps({"winner": "<script>alert('xss-judge')</script>"})


def test_malformed_and_hostile_judge_outputs_end_as_invalid_judgments_escaped_in_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV, "sk-judge-0000")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=judge_responder) as srv:
        suite = write_project(tmp_path, srv.url, n=9)
        (tmp_path / "xss_judge.yaml").write_text(JUDGE_FILE, encoding="utf-8")
        text = suite.read_text(encoding="utf-8")
        text = text.replace("task: classification", "task: pairwise_judge").replace(
            "task_args: {labels: [positive, negative], positive_label: positive}", "task_args: {judge: xss_judge.yaml}")
        suite.write_text(text, encoding="utf-8")
        code, run_dir = run_cli("run", "suite.yaml", "--models", ",".join(MODELS), "--judge", "mis", "--quiet")
        judge_calls = [r for r in srv.requests if r.body["messages"][0]["content"].startswith("JUDGE")]
    assert code == 0 and run_dir is not None

    judgments = [j for r in read_jsonl(run_dir / "results.jsonl") for j in r["judgments"]]
    assert len(judgments) == len(judge_calls) > 0  # every judge call is on record, re-asks included
    invalid = [j for j in judgments if j["error"]]
    valid = [j for j in judgments if not j["error"]]
    assert invalid and valid and all(j["parsed"] is None for j in invalid)
    assert all(j["parsed"]["winner"] == "A" for j in valid)

    doc = (run_dir / "report.html").read_text(encoding="utf-8")
    parser = _Markup()
    parser.feed(doc)
    assert [attrs for tag, attrs in parser.tags if tag == "script"] == [{}]
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on")], f"event handler on <{tag}>: {attrs}"
        assert tag not in ("svg", "blink", "iframe"), f"markup from a judge or model output became a <{tag}>"
        assert not (attrs.get("href") or "").strip().lower().startswith("javascript:")
    assert "xss-judge" in doc and "&lt;blink&gt;not json&lt;/blink&gt;" in doc
