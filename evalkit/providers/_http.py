"""Failure classification shared by the HTTP providers: which responses may be retried, and after how long.

No vendor SDK is imported here; each provider translates its SDK's exceptions into these calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from evalkit.errors import ProviderError
from evalkit.model_spec import ModelSpec

__all__ = ["CONNECTIONS_PER_CLIENT", "client_count", "connection_error", "is_retryable_status", "label",
           "malformed_error", "parse_retry_after", "redact", "status_error", "timeout_error"]

_EXCERPT = 300

CONNECTIONS_PER_CLIENT = 8
"""Calls in flight per HTTP client. httpcore's connection pool (1.0.x, under httpx and both vendor SDKs) does
O(connections^2) work whenever a request starts or ends: one client with 64 calls in flight spent ~10 ms of CPU
per call (benchmarks/perf), more than a core can give at 320 calls/s; clients of 8 connections spend ~1.7 ms."""


def client_count(concurrency: int) -> int:
    """How many HTTP clients a provider spreads `concurrency` calls in flight over (see CONNECTIONS_PER_CLIENT)."""
    return max(1, -(-concurrency // CONNECTIONS_PER_CLIENT))


def label(spec: ModelSpec) -> str:
    """How messages name a model: its `--models` name and its provider id."""
    return f"model '{spec.name}' ({spec.model})"


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` masked, so an echoed key never reaches a log or record."""
    if secret:
        text = text.replace(secret, "***")
    return text


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed later; every other 4xx is the request's fault and will fail again."""
    return status == 429 or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (delta-seconds or an HTTP-date); None if absent."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return max(0.0, value) if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def status_error(spec: ModelSpec, vendor: str, status: int, headers: Mapping[str, str] | None, body: str | None,
                 secret: str | None) -> ProviderError:
    """A ProviderError for an HTTP error status, retryable for 429/5xx, with the server's Retry-After hint."""
    retryable = is_retryable_status(status)
    # Redact before cutting: an excerpt that ends inside the key would keep its first characters.
    detail = f": {_excerpt(redact(body, secret))}" if body else ""
    kind = "rate limited" if status == 429 else ("server error" if status >= 500 else "request rejected")
    message = f"{label(spec)}: {vendor} API {kind}, HTTP {status}{detail}"
    return ProviderError(redact(message, secret), retryable=retryable, status=status,
                         retry_after=parse_retry_after(headers) if retryable else None)


def timeout_error(spec: ModelSpec, vendor: str, exc: BaseException) -> ProviderError:
    """A retryable ProviderError for a call that took longer than the client's timeout."""
    return ProviderError(f"{label(spec)}: {vendor} API call timed out after {spec.timeout_s:g}s "
                         f"({type(exc).__name__})", retryable=True)


def connection_error(spec: ModelSpec, vendor: str, exc: BaseException, secret: str | None) -> ProviderError:
    """A retryable ProviderError for a refused or dropped connection or an HTTP protocol error."""
    detail = _excerpt(redact(str(exc), secret))
    message = f"{label(spec)}: {vendor} API connection failed ({type(exc).__name__}: {detail})"
    return ProviderError(redact(message, secret), retryable=True)


def malformed_error(spec: ModelSpec, vendor: str, detail: str, secret: str | None,
                    status: int | None = None) -> ProviderError:
    """A retryable ProviderError for a response body that is not the JSON the protocol promises."""
    message = f"{label(spec)}: {vendor} API returned a malformed response: {_excerpt(redact(detail, secret))}"
    return ProviderError(redact(message, secret), retryable=True, status=status)


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."
