"""Run directories written once per test module by real `evalkit run` calls on the loopback fake server."""

from analysis.runmaker import legal_run, news_run  # noqa: F401 - fixtures
