"""A translation run built offline through the `replay` provider, for the human-study tests.

The two models have distinctive names and ids (`zebrafish` / `okapi`, `zebrafish-mt-7b` / `okapi-base-2b`) so a
test can search a packet's bytes for any trace of them.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from evalkit.cli import main

MODEL_A, MODEL_B = "zebrafish", "okapi"
MODEL_IDS = ("zebrafish-mt-7b", "okapi-base-2b")
SECRETS = (MODEL_A, MODEL_B, *MODEL_IDS, "replay", "preds-a", "preds-b")
"""Strings that must never appear in a packet: model names, model ids, provider, prediction file names."""

SOURCES = [
    ("Le vice de procédure a conduit à l'annulation du jugement.",
     "Der Verfahrensmangel führte zur Aufhebung des Urteils."),
    ("Le créancier a adressé une mise en demeure au débiteur.",
     "Der Gläubiger hat dem Schuldner eine Mahnung übermittelt."),
    ("La partie requérante demande des dommages et intérêts.", "Die Klägerin verlangt Schadensersatz."),
    ("La Cour de justice a été saisie d'un renvoi préjudiciel.",
     "Der Gerichtshof wurde mit einem Vorabentscheidungsersuchen befasst."),
    ("Chaque État membre désigne une autorité compétente.",
     "Jeder Mitgliedstaat benennt eine zuständige Behörde."),
    ("La clause de non-concurrence est nulle.", "Die Wettbewerbsverbotsklausel ist nichtig."),
    ("Le délai de prescription est de cinq ans.", "Die Verjährungsfrist beträgt fünf Jahre."),
    ("Le jugement par défaut a été signifié.", "Das Versäumnisurteil wurde zugestellt."),
    ("La Commission a infligé une amende.", "Die Kommission hat eine Geldbuße verhängt."),
    ("Le contrat de travail prévoit une période d'essai.", "Der Arbeitsvertrag sieht eine Probezeit vor."),
    ("La force majeure exonère le débiteur.", "Höhere Gewalt befreit den Schuldner."),
    ("Le sous-traitant agit sur instruction.", "Der Auftragsverarbeiter handelt auf Weisung."),
]


def a_output(i: int, ref: str) -> str:
    """Model A: the reference on most items, a degraded one on every fourth (and an untrusted string once)."""
    if i == 2:
        return ref + ' <script>alert("x")</script> =HYPERLINK("http://evil")'
    return ref if i % 4 else ref.split(" ")[0] + " Prozessirregularität."


def b_output(i: int, ref: str) -> str:
    """Model B: a word-for-word style translation that misses the legal terms, except on every third item."""
    return ref if i % 3 == 0 else "Die " + " ".join(reversed(ref.split(" ")))


def make_run(root: Path, *, judge_pairs: bool = False) -> Path:
    """A complete translation run of A and B (reference B) on SOURCES; returns the run directory."""
    rows = [{"id": f"s{i:02d}", "fr": fr, "de": de} for i, (fr, de) in enumerate(SOURCES)]
    (root / "data.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    (root / "preds-a.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": a_output(i, r["de"])},
                                                           ensure_ascii=False) + "\n" for i, r in enumerate(rows)),
                                        "utf-8")
    (root / "preds-b.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": b_output(i, r["de"])},
                                                           ensure_ascii=False) + "\n" for i, r in enumerate(rows)),
                                        "utf-8")
    (root / "glossary.csv").write_text("source,target\nvice de procédure,Verfahrensmangel\nmise en demeure,Mahnung\n"
                                       "force majeure,höhere Gewalt\n", "utf-8")
    (root / "suite.yaml").write_text("""
name: legal-mt
task: translation
task_args: {source_lang: fr, target_lang: de, glossary: glossary.csv}
data: {path: data.jsonl, fields: {id: id, input: fr, target: de}}
prompts:
  default: {style: completion, template: "{{ input }}"}
models:
  zebrafish: {provider: replay, model: zebrafish-mt-7b, path: preds-a.jsonl}
  okapi: {provider: replay, model: okapi-base-2b, path: preds-b.jsonl}
""", "utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["run", str(root / "suite.yaml"), "--models", f"{MODEL_B},{MODEL_A}", "--quiet",
                     "--out", str(root / "reports"), "--cache-dir", str(root / "cache")])
    assert code == 0, out.getvalue()
    run_dir = Path(out.getvalue().strip().splitlines()[-1]).parent
    if judge_pairs:
        add_judge_pairs(run_dir)
    return run_dir


def add_judge_pairs(run_dir: Path) -> dict[str, str]:
    """Write LLM-judge pair verdicts (as the pairwise task stores them) into results.jsonl: A wins where its
    output equals the reference, else a tie; returns sample id -> judge outcome for A."""
    from evalkit.judging import PairJudgment

    path = run_dir / "results.jsonl"
    lines = path.read_text("utf-8").splitlines()
    outcomes = {}
    out = []
    for i, line in enumerate(lines):
        r = json.loads(line)
        win = i % 4 != 0 and i != 2
        own = (1.0, 0.0) if win else (0.5, 0.5)
        pair = PairJudgment(opponent=MODEL_B, status="complete", own_first=own, opponent_first=own)
        r["scores"][MODEL_A]["details"]["pairs"] = {MODEL_B: pair.model_dump(mode="json")}
        outcomes[r["sample_id"]] = pair.outcome
        out.append(json.dumps(r, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", "utf-8")
    return outcomes
