"""A small two-provider project on the fake server, shared by the reliability tests.

The suite is a binary sentiment classification over `n` items whose texts are all distinct (so each call has
its own cache key and can be told apart at the server). Two models answer it: `mis` through the real
`mistralai` SDK (provider `mistral`) and `oai` through the `openai` SDK (provider `openai`), both keyed by the
environment variable KEY_ENV, so an Authorization header is sent on every request.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from fakeserver import FakeLLMServer, RecordedRequest

from evalkit.cli import main

KEY_ENV = "EVALKIT_RELIABILITY_KEY"
MODELS = ("mis", "oai")


def item_text(i: int) -> str:
    """The input of item i; every third item is positive."""
    return f"review {i:05d}: the service was {'good' if i % 3 == 0 else 'bad'}"


def oracle(body: dict[str, Any]) -> str:
    """Server-side answers: `mis` always right, `oai` wrong on every fifth item (so the models differ)."""
    text = body["messages"][-1]["content"]
    right = "positive" if "good" in text else "negative"
    if body["model"] == "oai-model" and int(text.split()[1].rstrip(":")) % 5 == 0:
        return "negative" if right == "positive" else "positive"
    return right


def write_project(root: Path, server_url: str, *, n: int, concurrency: int = 8, max_retries: int = 5,
                  timeout_s: float = 2.0, inputs: list[str] | None = None, description: str = "",
                  metadata: dict[str, str] | None = None) -> Path:
    """suite.yaml, data.jsonl and evalkit.toml under `root`; returns the suite path."""
    texts = inputs if inputs is not None else [item_text(i) for i in range(n)]
    rows = [{"id": f"s{i:05d}", "text": t, "label": "positive" if "good" in t else "negative"}
            for i, t in enumerate(texts)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "suite.yaml").write_text(f"""
name: rel
description: {json.dumps(description)}
task: classification
task_args: {{labels: [positive, negative], positive_label: positive}}
data: {{path: data.jsonl, fields: {{id: id, input: text, target: label}}}}
generation: {{max_tokens: 5}}
prompts:
  default: {{style: chat, template: "{{{{ input }}}}"}}
""", encoding="utf-8")
    meta = "".join(f"metadata.{k} = {json.dumps(v)}\n" for k, v in (metadata or {}).items())
    common = (f'api_key_env = "{KEY_ENV}"\nconcurrency = {concurrency}\nmax_retries = {max_retries}\n'
              f"timeout_s = {timeout_s}\n")
    (root / "evalkit.toml").write_text(f"""
[models.mis]
provider = "mistral"
model = "mis-model"
base_url = "{server_url}"
{common}{meta}
[models.oai]
provider = "openai"
model = "oai-model"
base_url = "{server_url}/v1"
{common}
[prices.mis-model]
input_per_mtok = 0.1
output_per_mtok = 0.3
""", encoding="utf-8")
    return root / "suite.yaml"


def run_cli(*args: str) -> tuple[int, Path | None]:
    """`evalkit ARGS` in this process: (exit code, the run directory printed on stdout, if any)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(args))
    lines = out.getvalue().strip().splitlines()
    return code, (Path(lines[-1]).parent if code == 0 and lines else None)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def cache_rows(cache_dir: Path) -> int:
    """Responses committed to the cache so far (read through SQLite, as a second process would)."""
    path = cache_dir / "responses.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    finally:
        db.close()


def call_key(req: RecordedRequest) -> tuple[str, str]:
    """What identifies one logical call at the server: the model id and the prompt text."""
    return str(req.body["model"]), str(req.body["messages"][-1]["content"])


def generation_key(gen: dict[str, Any]) -> tuple[str, str]:
    """The same identity for a stored Generation."""
    return str(gen["model_id"]), str(gen["prompt"]["messages"][-1]["content"])


def task_metrics(results_json: Path) -> dict[str, dict[str, Any]]:
    """Each model's metrics from results.json, without the latency ones (wall-clock, different every run)."""
    doc = json.loads(results_json.read_text(encoding="utf-8"))
    return {m: {k: v for k, v in body["metrics"].items() if not k.endswith("_s")}
            for m, body in doc["models"].items()}


def server(**kw: Any) -> FakeLLMServer:
    """A FakeLLMServer answering with `oracle`."""
    return FakeLLMServer(responder=oracle, **kw)
