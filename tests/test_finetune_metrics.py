"""`evalkit finetune-metrics` through the real mistralai SDK against the loopback fake server's jobs endpoint,
and the training curves a run's report shows for models whose metadata names a job_id."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cli_errors import user_error
from fakeserver import FakeLLMServer

from evalkit.cli import main
from evalkit.errors import DataError
from evalkit.finetune_metrics import curve_from_job

JOB_ID = "ft-job-7f3a"


def job(job_id: str = JOB_ID) -> dict:
    """A completion fine-tuning job as the API returns it (checkpoints newest first, as Mistral lists them)."""
    return {
        "id": job_id, "object": "job", "job_type": "completion", "auto_start": True, "model": "open-mistral-7b",
        "status": "SUCCESS", "created_at": 1717000000, "modified_at": 1717003600, "training_files": ["file-1"],
        "fine_tuned_model": "ft:open-mistral-7b:abc:20240601:7f3a",
        "hyperparameters": {"training_steps": 30, "learning_rate": 1e-4, "weight_decay": 0.1, "epochs": None},
        "checkpoints": [
            {"metrics": {"train_loss": 0.61, "valid_loss": 0.74, "valid_mean_token_accuracy": 0.81},
             "step_number": 30, "created_at": 1717003500},
            {"metrics": {"train_loss": 0.95, "valid_loss": 1.02, "valid_mean_token_accuracy": 0.72},
             "step_number": 20, "created_at": 1717002500},
            {"metrics": {"train_loss": 1.62, "valid_loss": None, "valid_mean_token_accuracy": None},
             "step_number": 10, "created_at": 1717001500},
        ],
        "events": [{"name": "status-updated", "data": {"status": "SUCCESS"}, "created_at": 1717003600}],
    }


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def server():
    with FakeLLMServer(jobs={JOB_ID: job()}) as s:
        yield s


def test_fetch_store_and_plot_through_the_sdk(tmp_path: Path, server: FakeLLMServer, api_key: str) -> None:
    code, out, err = cli("finetune-metrics", JOB_ID, "--base-url", server.url, "--out", str(tmp_path / "ft"))
    assert code == 0, err
    sent = server.last_request
    assert (sent.method, sent.path) == ("GET", f"/v1/fine_tuning/jobs/{JOB_ID}")
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert "mistral-client-python" in sent.headers["user-agent"]  # the request went through the SDK
    path = Path(out.strip().splitlines()[-1])
    assert path == tmp_path / "ft" / f"{JOB_ID}.json"
    stored = json.loads(path.read_text())
    assert [c["step"] for c in stored["checkpoints"]] == [10, 20, 30]  # in step order
    assert stored["checkpoints"][0]["valid_loss"] is None and stored["checkpoints"][2]["train_loss"] == 0.61
    assert stored["hyperparameters"] == {"training_steps": 30, "learning_rate": 1e-4, "weight_decay": 0.1}
    assert stored["fine_tuned_model"].startswith("ft:open-mistral-7b") and stored["status"] == "SUCCESS"
    svg = (tmp_path / "ft" / f"{JOB_ID}.svg").read_text()
    assert svg.startswith("<?xml") and "valid token accuracy" in svg
    assert "0.7400" in err and api_key not in out + err


def test_key_is_required(tmp_path: Path, monkeypatch, server: FakeLLMServer, capsys) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    err = user_error(["finetune-metrics", JOB_ID, "--base-url", server.url, "--out", str(tmp_path)], capsys)
    assert "no Mistral API key" in err and "MISTRAL_API_KEY" in err
    assert server.call_count == 0


def test_unknown_job_exits_2_and_stores_nothing(tmp_path: Path, server: FakeLLMServer, api_key: str,
                                                 capsys) -> None:
    err = user_error(["finetune-metrics", "ft-nope", "--base-url", server.url, "--out", str(tmp_path)], capsys)
    assert "no fine-tuning job 'ft-nope' (HTTP 404)" in err and api_key not in err
    assert not list(tmp_path.glob("*.json"))


def test_malformed_job_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"fine-tuning job 'x': not a fine-tuning job: checkpoints.0.step_number"):
        curve_from_job({"id": "x", "checkpoints": [{"metrics": {}}]}, where="fine-tuning job 'x'")


def _project(root: Path, url: str) -> Path:
    rows = [{"id": f"q{i}", "text": f"item {i}", "label": "positive" if i % 2 else "negative"} for i in range(12)]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "suite.yaml").write_text("""
name: tiny
task: classification
task_args: {labels: [positive, negative]}
data: {path: data.jsonl, fields: {id: id, input: text, target: label}}
prompts:
  default: {style: chat, template: "{{ input }}"}
""")
    (root / "evalkit.toml").write_text(f"""
[models.base]
provider = "openai"
model = "base"
base_url = "{url}/v1"
[models.ft]
provider = "openai"
model = "ft"
base_url = "{url}/v1"
metadata = {{job_id = "{JOB_ID}", learning_rate = 1e-4}}
""")
    return root / "suite.yaml"


def test_a_run_shows_the_training_curves_of_its_models(tmp_path: Path, monkeypatch, server: FakeLLMServer,
                                                       api_key: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALKIT_FINETUNE_DIR", str(tmp_path / "curves"))
    server.responder = lambda body: "positive"
    suite = _project(tmp_path, server.url)

    # A run before the curve was fetched: no curves; then attach them to that run.
    code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet")
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1]).parent
    assert "Fine-tuning curves" not in (run_dir / "report.html").read_text()
    code, out, err = cli("finetune-metrics", JOB_ID, "--base-url", server.url, "--run", str(run_dir))
    assert code == 0, err
    assert (run_dir / "training" / f"{JOB_ID}.json").is_file()
    assert "Fine-tuning curves" in (run_dir / "report.html").read_text()
    assert cli("report", str(run_dir))[0] == 0  # a re-render keeps them
    assert "Fine-tuning curves" in (run_dir / "report.html").read_text()

    # A new run finds the stored curve by the model's job_id and copies it into its own directory.
    code, out, err = cli("run", str(suite), "--models", "base,ft", "--quiet")
    run2 = Path(out.strip().splitlines()[-1]).parent
    assert (run2 / "training" / f"{JOB_ID}.json").is_file()
    assert "Fine-tuning curves" in (run2 / "report.html").read_text()

    # --run checks the run names the job before any API call.
    calls = server.call_count
    code, _, err = cli("finetune-metrics", "ft-other", "--base-url", server.url, "--run", str(run_dir))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no model of this run names job_id 'ft-other'" in err and server.call_count == calls
    assert api_key not in (run2 / "report.html").read_text()
