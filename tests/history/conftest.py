"""Two runs of the news-like suite for the history tests: A = base + ft (one adapter), B = base + ft pointing
at another adapter (`ft-model-v2`, with other metadata), both written by `evalkit run` into one folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from analysis.runmaker import (  # noqa: F401
    legal_run,
    news_responder,
    news_run,
    run_cli,
    write_news_project,
)
from fakeserver import FakeLLMServer


@dataclass(frozen=True)
class TwoRuns:
    reports: Path
    a: Path
    b: Path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRuns]:
    root = tmp_path_factory.mktemp("history")
    with pytest.MonkeyPatch.context() as mp, FakeLLMServer(responder=news_responder) as server:
        mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
        write_news_project(root / "week1", server.url)
        a = run_cli(root / "week1" / "suite.yaml", "base,ft", out=root / "reports")
        write_news_project(root / "week2", server.url, ft_model="ft-model-v2",
                           ft_metadata="{learning_rate = 0.0001, step = 200}")
        b = run_cli(root / "week2" / "suite.yaml", "base,ft", out=root / "reports")
        yield TwoRuns(reports=root / "reports", a=a, b=b)
