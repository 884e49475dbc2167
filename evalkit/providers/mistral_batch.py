"""Mistral's Batch API for large runs: one batch job per model instead of one synchronous call per sample.

Flow (`--batch`, models of provider `mistral`), through the official `mistralai` SDK of the model's provider:

1. the requests not yet in the response cache are written as JSONL lines `{"custom_id", "body"}` (the body is
   exactly the synchronous call's, model given at job level) and uploaded with `files.upload(purpose="batch")`;
2. a job is created with `batch.jobs.create(endpoint="/v1/chat/completions", model=..., input_files=[...])`;
   its id is remembered in the cache folder, so an interrupted run polls the same job again instead of
   paying twice;
3. the job is polled (`batch.jobs.get`) until it ends, reporting completed/total to a progress callback;
4. the output and error files are downloaded (`files.download`), every line is mapped back to its request by
   `custom_id`, and each successful answer is written to the response cache under the synchronous call's key.

The runner then serves the run from the cache, so batch answers land in the same store and cache as
synchronous ones and a re-run makes no call at all. Failed lines (an error status, or no result line) are not
cached: the runner retries them synchronously, with the usual retries, and the run notes count them. A batch
answer has no per-call latency: its `latency_s` is None (unknown), never a made-up number.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.cache import ResponseCache, cache_key
from evalkit.errors import ConfigError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request

__all__ = ["ENDPOINT", "POLL_INTERVAL_S", "BatchOutcome", "build_lines", "parse_result_lines", "run_batch"]

ENDPOINT = "/v1/chat/completions"
POLL_INTERVAL_S = 10.0
"""Seconds between two status polls (tests shorten it)."""
TERMINAL = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})

Progress = Callable[[int, int, str], None]
"""Called after each poll with (completed requests, total requests, job status)."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch job did for one model."""

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
        return (f"{model}: {self.submitted} request(s) sent through Mistral batch job {self.job_id}{resumed}, "
                f"status {self.status}, {len(self.answered)} answered{failed}; batch answers have no per-call "
                f"latency (shown as unknown)")


def custom_id(request: Request) -> str:
    """A readable, unique line id: `<sample id>#<attempt>` (hashed when it would be long)."""
    text = f"{request.sample_id}#{request.attempt}"
    return text if len(text) <= 64 and text.isprintable() else hashlib.sha256(text.encode()).hexdigest()[:32]


def build_lines(provider: Any, requests: Sequence[Request]) -> list[dict[str, Any]]:
    """The JSONL lines for `requests`: the synchronous call's body without `model` (the job names it)."""
    lines = []
    for request in requests:
        body = dict(provider._request_kwargs(request))  # the very body a synchronous call sends
        body.pop("model", None)
        fmt = body.get("response_format")
        if fmt is not None and hasattr(fmt, "model_dump"):
            body["response_format"] = fmt.model_dump(by_alias=True, mode="json")
        lines.append({"custom_id": custom_id(request), "body": body})
    return lines


def parse_result_lines(text: str, provider: Any) -> tuple[dict[str, ProviderResponse], dict[str, str]]:
    """Results by custom_id from an output or error file: (answers, failure reasons)."""
    from mistralai.client import models

    answers: dict[str, ProviderResponse] = {}
    failures: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ProviderError(f"Mistral batch result line {lineno} is not JSON ({exc.msg})", retryable=False) \
                from None
        cid = str(obj.get("custom_id", ""))
        response = obj.get("response") or {}
        status = response.get("status_code")
        error = obj.get("error")
        if error or (isinstance(status, int) and status >= 400) or not isinstance(response.get("body"), dict):
            message = error.get("message") if isinstance(error, dict) else error
            if not message and isinstance(response.get("body"), dict):
                message = response["body"].get("message") or response["body"].get("detail")
            failures[cid] = f"HTTP {status}: {message}" if status else str(message or "no response body")
            continue
        try:
            parsed = models.ChatCompletionResponse.model_validate(response["body"])
            answers[cid] = provider._response(parsed)
        except Exception as exc:  # noqa: BLE001 - a malformed line fails that line, not the run
            failures[cid] = f"malformed result: {exc}"
    return answers, failures


