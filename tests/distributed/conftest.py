"""A real two-node Ray cluster for the tests of evalkit.distributed, started once per test session.

A head and a second raylet joined to it, one CPU each, on loopback addresses (see ray_cluster.py). The cluster's
processes get their own API key value in EVALKIT_TEST_API_KEY, different from the driver's, so a test can tell
which one a worker used: secrets never travel, each worker reads its own environment.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributed.ray_cluster import LocalRayCluster, auth_env, auth_token_file

# Before Ray is imported (it reads the auth mode then): this session's drivers use its own cluster's token.
_AUTH_DIR = Path(tempfile.mkdtemp(prefix="ekray-auth-", dir="/tmp"))
atexit.register(shutil.rmtree, _AUTH_DIR, True)
_TOKEN = auth_token_file(_AUTH_DIR)
os.environ.update(auth_env(_TOKEN))
os.environ.pop("RAY_ADDRESS", None)

pytest.importorskip("ray", reason="the `ray` extra is not installed (make test installs it)")

CLUSTER_KEY = "sk-cluster-side-key-0000"
"""The API key value the cluster's workers see (the driver's is tests/conftest.py's FAKE_KEY)."""


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalRayCluster]:
    """Head + one more raylet, the test process connected as the driver; stopped even when tests fail."""
    import ray

    cluster = LocalRayCluster(env={"EVALKIT_TEST_API_KEY": CLUSTER_KEY}, token_path=_TOKEN)
    try:
        cluster.start_head()
        cluster.add_node()
        ray.init(address=cluster.address, namespace="evalkit-tests", log_to_driver=False,
                 configure_logging=False)
        cluster.wait_for_nodes(2)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
