"""A gate test project: a labelled suite and models of known quality on the loopback fake server."""

from __future__ import annotations

import json
from pathlib import Path

N_ITEMS = 200


def truth(i: int) -> str:
    return "positive" if i % 3 == 0 else "negative"


def _flip(label: str) -> str:
    return "negative" if label == "positive" else "positive"


# Which items each fake model gets wrong: `base` and `noisy` are equally good (90%) on different items;
# `worse` is wrong on every other item (50%).
WRONG = {
    "base-model": lambda i: i % 10 == 0,
    "noisy-model": lambda i: i % 10 == 5,
    "worse-model": lambda i: i % 2 == 0,
}


def responder(body: dict) -> str:
    text = body["messages"][-1]["content"]
    i = int(text.split()[1])
    wrong = WRONG[body["model"]](i)
    return _flip(truth(i)) if wrong else truth(i)


def make_project(root: Path, server_url: str, *, gates: str = "", max_retries: int = 5, n_items: int = N_ITEMS,
                 ft_model: str = "noisy-model", config_gates: str = "") -> Path:
    rows = [{"id": f"q{i:03d}", "text": f"item {i} here", "label": truth(i)} for i in range(n_items)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text(f"""
name: sentiment
task: classification
task_args: {{labels: [positive, negative], positive_label: positive}}
data: {{path: data.jsonl, fields: {{id: id, input: text, target: label}}}}
generation: {{max_tokens: 5}}
prompts:
  default: {{style: chat, template: "{{{{ input }}}}"}}
{gates}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{server_url}/v1"
concurrency = 8
max_retries = {max_retries}
timeout_s = 5.0
[models.base]
provider = "openai"
model = "base-model"
[models.noisy]
provider = "openai"
model = "noisy-model"
[models.worse]
provider = "openai"
model = "worse-model"
[models.ft]
provider = "openai"
model = "{ft_model}"
{config_gates}
""", encoding="utf-8")
    return root / "suite.yaml"