def _state_path(cache: ResponseCache, spec: ModelSpec, keys: Sequence[str]) -> Path:
    digest = hashlib.sha256(json.dumps([spec.model, spec.base_url, sorted(keys)]).encode()).hexdigest()[:24]
    return cache.path.parent / "batches" / f"{digest}.json"


async def run_batch(provider: Any, spec: ModelSpec, requests: Sequence[Request], cache: ResponseCache | None, *,
                    progress: Progress | None = None, poll_interval_s: float | None = None) -> BatchOutcome:
    """Answer the uncached `requests` of one `mistral` model with one batch job; answers go to `cache`."""
    if cache is None:
        raise ConfigError("--batch needs the response cache (batch answers reach the run through it): drop "
                          "--no-cache")
    if not hasattr(provider, "_client"):
        raise ConfigError(f"model '{spec.name}': --batch works with provider 'mistral' only (got '{spec.provider}')")
    by_key: dict[str, Request] = {}
    for r in requests:
        key = cache_key(spec, r)
        if key not in by_key and cache.get(key) is None:
            by_key[key] = r
    if not by_key:
        return BatchOutcome(job_id=None, status="CACHED", submitted=0, answered=frozenset(), failed=())
    keys = list(by_key)
    ids = {custom_id(by_key[k]): k for k in keys}
    if len(ids) != len(keys):  # two distinct prompts for one sample and attempt: fall back to positional ids
        ids = {f"r{i}": k for i, k in enumerate(keys)}
    reqs = {cid: by_key[k] for cid, k in ids.items()}
    client = provider._client
    state = _state_path(cache, spec, keys)
    job, resumed = None, False
    try:
        if state.is_file():
            saved = json.loads(state.read_text(encoding="utf-8"))
            job = await client.batch.jobs.get_async(job_id=saved["job_id"])
            resumed = True
            if job.status in ("FAILED", "CANCELLED", "TIMEOUT_EXCEEDED") and not job.output_file:
                job, resumed = None, False
        if job is None:
            lines = build_lines(provider, list(reqs.values()))
            for line, cid in zip(lines, reqs):
                line["custom_id"] = cid
            payload = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode("utf-8")
            uploaded = await client.files.upload_async(
                file={"file_name": f"evalkit-{spec.name}.jsonl", "content": io.BytesIO(payload)}, purpose="batch")
            job = await client.batch.jobs.create_async(input_files=[uploaded.id], endpoint=ENDPOINT, model=spec.model,
                                                       metadata={"source": "evalkit", "model_name": spec.name})
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({"job_id": job.id, "model": spec.model, "requests": len(reqs)}),
                             encoding="utf-8")
        interval = POLL_INTERVAL_S if poll_interval_s is None else poll_interval_s
        while True:
            if progress is not None:
                progress(int(job.completed_requests or 0), int(job.total_requests or len(reqs)), str(job.status))
            if job.status in TERMINAL:
                break
            await asyncio.sleep(interval)
            job = await client.batch.jobs.get_async(job_id=job.id)
        answers: dict[str, ProviderResponse] = {}
        failures: dict[str, str] = {}
        for file_id in (job.output_file, job.error_file):
            if file_id:
                response = await client.files.download_async(file_id=file_id)
                got, bad = parse_result_lines((await response.aread()).decode("utf-8"), provider)
                answers.update(got)
                failures.update(bad)
    except (ConfigError, ProviderError):
        raise
    except Exception as exc:  # noqa: BLE001 - SDK and transport errors become one classified error
        raise provider._classify(exc) from exc
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
    return BatchOutcome(job_id=job.id, status=str(job.status), submitted=len(reqs), answered=frozenset(answered),
                        failed=failed, resumed=resumed)
