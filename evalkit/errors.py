"""The exceptions evalkit raises. Each carries a message that names the file, line or field at fault."""

from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\s*\n\s*")


class EvalkitError(Exception):
    """Base for every error evalkit reports to a user (the CLI prints it and exits 2).

    The message is always one line: the CLI promises exactly one error line per problem, so a message built
    from multi-line text (a library's error, a quoted data line) is joined here, at the one place all pass.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(_LINE_BREAK.sub(" ", str(message)).strip(), *args)


class ConfigError(EvalkitError):
    """A project config, suite file or command-line option is wrong."""


class DataError(EvalkitError):
    """A data file is malformed (names the file and line)."""


class ProviderError(EvalkitError):
    """A model call failed.

    `retryable` says whether the wrapper may try again (429, 5xx, timeouts, dropped connections, malformed
    bodies); `retry_after` is the server's Retry-After hint in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class MissingDependencyError(EvalkitError):
    """An optional package a provider or task needs is not installed."""

    def __init__(self, package: str, purpose: str, extra: str | None = None) -> None:
        hint = f"pip install 'evalkit[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{purpose} needs the package '{package}', which is not installed. Install it with: {hint}")
        self.package = package
