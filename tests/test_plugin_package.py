"""A third-party plugin, pip-installed by the test: its provider implements only `generate`, its task has its own
metric; both register through entry points, and a run through the CLI reports and gates on that metric."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin"

SUITE = """
name: shout
task: shouting
data: {path: data.jsonl}
prompts:
  default: {style: completion, template: "{{ input }}"}
gates:
  - loud.shout_rate >= 0.9
  - quiet.shout_rate <= 0.1
  - loud.shout_rate - quiet.shout_rate >= 0.5
"""

CONFIG = """
[models.quiet]
provider = "shout"
model = "quiet"
[models.loud]
provider = "shout"
model = "loud"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin pip-installed (from a copy, so no build files land in tests/) into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(PLUGIN, src)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True, text=True)
    assert any(p.name.startswith("evalkit_shout_plugin-") for p in target.glob("*.dist-info"))
    return target


def evalkit(cwd: Path, *args: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(cwd / "cache")}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rows = [{"id": f"s{i}", "input": f"please answer item {i}", "target": ""} for i in range(12)]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (tmp_path / "evalkit.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_an_entry_point_plugin_runs_reports_and_gates(project: Path, site: Path) -> None:
    done = evalkit(project, "run", "suite.yaml", "--models", "quiet,loud", "--quiet", "--gate", site=site)
    assert done.returncode == 0, done.stderr
    run_dir = project / Path(done.stdout.strip().splitlines()[-1]).parent
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["models"]["loud"]["metrics"]["shout_rate"]["value"] == 1.0
    assert doc["models"]["quiet"]["metrics"]["shout_rate"]["value"] == 0.0
    assert doc["models"]["loud"]["metrics"]["prompt_tokens_mean"]["value"] == 4.0  # the plugin's usage counts
    assert "<code>shout_rate</code>" in (run_dir / "report.html").read_text()
    assert "| shout\\_rate ↑ | 0.0% | 100.0%" in (run_dir / "summary.md").read_text()  # Markdown-escaped name
    gate = json.loads((run_dir / "gate.json").read_text())
    assert gate["verdict"] == "PASSED" and [r["status"] for r in gate["rules"]] == ["pass"] * 3, gate
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "complete"  # closing the provider (the base's default aclose) went fine

    (project / "strict.yaml").write_text("- quiet.shout_rate >= 0.5\n", encoding="utf-8")
    failed = evalkit(project, "gate", str(run_dir), "--rules", "strict.yaml", site=site)
    assert failed.returncode == 1 and "quiet.shout_rate" in failed.stdout + failed.stderr


def test_without_the_plugin_the_names_are_unknown(project: Path) -> None:
    done = evalkit(project, "run", "suite.yaml", "--models", "quiet,loud", "--quiet", site=None)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown provider 'shout'" in lines[0] and "Known: llamacpp" in lines[0]
