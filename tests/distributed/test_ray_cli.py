"""`evalkit run ... --ray ADDRESS` end to end: the news suite offline on the test's two-node cluster gives the
results of the same command without --ray, a cached rerun makes no call, and a bad [ray] table is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_errors import user_error

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

LIMIT = 3


def evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # the auth token variables stay
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def results(out: Path) -> list[dict]:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_news_with_ray_equals_news_without_and_reruns_from_the_cache(ray_cluster, tmp_path):
    common = ["run", "news", "--models", "base,ft", "--limit", str(LIMIT), "--quiet"]
    plain = evalkit(*common, "--out", "plain", "--cache-dir", "cache-plain", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    first = evalkit(*common, "--out", "ray1", "--cache-dir", "cache-ray", "--ray", ray_cluster.address, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"base: {LIMIT} calls, 0 cached" in first.stderr and f"ft: {LIMIT} calls, 0 cached" in first.stderr
    assert results(tmp_path / "ray1") == results(tmp_path / "plain")
    again = evalkit(*common, "--out", "ray2", "--cache-dir", "cache-ray", "--ray", ray_cluster.address, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"base: 0 calls, {LIMIT} cached" in again.stderr and f"ft: 0 calls, {LIMIT} cached" in again.stderr
    assert results(tmp_path / "ray2") == results(tmp_path / "plain")


def test_a_bad_ray_table_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "evalkit.toml").write_text("[ray]\nshard_sise = 100\n")
    monkeypatch.chdir(tmp_path)
    line = user_error(["run", "news", "--models", "base", "--limit", "1", "--ray"], capsys)
    assert "ray.shard_sise: unknown field" in line and "Did you mean: shard_size?" in line
    assert not (tmp_path / "reports").exists()  # rejected before any run folder
