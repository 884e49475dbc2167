"""Run directories written once per test module by real `evalkit run` calls on the loopback fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeserver import FakeLLMServer

from analysis.runmaker import legal_responder, news_responder, run_cli, write_legal_project, write_news_project


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
