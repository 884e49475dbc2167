"""Vendor batch APIs for large runs: one batch job per model instead of one synchronous call per sample.

The flow is the same for every vendor that offers one (Mistral's Batch API, OpenAI's batch files, which vLLM
also serves); a provider declares the ability by returning a `BatchAPI` from `Provider.batch_api()`, and only
the vendor's verbs differ:

1. the requests not yet in the response cache are written as JSONL lines (`BatchAPI.line`: the synchronous
   call's body, under a `custom_id`) and uploaded (`upload`);
2. a job is created over that file (`create`); its id is remembered in the cache folder, so an interrupted run
   polls the same job again instead of paying twice;
3. the job is polled (`get`) until it ends, reporting completed/total to a progress callback;
4. the output and error files are downloaded (`download`), every line is mapped back to its request by
   `custom_id` (`parse_line`), and each successful answer is written to the response cache under the
   synchronous call's key.

The runner then serves the run from the cache, so batch answers land in the same store and cache as
synchronous ones and a re-run makes no call at all. Failed lines (an error status, or no result line) are not
cached: the runner retries them synchronously, with the usual retries, and the run notes count them. A batch
answer has no per-call latency: its `latency_s` is None (unknown), never a made-up number.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from evalkit.cache import ResponseCache
from evalkit.errors import ConfigError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request

__all__ = ["BatchAPI", "BatchJob", "BatchOutcome", "Progress", "custom_id", "result_body", "run_batch"]

Progress = Callable[[int, int, str], None]
"""Called after each poll with (completed requests, total requests, job status)."""

_POLL_INTERVAL_S = 10.0


@dataclass(frozen=True)
class BatchJob:
    """A batch job's state as the vendor reports it, in vendor-neutral terms."""

    id: str
    status: str
    """The vendor's status word, as shown in notes (`SUCCESS`, `completed`, ...)."""
    done: bool
    """True once the job will not change any more (finished, failed, expired or cancelled)."""
    completed: int = 0
    total: int = 0
    output_file: str | None = None
    error_file: str | None = None
    usable: bool = True
    """False for an ended job that produced nothing to download (it failed before running any line)."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch job did for one model."""

    vendor: str
    job_id: str | None
    """None when every request was already cached (no job was needed)."""
    status: str
    submitted: int
    """Distinct requests sent in the job."""
    answered: frozenset[str]
    """Cache keys answered by this job (now in the cache)."""
    failed: tuple[tuple[str, str], ...]
    """(custom_id, reason) of the lines that failed or came back without a result."""
    resumed: bool = False
    """True when the job was created by an earlier, interrupted run."""

    def note(self, model: str) -> str:
        """One line for the run's notes."""
        if self.job_id is None:
            return f"{model}: --batch: every request was already cached, no batch job was needed"
        failed = (f"; {len(self.failed)} failed line(s) retried synchronously (e.g. {self.failed[0][0]}: "
                  f"{self.failed[0][1]})" if self.failed else "")
        resumed = " (resumed from an interrupted run)" if self.resumed else ""
        return (f"{model}: {self.submitted} request(s) sent through {self.vendor} batch job {self.job_id}{resumed}, "
                f"status {self.status}, {len(self.answered)} answered{failed}; batch answers have no per-call "
                f"latency (shown as unknown)")


class BatchAPI(ABC):
    """One vendor's batch verbs, bound to one model's provider (its SDK client, key and request mapping)."""

    vendor: ClassVar[str]
    """The vendor's name in notes (`Mistral`, `OpenAI`)."""
    poll_interval_s: float = _POLL_INTERVAL_S
    """Seconds between two status polls (tests shorten it)."""

    @abstractmethod
    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        """The JSONL line asking for `request`: the very body a synchronous call sends, under `custom_id`."""

    @abstractmethod
    async def upload(self, payload: bytes, file_name: str) -> str:
        """Upload the request file; returns its file id."""

    @abstractmethod
    async def create(self, file_id: str, metadata: Mapping[str, str]) -> BatchJob:
        """Create a job over an uploaded request file."""

    @abstractmethod
    async def get(self, job_id: str) -> BatchJob:
        """The job's current state."""

    @abstractmethod
    async def download(self, file_id: str) -> str:
        """A result file's text."""

    @abstractmethod
    def parse_line(self, obj: Mapping[str, Any]) -> tuple[str, ProviderResponse | str]:
        """(custom_id, the answer or the reason the line failed) of one result-file line."""

    @abstractmethod
    def classify(self, exc: Exception) -> ProviderError:
        """An SDK or transport failure as a ProviderError."""


def custom_id(request: Request) -> str:
    """A readable, unique line id: `<sample id>#<attempt>` (hashed when it would be long)."""
    text = f"{request.sample_id}#{request.attempt}"
    return text if len(text) <= 64 and text.isprintable() else hashlib.sha256(text.encode()).hexdigest()[:32]


