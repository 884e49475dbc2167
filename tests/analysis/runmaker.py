"""Real run directories for the analysis, tracker and history tests: tiny suites run through `evalkit run`
against the loopback fake server (tests/fakeserver.py), so every file is what evalkit itself writes.

    with FakeLLMServer(responder=news_responder) as server:
        root = write_news_project(tmp_path, server.url)
        run_dir = run_cli(root / "suite.yaml", "base,ft")
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer, Reply

from evalkit.cli import main

N_NEWS = 30
HOSTILE = "<script>alert('x')</script>"
"""Dataset text that would run as script if any page forgot to escape it."""


def news_items(n: int = N_NEWS) -> list[dict[str, str]]:
    """Queries labelled news_related every third item; item 4 carries HOSTILE markup."""
    rows = []
    for i in range(n):
        news = i % 3 == 0
        text = f"query {i}: " + ("election results tonight" if news else "how to bake bread")
        if i == 4:
            text += " " + HOSTILE
        rows.append({"id": f"q{i:03d}", "text": text, "label": "news_related" if news else "not_news_related"})
    return rows


def news_label(i: int, model: str) -> str:
    """What each fake model answers for item i.

    `oracle` is always right; `cautious` says not_news_related except on items 0 and 3; `sloppy` is right
    except on items 6, 7, 8 (two of them news); `ft-model-v2` is the oracle but wrong on items 4 (the hostile one), 9 and 10.
    """
    truth = "news_related" if i % 3 == 0 else "not_news_related"
    other = "not_news_related" if truth == "news_related" else "news_related"
    if model == "oracle":
        return truth
    if model == "cautious":
        return "news_related" if i in (0, 3) else "not_news_related"
    if model == "sloppy":
        return other if i in (6, 7, 8) else truth
    if model == "ft-model-v2":
        return other if i in (4, 9, 10) else truth
    raise AssertionError(f"unknown fake model {model}")


def news_responder(body: dict) -> Reply:
    """The fake server's answer: the label of the item named in the last message, with token counts."""
    i = int(re.search(r"query (\d+):", body["messages"][-1]["content"]).group(1))
    return Reply(news_label(i, body["model"]), prompt_tokens=40 if body["model"] == "cautious" else 9,
                 completion_tokens=3)


def write_news_project(root: Path, url: str, *, n: int = N_NEWS, ft_model: str = "oracle",
                       ft_metadata: str = '{learning_rate = 0.0002, step = 100}') -> Path:
    """A news-like classification suite and config: `base` (the cautious model, with instructions), `ft`
    (`ft_model`, bare input, an adapter path and metadata) and `ft2` (the sloppy one)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in news_items(n)), encoding="utf-8")
    (root / "suite.yaml").write_text("""
name: news-mini
task: classification
task_args: {labels: [news_related, not_news_related], positive_label: news_related}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
generation: {temperature: 0.0, max_tokens: 8}
prompts:
  default: {style: chat, system: "Label the query news_related or not_news_related.", template: "{{ input }}"}
  ft: {style: chat, template: "{{ input }}"}
""", encoding="utf-8")
    (root / "evalkit.toml").write_text(f"""
[providers.openai]
base_url = "{url}/v1"
max_retries = 0
[models.base]
provider = "openai"
model = "cautious"
[models.ft]
provider = "openai"
model = "{ft_model}"
prompt = "ft"
adapter = "adapters/news-{ft_model}.gguf"
metadata = {ft_metadata}
[models.ft2]
provider = "openai"
model = "sloppy"
prompt = "ft"
[prices.oracle]
input_per_mtok = 1.0
output_per_mtok = 2.0
""", encoding="utf-8")
    return root


def run_cli(suite: Path, models: str, *extra: str, out: Path | None = None) -> Path:
    """`evalkit run SUITE --models MODELS --quiet` in the suite's folder (its evalkit.toml); the run dir."""
    args = ["run", str(suite), "--models", models, "--quiet", "--config", str(suite.parent / "evalkit.toml"),
            "--out", str(out or suite.parent / "reports"), *extra]
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(args)
    assert code == 0, f"evalkit run exited {code}"
    return Path(buf.getvalue().strip().splitlines()[-1]).parent


# --- a pairwise-judge run, for the judgments frame -----------------------------------------------------------

N_LEGAL = 12


def legal_responder(body: dict) -> str | Reply:
    """Base and ft answers, and a judge (mistral-large-latest) that prefers the answer citing an article."""
    model = body["model"]
    if model == "mistral-large-latest":
        prompt = body["messages"][0]["content"]
        first = re.findall(r"Answer (?:1|2):\n<<<\n(.*?)\n>>>", prompt, re.DOTALL)[0]
        # legal_quality: one point per criterion (citation, argumentation, form), adding up to the score.
        points = {True: {"citation": 1, "argumentation": 1, "form": 1}, False: {"citation": 0, "argumentation": 0,
                                                                              "form": 1}}
        one, two = points["article" in first], points["article" not in first]
        answer = {"justification": "cites the law",
                  **{f"{c}_answer_1": v for c, v in one.items()}, **{f"{c}_answer_2": v for c, v in two.items()},
                  "score_answer_1": sum(one.values()), "score_answer_2": sum(two.values())}
        return Reply(json.dumps(answer), prompt_tokens=500, completion_tokens=30)
    i = int(re.search(r"Question (\d+) ", body["messages"][-1]["content"]).group(1))
    return f"Selon l'article {i}, oui." if model == "ft-model" else f"Oui ({i})."


def write_legal_project(root: Path, url: str) -> Path:
    """A pairwise legal_quality suite: base and ft on the fake server, the judge a mistral model there too."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"l{i:02d}", "question": f"Question {i} puis-je résilier ?", "articles": f"Art. {i}."}
            for i in range(N_LEGAL)]
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
""", encoding="utf-8")
    return root


# --- fixtures (imported by the conftest of each test folder that needs them) ----------------------------------


@pytest.fixture(scope="module")
def news_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A complete classification run of base, ft and ft2 with one failed call (a 400 on some request)."""
    root = tmp_path_factory.mktemp("news")
    with pytest.MonkeyPatch.context() as mp, FakeLLMServer(responder=news_responder) as server:
        mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
        write_news_project(root, server.url)
        server.queue_faults("bad_request")
        yield run_cli(root / "suite.yaml", "base,ft,ft2", "--concurrency", "1")


@pytest.fixture(scope="module")
def legal_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A complete pairwise-judge run (legal_quality) of base and ft, judged by a mistral model on the server."""
    root = tmp_path_factory.mktemp("legal")
    with pytest.MonkeyPatch.context() as mp, FakeLLMServer(responder=legal_responder) as server:
        mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
        mp.setenv("EVALKIT_TEST_API_KEY", "sk-test-not-a-real-key-000")
        write_legal_project(root, server.url)
        yield run_cli(root / "suite.yaml", "base,ft")
