"""Small replay projects for the streaming tests: classification over N items, models answered from files."""

from __future__ import annotations

import json
from pathlib import Path


def write_project(root: Path, n: int, *, wrong_every: int = 5, models: tuple[str, ...] = ("base", "ft")) -> Path:
    """A classification suite over `n` items; `base` answers every `wrong_every`-th item wrongly, `ft` always
    right (replay files, so runs need no server and every call is counted)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"s{i:05d}", "text": f"item {i} is {'good' if i % 3 else 'bad'}",
             "label": "pos" if i % 3 else "neg"} for i in range(n)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    flip = {"pos": "neg", "neg": "pos"}
    answers = {"base": lambda i, r: flip[r["label"]] if i % wrong_every == 0 else r["label"],
               "ft": lambda i, r: r["label"]}
    model_lines = []
    for m in models:
        (root / f"{m}.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": answers[m](i, r)}) + "\n"
                                                 for i, r in enumerate(rows)), encoding="utf-8")
        model_lines.append(f"  {m}: {{provider: replay, model: {m}, path: {m}.jsonl}}")
    (root / "suite.yaml").write_text(
        "name: stream\ntask: classification\ntask_args: {labels: [pos, neg], positive_label: pos}\n"
        "data: {path: data.jsonl, fields: {id: id, input: text, target: label}}\n"
        'prompts: {default: {style: chat, template: "{{ input }}"}}\nmodels:\n' + "\n".join(model_lines) + "\n",
        encoding="utf-8")
    return root / "suite.yaml"


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSONL file as a dict."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