def result_body(obj: Mapping[str, Any]) -> tuple[str, dict[str, Any] | str]:
    """(custom_id, the answer's body or why the line failed) of a result line shaped as both Mistral and OpenAI
    write them: `{"custom_id", "response": {"status_code", "body"}, "error"}`."""
    cid = str(obj.get("custom_id", ""))
    response = obj.get("response") or {}
    status = response.get("status_code")
    error = obj.get("error")
    body = response.get("body")
    if not error and not (isinstance(status, int) and status >= 400) and isinstance(body, dict):
        return cid, body
    message = error.get("message") if isinstance(error, dict) else error
    if not message and isinstance(body, dict):
        inner = body.get("error")
        message = ((inner.get("message") if isinstance(inner, dict) else None) or body.get("message")
                   or body.get("detail"))
    return cid, f"HTTP {status}: {message}" if status else str(message or "no response body")


def _parse_file(api: BatchAPI, text: str) -> tuple[dict[str, ProviderResponse], dict[str, str]]:
    answers: dict[str, ProviderResponse] = {}
    failures: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"{api.vendor} batch result line {lineno} is not JSON ({exc.msg})",
                                retryable=False) from None
        cid, result = api.parse_line(obj if isinstance(obj, dict) else {})
        if isinstance(result, str):
            failures[cid] = result
        else:
            answers[cid] = result
    return answers, failures


def _state_path(cache: ResponseCache, spec: ModelSpec, keys: Sequence[str]) -> Path:
    digest = hashlib.sha256(json.dumps([spec.model, spec.base_url, sorted(keys)]).encode()).hexdigest()[:24]
    return cache.path.parent / "batches" / f"{digest}.json"


async def run_batch(api: BatchAPI, spec: ModelSpec, requests: Sequence[tuple[str, Request]],
                    cache: ResponseCache | None, *, progress: Progress | None = None) -> BatchOutcome:
    """Answer the uncached `(cache key, request)` pairs of one model with one batch job; answers go to `cache`."""
    if cache is None:
        raise ConfigError("--batch needs the response cache (batch answers reach the run through it): drop "
                          "--no-cache")
    by_key: dict[str, Request] = {}
    for key, r in requests:
        if key not in by_key and cache.get(key) is None:
            by_key[key] = r
    if not by_key:
        return BatchOutcome(vendor=api.vendor, job_id=None, status="CACHED", submitted=0, answered=frozenset(),
                            failed=())
    keys = list(by_key)
    ids = {custom_id(by_key[k]): k for k in keys}
    if len(ids) != len(keys):  # two distinct prompts for one sample and attempt: fall back to positional ids
        ids = {f"r{i}": k for i, k in enumerate(keys)}
    reqs = {cid: by_key[k] for cid, k in ids.items()}
    state = _state_path(cache, spec, keys)
    job, resumed = None, False
    try:
        if state.is_file():
            saved = json.loads(state.read_text(encoding="utf-8"))
            job = await api.get(saved["job_id"])
            resumed = True
            if job.done and not job.usable:
                job, resumed = None, False
        if job is None:
            payload = "".join(json.dumps(api.line(cid, r), ensure_ascii=False) + "\n"
                              for cid, r in reqs.items()).encode("utf-8")
            file_id = await api.upload(payload, f"evalkit-{spec.name}.jsonl")
            job = await api.create(file_id, {"source": "evalkit", "model_name": spec.name})
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"job_id": job.id, "model": spec.model, "requests": len(reqs)}),
                             encoding="utf-8")
        while True:
            if progress is not None:
                progress(job.completed, job.total or len(reqs), job.status)
            if job.done:
                break
            await asyncio.sleep(api.poll_interval_s)
            job = await api.get(job.id)
        answers: dict[str, ProviderResponse] = {}
        failures: dict[str, str] = {}
        for file_id in (job.output_file, job.error_file):
            if file_id:
                got, bad = _parse_file(api, await api.download(file_id))
                answers.update(got)
                failures.update(bad)
    except (ConfigError, ProviderError):
        raise
    except Exception as exc:  # noqa: BLE001 - SDK and transport errors become one classified error
        raise api.classify(exc) from exc
    answered = set()
    for cid, response in answers.items():
        key = ids.get(cid)
        if key is not None:
            cache.put(key, response, None)
            answered.add(key)
    missing = [cid for cid in reqs if ids[cid] not in answered and cid not in failures]
    reason = f"no result line (job {job.status})"
    failed = tuple(sorted({**{c: failures[c] for c in failures if c in reqs}, **{c: reason for c in missing}}.items()))
    state.unlink(missing_ok=True)
    return BatchOutcome(vendor=api.vendor, job_id=job.id, status=job.status, submitted=len(reqs),
                        answered=frozenset(answered), failed=failed, resumed=resumed)
