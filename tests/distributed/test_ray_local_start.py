"""`evalkit run ... --ray` without an address: the run starts a local Ray cluster of its own, makes its calls
(the judge's too) there, and leaves no Ray process behind when it ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakeserver import FakeLLMServer

from distributed.ray_cluster import auth_env, auth_token_file
from distributed.test_ray_judged_run import ITEMS, project, responder


def ray_processes(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of live processes that mention `marker` (this run's Ray temp dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd:
                found.append((int(entry.name), cmd[:200]))
    return found


def test_ray_without_an_address_starts_and_stops_a_local_cluster(api_key, tmp_path):
    ray_tmp = Path(tempfile.mkdtemp(prefix="ekray-local-", dir="/tmp"))
    try:
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        # The local cluster advertises 127.0.0.1 (not the machine's address) and uses a token of its own.
        env.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_TMPDIR": str(ray_tmp), "RAY_USAGE_STATS_ENABLED": "0",
                    **auth_env(auth_token_file(ray_tmp))})
        with FakeLLMServer(responder=responder) as server:
            suite, config = project(tmp_path, server)
            done = subprocess.run([sys.executable, "-m", "evalkit.cli", "run", str(suite), "--models", "a,b",
                                   "--config", str(config), "--quiet", "--out", str(tmp_path / "reports"),
                                   "--cache-dir", str(tmp_path / "cache"), "--ray"],
                                  env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
            assert done.returncode == 0, done.stderr[-3000:]
            assert f"a: {ITEMS} calls, 0 cached" in done.stderr and f"judge:judge: {2 * ITEMS} calls" in done.stderr
            assert server.call_count == 4 * ITEMS
        assert any(ray_tmp.glob("ray/session_*")), "the run did not start a Ray cluster of its own"
        deadline = time.monotonic() + 30
        while ray_processes(str(ray_tmp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ray_processes(str(ray_tmp)) == []  # the cluster the run started ended with it
    finally:
        for pid, _ in ray_processes(str(ray_tmp)):  # only when an assertion above failed: leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_tmp, ignore_errors=True)
