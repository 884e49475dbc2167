"""A driver on the Ray client (`ray://HOST:PORT`, the address a KubeRay head service exposes on 10001): the
executor works through it, in a separate driver process, with the cluster's token from its environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

pytest.importorskip("grpc", reason="ray:// addresses need the ray[client] extra (grpcio)")

HERE = Path(__file__).resolve().parent


def test_a_driver_on_the_ray_client_gets_every_answer(ray_cluster, api_key):
    with FakeLLMServer() as server:
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
        address = f"ray://{ray_cluster.address.split(':')[0]}:{ray_cluster.client_port}"
        done = subprocess.run([sys.executable, str(HERE / "client_driver.py"), address, f"{server.url}/v1", "7"],
                              env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["outputs"] == {f"c{i}": f"echo: client {i}" for i in range(7)}
        assert result["calls"] == 7 == server.call_count and result["cached"] == 7
        assert result["connected"].startswith("ray://") and result["nodes"]
