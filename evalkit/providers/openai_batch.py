"""OpenAI's batch files API as the `openai` provider's batch ability (the flow is in evalkit.providers.batch).

Verbs, through the official `openai` SDK client of the model's provider (vLLM serves the same API):
`files.create(purpose="batch")`, `batches.create(input_file_id=..., endpoint=..., completion_window="24h")`,
`batches.retrieve`, `files.content`. Each line is `{"custom_id", "method": "POST", "url", "body"}`, the body
exactly the synchronous call's (model included, as the API requires). One batch has one endpoint, so a model's
requests must all be chat prompts or all be text prompts (a run's prompt profile gives one style per model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evalkit.errors import ProviderError
from evalkit.providers.batch import BatchAPI, BatchJob, result_body
from evalkit.records import ProviderResponse, Request

if TYPE_CHECKING:
    from evalkit.providers.openai_compat import OpenAIProvider

__all__ = ["COMPLETION_WINDOW", "OpenAIBatch"]

COMPLETION_WINDOW = "24h"
"""The only window the batch API accepts."""
_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


class OpenAIBatch(BatchAPI):
    """Batch jobs for one `openai` model."""

    vendor = "OpenAI"

    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider
        self.client = provider.client
        self._path: str | None = None
        """The endpoint of this batch's lines (`/chat/completions` or `/completions`), set by the first line."""

    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        """`{"custom_id", "method", "url", "body"}` with the synchronous call's body."""
        path, body = self.provider.request_body(request)
        if self._path is None:
            self._path = path
        elif path != self._path:
            raise ProviderError(f"an OpenAI batch serves one endpoint; this model's requests mix {self._path} "
                                f"and {path} (chat and text prompts)", retryable=False)
        return {"custom_id": custom_id, "method": "POST", "url": f"/v1{path}", "body": body}

    async def upload(self, payload: bytes, file_name: str) -> str:
        """`files.create(purpose="batch")`."""
        uploaded = await self.client.files.create(file=(file_name, payload, "application/jsonl"), purpose="batch")
        return str(uploaded.id)

    async def create(self, file_id: str, metadata: Mapping[str, str]) -> BatchJob:
        """`batches.create` over the uploaded file, for the endpoint its lines name."""
        endpoint = f"/v1{self._path or '/chat/completions'}"
        batch = await self.client.batches.create(input_file_id=file_id, endpoint=endpoint,
                                                 completion_window=COMPLETION_WINDOW, metadata=dict(metadata))
        return _job(batch)

    async def get(self, job_id: str) -> BatchJob:
        """`batches.retrieve`."""
        return _job(await self.client.batches.retrieve(job_id))

    async def download(self, file_id: str) -> str:
        """`files.content`, as text."""
        return (await self.client.files.content(file_id)).text

    def parse_line(self, obj: Mapping[str, Any]) -> tuple[str, ProviderResponse | str]:
        """`{"custom_id", "response": {"status_code", "body"}, "error"}` -> the answer or why it failed."""
        cid, body = result_body(obj)
        if isinstance(body, str):
            return cid, body
        try:
            # The result body says which endpoint answered: chat completions carry messages, text ones `text`.
            return cid, self.provider.parse_body(body, chat=body.get("object") != "text_completion")
        except Exception as exc:  # noqa: BLE001 - a malformed line fails that line, not the run
            return cid, f"malformed result: {exc}"

    def classify(self, exc: Exception) -> ProviderError:
        """The provider's own error classification."""
        return self.provider.classify(exc)


def _job(batch: Any) -> BatchJob:
    status = str(batch.status)
    counts = batch.request_counts
    return BatchJob(id=str(batch.id), status=status, done=status in _ENDED,
                    completed=int((counts.completed + counts.failed) if counts is not None else 0),
                    total=int(counts.total if counts is not None else 0),
                    output_file=batch.output_file_id or None, error_file=batch.error_file_id or None,
                    usable=not (status in ("failed", "expired", "cancelled") and not batch.output_file_id))
