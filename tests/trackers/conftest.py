"""Run directories for the tracker tests."""

from analysis.runmaker import legal_run, news_run  # noqa: F401 - fixtures
