"""`evalkit run` with a check judge, end to end through the CLI against the loopback server: alone (no judge
model: checks only), beside an LLM judge that always prefers the answer shown first (low agreement, a warning),
and through a gate on a check metric."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer, Reply

from evalkit.cli import main
from judging.fakejudge import criterion_scores

N = 16
CODE = "Code du bail d'habitation"


def gold(i: int) -> str:
    return f"Art. {i} du {CODE}"


def distractor(i: int) -> str:
    return f"Art. {i + 100} du {CODE}"


def ft_answer(i: int) -> str:
    return (f"## Réponse\n\nOui.\n\n## Fondement légal\n\n- **{gold(i)}** : le bail est résiliable.\n\n"
            f"## Application\n\nSelon l'article {i} du {CODE}, vous pouvez résilier.")


def base_answer(i: int) -> str:
    # No headings; cites the distractor on most items, the gold article on every fourth one.
    cited = gold(i) if i % 4 == 0 else distractor(i)
    return f"Oui, d'après l'{cited.replace('Art.', 'article')}, probablement."


def respond(body: dict) -> str | Reply:
    model = body["model"]
    if model == "mistral-large-latest":
        # A judge that always gives every point to the answer shown first, whatever it says.
        return Reply(criterion_scores((1, 1, 1), (0, 0, 0), "La première est meilleure."), prompt_tokens=400,
                     completion_tokens=40)
    i = int(re.search(r"Question (\d+) ", body["messages"][-1]["content"]).group(1))
    return ft_answer(i) if model == "ft-model" else base_answer(i)


def write_project(root: Path, url: str, *, llm_judge: bool, gates: str = "") -> Path:
    rows = [{"id": f"q{i:02d}", "question": f"Question {i} : puis-je résilier mon bail ?",
             "references": [gold(i)], "context_references": [distractor(i), gold(i)],
             "context": f"{distractor(i)}\nAutre chose.\n\n{gold(i)}\nLe bail peut être résilié."} for i in range(N)]
    (root / "data.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                     encoding="utf-8")
    judge_lines = "judge: judge\n" if llm_judge else ""
    task_args = ("{judge: legal_quality, checks: bsard_checks, context_field: context}" if llm_judge
                 else "{checks: bsard_checks}")
    (root / "suite.yaml").write_text(f"""
