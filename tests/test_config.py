"""Project config, suite files, loaders and prompt rendering: resolution order and error messages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from evalkit.config import load_config, resolve_model, resolve_models
from evalkit.errors import ConfigError, DataError
from evalkit.loaders import load_csv, load_jsonl
from evalkit.prompts import render_prompt
from evalkit.ratelimit import RateLimiter
from evalkit.records import Sample
from evalkit.suite import PromptSpec, load_suite

SUITE = """
name: demo
task: classification
task_args: {labels: [a, b]}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts:
  default: {style: chat, system: "Labels: {{ labels|join(', ') }}", template: "Classify: {{ input }}"}
  bare: {style: completion, template: "{{ input }}\\n"}
models:
  ft: {provider: llamacpp, model: gemma3-270m, adapter: adapters/x.gguf}
"""


def write_suite(tmp_path: Path, text: str = SUITE) -> Path:
    (tmp_path / "data.jsonl").write_text('{"id": "1", "text": "hello", "label": "a"}\n', encoding="utf-8")
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_model_resolution_order(tmp_path: Path) -> None:
    suite = load_suite(str(write_suite(tmp_path)))
    cfg_path = tmp_path / "evalkit.toml"
    cfg_path.write_text("""
[providers.mistral]
requests_per_second = 4
[models.big]
provider = "mistral"
model = "mistral-large-latest"
[models.ft]
provider = "mistral"
model = "ft:open-mistral-7b:abc:20240101:xyz"
prompt = "bare"
[prices."mistral-large-latest"]
input_per_mtok = 2.0
output_per_mtok = 6.0
[prices."ft:open-mistral-7b:*"]
input_per_mtok = 0.25
output_per_mtok = 0.25
""", encoding="utf-8")
    config = load_config(cfg_path)
    # The suite defines `ft`, but the project config wins.
    ft = resolve_model("ft", config, suite)
    assert ft.provider == "mistral" and ft.model.startswith("ft:") and ft.price.input_per_mtok == 0.25
    assert ft.requests_per_second == 4  # provider defaults apply
    big = resolve_model("big", config, suite)
    assert big.price.output_per_mtok == 6.0
    # Without a project config, the suite's own `ft` (paths relative to the suite) and the built-in base.
    empty = load_config(tmp_path / "evalkit.toml").model_copy(update={"models": {}})
    ft_suite = resolve_model("ft", empty, suite)
    assert ft_suite.adapter == str((tmp_path / "adapters/x.gguf").resolve())
    assert resolve_model("base", empty).provider == "llamacpp"
    assert resolve_model("base", empty).price is None  # unknown, never zero


def test_unknown_and_repeated_models(tmp_path: Path) -> None:
    config = load_config(None)
    with pytest.raises(ConfigError, match=r"unknown model 'bse'.*Did you mean: base"):
        resolve_models(["bse"], config)
    with pytest.raises(ConfigError, match="repeated: base"):
        resolve_models(["base", "base"], config)


def test_bad_config_files(tmp_path: Path) -> None:
    bad = tmp_path / "evalkit.toml"
    bad.write_text("[models.x\nprovider=1", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evalkit.toml: invalid TOML"):
        load_config(bad)
    bad.write_text('[models.x]\nprovider = "mistral"\nmodel = "m"\nconcurrency = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evalkit.toml: model 'x': concurrency: .*greater than or equal to 1"):
        resolve_model("x", load_config(bad))
    bad.write_text('[prices."m"]\ninput_per_mtok = -1\noutput_per_mtok = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"prices.m.input_per_mtok"):
        load_config(bad)
    bad.write_text('[models.x]\nprovider = "mistral"\nmodel = "m"\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="colour: unknown field"):
        resolve_model("x", load_config(bad))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\ntask: classification\ndata: {path: d.jsonl}\n", "prompts: required field is missing"),
    ("task: classification\ndata: {path: d.jsonl}\nprompts: {other: {template: x}}\n", "'default' is required"),
    ("task: classification\ndata: {path: d.jsonl, source: excel}\nprompts: {default: {template: x}}\n",
     "data.source: Input should be 'jsonl', 'csv', 'hf'"),
    ("task: [unclosed\n", "suite.yaml:2: invalid YAML"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("task: classification\ndata: {path: d.jsonl}\nprompts: {default: {template: x}}\ntypo_field: 1\n",
     "typo_field: unknown field"),
])
def test_bad_suite_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_suite(str(path))
    assert str(path) in str(info.value) and message in str(info.value)


def test_prompt_profiles_and_rendering(tmp_path: Path) -> None:
    suite = load_suite(str(write_suite(tmp_path)))
    assert suite.prompt_for("base", None)[0] == "default"
    assert suite.prompt_for("x", "bare")[0] == "bare"
    with pytest.raises(ConfigError, match="prompt profile 'nope'"):
        suite.prompt_for("x", "nope")
    sample = Sample(id="1", input="hello", fields={"extra": 3})
    chat = render_prompt(suite.prompts["default"], sample, {"labels": ["a", "b"]}, where="w")
    assert [m.role for m in chat.messages] == ["system", "user"]
    assert chat.messages[0].content == "Labels: a, b" and chat.messages[1].content == "Classify: hello"
    assert render_prompt(suite.prompts["bare"], sample, {}, where="w").text == "hello\n"
    with pytest.raises(ConfigError, match=r"prompts.default: 'missing' is undefined; available variables: extra, id, input"):
        render_prompt(PromptSpec(template="{{ missing }}"), sample, {}, where="prompts.default")
    with pytest.raises(ConfigError, match="template syntax error at line 1"):
        render_prompt(PromptSpec(template="{{ oops"), sample, {}, where="prompts.default")


@pytest.mark.parametrize(("content", "message"), [
    (b'{"id": "1", "text": "a"}\n{"id": "2", "text": \n', "data.jsonl:2: invalid JSON"),
    (b'{"id": "1", "txt": "a"}\n', "data.jsonl:1: missing column(s) 'text'"),
    (b"", "no samples (the file is empty)"),
    (b'{"id": "1", "text": "caf\xe9"}\n', "not UTF-8 text"),
    (b'{"id": "1", "text": "a"}\n{"id": "1", "text": "b"}\n', "duplicated id '1' (rows 1 and 2)"),
    (b'[1, 2]\n', "data.jsonl:1: expected a JSON object, got list"),
])
def test_bad_jsonl_data(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_jsonl(path, {"id": "id", "input": "text"})
    assert message in str(info.value) and str(path) in str(info.value)


def test_csv_loader_and_its_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,question,answer,topic\n1,What?,A,x\n2,Why?,B,y\n", encoding="utf-8")
    samples = load_csv(path, {"id": "id", "input": "question", "target": "answer"})
    assert [s.target for s in samples] == ["A", "B"] and samples[0].fields == {"topic": "x"}
    path.write_text("id,q\n1,a\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.csv:2: missing column\(s\) 'question'"):
        load_csv(path, {"id": "id", "input": "question"})


def test_rate_limiter_spaces_calls() -> None:
    async def go() -> float:
        limiter = RateLimiter(50.0)
        start = time.monotonic()
        for _ in range(6):
            await limiter.acquire()
        return time.monotonic() - start

    elapsed = asyncio.run(go())
    assert elapsed >= 5 * 0.02 * 0.9
    with pytest.raises(ValueError, match="got 0"):
        RateLimiter(0)


def test_judge_name_order_and_the_optional_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.config import judge_name

    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    (tmp_path / "data.jsonl").write_text('{"id": 1, "text": "x", "label": "a"}\n', encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    suite = load_suite(str(tmp_path / "suite.yaml"))
    monkeypatch.chdir(tmp_path)
    empty = load_config(None)
    assert judge_name(None, empty, suite) == "base"  # offline default: the embedded model
    assert judge_name(None, empty, suite, fallback=False) is None  # an optional judge: none at all
    assert judge_name("mine", empty, suite, fallback=False) == "mine"
    (tmp_path / "evalkit.toml").write_text('judge = "cfg"\n', encoding="utf-8")
    assert judge_name(None, load_config(None), suite, fallback=False) == "cfg"
    assert judge_name(None, empty, suite.model_copy(update={"judge": "suite-judge"}), fallback=False) == "suite-judge"
    monkeypatch.setenv("MISTRAL_API_KEY", "k")
    assert judge_name(None, empty, suite, fallback=False) == "mistral-large"


def test_the_data_table_of_the_config(tmp_path: Path) -> None:
    from evalkit.config import data_overrides

    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "evalkit.toml").write_text('[data]\n"cais/mmlu" = "copies/mmlu.csv"\n', encoding="utf-8")
    config = load_config(tmp_path / "proj" / "evalkit.toml")
    assert config.data == {"cais/mmlu": "copies/mmlu.csv"}
    overrides = data_overrides(config)
    assert overrides.by_id == {"cais/mmlu": (tmp_path / "proj").resolve() / "copies" / "mmlu.csv"}
    assert data_overrides(config, ["cais/mmlu=/elsewhere.csv"]).by_id["cais/mmlu"] == Path("/elsewhere.csv")
    (tmp_path / "bad.toml").write_text('[data]\n"cais/mmlu" = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.toml.*data"):
        load_config(tmp_path / "bad.toml")
