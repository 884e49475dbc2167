"""A real local Ray cluster for the tests: a head and extra raylets started with `ray start`, on 127.0.0.x.

Every node is its own `ray start` process group (start_new_session), so teardown ends exactly the processes
this cluster started, by their group ids, even when a test failed: never `ray stop`, which stops every Ray
process on the machine. Kept small for a shared 2-core machine: one CPU per node, a 80 MB object store, no
dashboard, no usage stats, a temp dir of its own.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE_BYTES = 80 * 1024 * 1024
START_TIMEOUT_S = 180
HEAD_IP = "127.0.0.2"
"""Nodes get loopback addresses of their own, 127.0.0.2, .3, ...: Ray turns 127.0.0.1 into the machine's
network address (to be reachable from other hosts), and every test stays on the loopback range."""


def auth_token_file(directory: Path) -> Path:
    """A new random Ray auth token in `directory`.

    The cluster runs with token authentication, as Ray does for a cluster it starts, but with a token of its
    own, never the user's ~/.ray/auth_token. Ray reads the mode when it is imported: a driver process must have
    auth_env() in its environment before `import ray`.
    """
    path = directory / "auth_token"
    path.write_text(secrets.token_hex(32))
    return path


def auth_env(token_path: Path) -> dict[str, str]:
    """The environment that makes a Ray process use the token in `token_path`."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_path)}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalRayCluster:
    """Start with `start_head()`, add raylets with `add_node()`, always `stop()` (a context manager does)."""

    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the cluster's processes (what a user sets on the cluster's nodes)."""
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ekray-", dir="/tmp")))
    address: str = ""
    client_port: int = 0
    groups: list[int] = field(default_factory=list)
    """Process group ids of the `ray start` processes (each node's daemons belong to one)."""

    token_path: Path | None = None
    """The cluster's auth token file (default: a new one in `root`); see auth_env()."""

    def __post_init__(self) -> None:
        if self.token_path is None:
            self.token_path = auth_token_file(self.root)

    def driver_env(self) -> dict[str, str]:
        """What a driver process needs in its environment to join this cluster (its auth token)."""
        assert self.token_path is not None
        return auth_env(self.token_path)

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0",
               "RAY_BACKEND_LOG_LEVEL": "warning", **self.driver_env(), **self.env}
        env.pop("RAY_ADDRESS", None)
        return env

    def _start(self, args: list[str], name: str, ip: str) -> None:
        ports = [f"--node-ip-address={ip}", f"--node-manager-port={free_port()}",
                 f"--object-manager-port={free_port()}", f"--metrics-export-port={free_port()}",
                 f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                 f"--runtime-env-agent-port={free_port()}"]
        log = self.root / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen([str(RAY), "start", *args, *ports, "--num-cpus=1", "--num-gpus=0",
                                     f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats"],
                                    env=self._env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.groups.append(proc.pid)
        try:
            code = proc.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            raise RuntimeError(f"ray start ({name}) failed with {code}: {log.read_text()[-3000:]}")

    def start_head(self) -> str:
        """Start the head node; returns its GCS address `127.0.0.2:PORT`."""
        port = free_port()
        client = []
        if importlib.util.find_spec("grpc") is not None:  # the Ray client server needs ray[client] (grpcio)
            self.client_port = free_port()
            client = [f"--ray-client-server-port={self.client_port}"]
        self._start(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={self.root / 't'}",
                     *client], "head", HEAD_IP)
        self.address = f"{HEAD_IP}:{port}"
        return self.address

    def add_node(self) -> None:
        """Join one more raylet (one CPU) to the head."""
        n = len(self.groups)
        self._start([f"--address={self.address}"], f"node{n}", f"127.0.0.{2 + n}")

    def wait_for_nodes(self, n: int, timeout_s: float = 120) -> None:
        """Wait until the connected driver sees `n` alive nodes."""
        import ray

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sum(1 for node in ray.nodes() if node["Alive"]) >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the cluster has fewer than {n} alive nodes after {timeout_s} s: {ray.nodes()}")

    def processes(self) -> list[int]:
        """Pids of every live process in this cluster's process groups."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) in self.groups:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
        return pids

    def stop(self) -> None:
        """End every process of this cluster (TERM, then KILL what is left), by process group id."""
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 30.0)):
            for group in self.groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait_s
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not self.processes():
                break
        self.groups.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
