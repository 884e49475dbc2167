"""Shared fixtures of the report tests (the runs themselves are built in report_fixtures.py)."""

from __future__ import annotations

import pytest
from report_fixtures import XSS_ALL, make_run

from evalkit.records import RunResult
from evalkit.report import render_html


@pytest.fixture(scope="session")
def run3() -> RunResult:
    """The three-model run."""
    return make_run()


@pytest.fixture(scope="session")
def hostile_run() -> RunResult:
    """A run whose untrusted text (outputs, inputs, a model name, judge text, metadata) is hostile markup."""
    return make_run(hostile_model=f"ft {XSS_ALL}")


@pytest.fixture(scope="session")
def hostile_html(hostile_run: RunResult) -> str:
    """The HTML report of the hostile run."""
    return render_html(hostile_run)
