"""The same workload through a peer harness, inspect-ai, for a ratio (optional: `run.py --peer`).

inspect-ai lives in its own virtual environment so that nothing of it reaches evalkit's; by default
/work/venv-peer (override with $EVALKIT_PEER_VENV), created with:

    python3.11 -m venv /work/venv-peer && /work/venv-peer/bin/pip install inspect-ai openai

It reads the same data.jsonl, sends the same chat prompt to the same server through its `openai-api` provider
with the same concurrency, and scores with `match`. Its wall time is compared with evalkit's whole command.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate, system_message


@task
def perf():
    return Task(dataset=json_dataset("data.jsonl", FieldSpec(input="text", target="label", id="id")),
                solver=[system_message("Answer positive or negative."), generate()], scorer=match())
'''


def peer_venv() -> Path:
    return Path(os.environ.get("EVALKIT_PEER_VENV", "/work/venv-peer"))


def run_peer(work: Path, n: int, concurrency: int, latency: float, server: Callable[..., Any]) -> dict[str, Any] | None:
    """inspect-ai's wall time for `n` samples at `concurrency` against the benchmark server (None if absent)."""
    inspect = peer_venv() / "bin" / "inspect"
    if not inspect.exists():
        return None
    from run import write_project  # benchmarks/perf/run.py

    root = work / f"peer-{n}"
    with server(latency) as srv:
        write_project(root, n, srv.url, concurrency)
        (root / "perf_task.py").write_text(TASK, encoding="utf-8")
        env = {**os.environ, "BENCH_API_KEY": "not-needed", "BENCH_BASE_URL": f"{srv.url}/v1",
               "INSPECT_LOG_DIR": str(root / "logs")}
        before = srv.stats()
        start = time.perf_counter()
        proc = subprocess.run([str(inspect), "eval", "perf_task.py", "--model", "openai-api/bench/bench-model",
                               "--max-connections", str(concurrency), "--max-tokens", "4", "--display", "none",
                               "--no-log-samples"],
                              cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = srv.stats()
    if proc.returncode != 0:
        return {"name": "inspect-ai", "error": proc.stderr[-2000:], "wall_s": float("nan")}
    calls = int(after["requests"]) - int(before["requests"])
    span = after["last_at"] - after["first_at"]
    ideal = n * latency / concurrency
    return {"name": "inspect-ai", "wall_s": wall, "calls": calls, "server_span_s": span,
            "note": f"call phase {span:.1f} s ({span / ideal:.3f} x ideal), {calls} calls"}
