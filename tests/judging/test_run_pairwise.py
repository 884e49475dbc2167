"""`evalkit run` of a tiny pairwise suite end to end: two models and a Mistral judge on the fake server,
results.json numbers, the judge calls stored and shown (escaped) in report.html, a cached re-run."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer, Reply
from markupsafe import escape

from evalkit.cli import main
from judging.fakejudge import scores, slots

N = 12
INVALID_ITEM = 7
HOSTILE = "<script>alert('judge')</script>"


def respond(body: dict) -> str | Reply:
    model = body["model"]
    if model == "mistral-large-latest":
        prompt = body["messages"][0]["content"]
        if f"Question {INVALID_ITEM} " in prompt:
            return "Les deux réponses se valent."  # never valid JSON: re-asked, then counted invalid
        first, _ = slots(prompt)
        return Reply(scores(3, 1) if "article" in first else scores(1, 3), prompt_tokens=500, completion_tokens=30)
    i = int(re.search(r"Question (\d+) ", body["messages"][-1]["content"]).group(1))
    if model == "ft-model":
        return f"## Réponse\nSelon l'**article {i}** du Code civil, oui."
    return f"Oui, probablement ({i})."


def write_project(root: Path, url: str) -> Path:
    rows = [{"id": f"q{i:02d}", "question": f"Question {i} " + (HOSTILE if i == 3 else "puis-je résilier ?"),
             "articles": f"Art. {i}. Le bail peut être résilié."} for i in range(N)]
    (root / "data.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: legal-mini
task: pairwise_judge
task_args: {judge: legal_quality, context_field: articles}
data: {path: data.jsonl, fields: {id: id, input: question}}
generation: {max_tokens: 64}
judge: judge
prompts:
  default: {style: chat, template: "{{ articles }}\\n\\n{{ input }}"}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
max_retries = 0
[models.base]
provider = "openai"
model = "base-model"
[models.ft]
provider = "openai"
model = "ft-model"
[models.judge]
provider = "mistral"
model = "mistral-large-latest"
base_url = "{url}"
api_key_env = "EVALKIT_TEST_API_KEY"
max_retries = 0
[prices."mistral-large-latest"]
input_per_mtok = 2.0
output_per_mtok = 6.0
""", encoding="utf-8")
    return root / "suite.yaml"


def run(suite: Path) -> Path:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["run", str(suite), "--models", "base,ft", "--quiet"]) == 0
    return Path(out.getvalue().strip().splitlines()[-1]).parent


def test_pairwise_suite_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeLLMServer(responder=respond) as server:
        suite = write_project(tmp_path, server.url)
        run_dir = run(suite)
        judge_requests = [r for r in server.requests if r.body["model"] == "mistral-large-latest"]
        # 11 valid items x 2 orders, plus the invalid item: 2 orders x (1 call + 2 re-asks).
        assert len(judge_requests) == (N - 1) * 2 + 6
        assert all(r.body["response_format"]["type"] == "json_schema" for r in judge_requests)
        for r in judge_requests:  # context_field puts each item's articles in its judge prompt
            prompt = r.body["messages"][0]["content"]
            i = re.search(r"Question (\d+) ", prompt).group(1)
            assert f"Legal provisions relevant to the question (use them to check the citations):\n<<<\nArt. {i}. " in prompt

        doc = json.loads((run_dir / "results.json").read_text())
        ft, base = doc["models"]["ft"]["metrics"], doc["models"]["base"]["metrics"]
        assert ft["legal_quality_score"]["value"] == 3.0 and base["legal_quality_score"]["value"] == 1.0
        assert ft["legal_quality_score"]["n"] == N - 1 and ft["judge_invalid"]["value"] == 1
        assert ft["flip_rate"]["value"] == 0.0 and ft["position_bias"]["value"] == 0.5
        assert ft["wins"]["value"] == N - 1
        delta = doc["comparisons"]["ft"]["legal_quality_score"]
        assert delta["delta"] == 2.0 and delta["verdict"] == "significant" and delta["test"] == "wilcoxon-signed-rank"
        assert any("still invalid after 2 re-ask(s)" in n for n in doc["notes"])
        assert any(t["title"].startswith("Pairwise verdicts: judge legal_quality v2") for t in doc["tables"])
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((Path(__file__).resolve().parents[2] / "evalkit/report/results.schema.json").read_text())
        jsonschema.validate(doc, schema)
        info = json.loads((run_dir / "run.json").read_text())
        assert info["judge"]["model"] == "mistral-large-latest" and not info["offline_judge"]

        results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        invalid = next(r for r in results if r["sample_id"] == f"q{INVALID_ITEM:02d}")
        assert len(invalid["judgments"]) == 6 and all(j["parsed"] is None for j in invalid["judgments"])
        j = results[0]["judgments"][0]
        assert j["judge_id"] == "legal_quality" and len(j["template_sha256"]) == 64
        assert j["judge_model"] == "mistral-large-latest" and j["usage"]["prompt_tokens"] == 500
        assert j["cost_usd"] == pytest.approx((500 * 2 + 30 * 6) / 1e6) and j["parsed"]["score_answer_1"] in (1, 3)

        html = (run_dir / "report.html").read_text(encoding="utf-8")
        hostile = next(r for r in results if r["sample_id"] == "q03")["judgments"][0]
        assert HOSTILE in hostile["prompt"]
        assert str(escape(hostile["prompt"])) in html  # the whole judge prompt is shown, escaped
        assert HOSTILE not in html
        assert "Judge calls (" in html

        server.reset()
        again = run(suite)
        assert server.call_count == 0  # judge calls come from the cache too
        doc2 = json.loads((again / "results.json").read_text())
        assert doc2["comparisons"]["ft"]["legal_quality_score"] == delta