name: legal-checks
task: pairwise_judge
task_args: {task_args}
data: {{path: data.jsonl, fields: {{id: id, input: question}}}}
generation: {{max_tokens: 128}}
{judge_lines}{gates}
prompts:
  default: {{style: chat, template: "{{{{ context }}}}\\n\\n{{{{ input }}}}"}}
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
""", encoding="utf-8")
    return root / "suite.yaml"


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run(suite: Path, *extra: str) -> tuple[Path, dict]:
    code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet", *extra)
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1]).parent
    return run_dir, json.loads((run_dir / "results.json").read_text())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def table(doc: dict, prefix: str) -> dict:
    return next(t for t in doc["tables"] if t["title"].startswith(prefix))


def test_check_judge_alone_needs_no_model(project: Path) -> None:
    with FakeLLMServer(responder=respond) as server:
        run_dir, doc = run(write_project(project, server.url, llm_judge=False))
        assert {r.body["model"] for r in server.requests} == {"base-model", "ft-model"}  # no judge model called
    ft, base = doc["models"]["ft"]["metrics"], doc["models"]["base"]["metrics"]
    # By hand: ft cites the gold article only (F1 1) under the three headings; base cites the gold article on
    # 4 of 16 items (F1 1 there), the distractor elsewhere (F1 0), and has no heading.
    assert ft["citation_f1"]["value"] == 1.0 and base["citation_f1"]["value"] == pytest.approx(4 / 16)
    assert ft["structure"]["value"] == 1.0 and base["structure"]["value"] == 0.0
    assert ft["grounding"]["value"] == 1.0 and base["grounding"]["value"] == pytest.approx(4 / 16)
    f1 = doc["comparisons"]["ft"]["citation_f1"]
    assert f1["delta"] == pytest.approx(0.75) and f1["ci_low"] > 0 and f1["verdict"] == "significant"
    structure = doc["comparisons"]["ft"]["structure"]
    assert structure["delta"] == 1.0 and structure["ci_low"] > 0
    # Pairwise point rule: ft 3 points on every item; base 0 (on gold items citation ties 1-1, grounding 1-1).
    assert ft["bsard_checks_score"]["value"] == 3.0
    assert base["bsard_checks_score"]["value"] == pytest.approx((4 * 2) / 16)
    assert ft["bsard_checks_net_win_rate"]["value"] == 1.0
    verdicts = table(doc, "Per-criterion verdicts: check judge bsard_checks v1")
    rows = {r[1]: r for r in verdicts["rows"]}
    assert rows["citation_f1"][5:8] == [12, 4, 0] and rows["structure"][5:8] == [16, 0, 0]
    assert "legal_quality_score" not in ft and "flip_rate" not in ft  # no LLM judge ran
    assert any(n.startswith("judges: check judge bsard_checks v1 ran") for n in doc["notes"])
    info = json.loads((run_dir / "run.json").read_text())
    assert info["judge"] is None and not info["offline_judge"]
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    first = results[0]
    assert {j["judge_model"] for j in first["judgments"]} == {"evalkit-checks"} and len(first["judgments"]) == 2
    # The primary pairs are the check judge's, in the records human-agreement and gates read.
    assert first["scores"]["ft"]["details"]["pairs_judge"] == "checks"
    assert first["scores"]["ft"]["details"]["pairs"]["base"]["status"] == "complete"


def test_llm_judge_that_always_picks_slot_1_disagrees_with_the_checks(project: Path, api_key: str) -> None:
    with FakeLLMServer(responder=respond) as server:
        run_dir, doc = run(write_project(project, server.url, llm_judge=True))
        judge_calls = [r for r in server.requests if r.body["model"] == "mistral-large-latest"]
        assert len(judge_calls) == 2 * N  # both orders of each pair, all valid the first time
    ft = doc["models"]["ft"]["metrics"]
    # The LLM judge: every pair flips (slot 1 wins both ways), so every item is a tie.
    assert ft["flip_rate"]["value"] == 1.0 and ft["position_bias"]["value"] == 1.0 and ft["ties"]["value"] == N
    assert ft["legal_quality_citation_net_win_rate"]["value"] == 0.0
    # Against the checks (ft wins citation on 12 items, ties on 4): agreement = the 4 ties.
    assert ft["judge_agreement_citation_f1"]["value"] == pytest.approx(4 / 16)
    assert ft["judge_kappa_citation_f1"]["value"] == pytest.approx(0.0)
    assert ft["judge_agreement_structure"]["value"] == 0.0  # ft wins structure everywhere, the LLM says tie
    validity = table(doc, "Judge validity: LLM judge legal_quality v2 vs check judge bsard_checks v1")
    statuses = {(r[2], r[3]): r[-1] for r in validity["rows"]}
    assert statuses == {("citation", "citation_f1"): "LOW", ("form", "structure"): "LOW",
                        ("(total)", "(total)"): "LOW"}
    flip_col = validity["columns"].index("LLM flip rate")
    assert all(r[flip_col] == 1.0 for r in validity["rows"])
    warnings = [n for n in doc["notes"] if n.startswith("WARNING: LLM judge legal_quality v2 disagrees")]
    assert len(warnings) == 3 and "citation vs citation_f1 (ft vs base): agreement 25%" in warnings[0]
    assert any(n.startswith("judges: check judge bsard_checks v1 ran") and "LLM judge legal_quality v2 ran" in n
               for n in doc["notes"])
    per_criterion = table(doc, "Per-criterion verdicts: judge legal_quality v2")
    assert {r[1]: r[5:8] for r in per_criterion["rows"]} == {"citation": [0, N, 0], "argumentation": [0, N, 0],
                                                             "form": [0, N, 0]}
    # The warning reaches the people reading the report.
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "WARNING: LLM judge legal_quality v2 disagrees" in html and "Judge validity" in html
    md = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "judge\\_agreement\\_citation\\_f1" in md and "WARNING: LLM judge legal\\_quality v2 disagrees" in md


def test_gate_on_a_check_metric(project: Path) -> None:
    gates = "gates:\n  - ft.citation_f1 - base.citation_f1 >= 0.5\n  - ft.structure >= 0.9\n"
    with FakeLLMServer(responder=respond) as server:
        suite = write_project(project, server.url, llm_judge=False, gates=gates)
        code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet", "--gate")
        assert code == 0, err
        strict = "gates:\n  - ft.citation_f1 - base.citation_f1 >= 0.95\n"
        suite = write_project(project, server.url, llm_judge=False, gates=strict)
        code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet", "--gate")
        assert code == 1  # the whole paired CI of +0.75, [+0.50, +0.94], lies below 0.95
        gate = json.loads((Path(out.strip().splitlines()[-1]).parent / "gate.json").read_text())
        assert gate["rules"][0]["status"] == "fail"
