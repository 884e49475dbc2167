"""Mistral's Batch API as the `mistral` provider's batch ability (the flow is in evalkit.providers.batch).

Verbs, through the official `mistralai` SDK client of the model's provider: `files.upload(purpose="batch")`,
`batch.jobs.create(endpoint="/v1/chat/completions", model=..., input_files=[...])`, `batch.jobs.get`,
`files.download`. Each line is `{"custom_id", "body"}`, the body exactly the synchronous call's without
`model` (the job names it).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evalkit.errors import ProviderError
from evalkit.providers.batch import BatchAPI, BatchJob, result_body
from evalkit.records import ProviderResponse, Request

if TYPE_CHECKING:
    from evalkit.providers.mistral import MistralProvider

__all__ = ["ENDPOINT", "MistralBatch"]

ENDPOINT = "/v1/chat/completions"
_ENDED = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})
_FAILED = frozenset({"FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})


class MistralBatch(BatchAPI):
    """Batch jobs for one `mistral` model."""

    vendor = "Mistral"

    def __init__(self, provider: MistralProvider) -> None:
        self.provider = provider
        self.client = provider.client

    def line(self, custom_id: str, request: Request) -> dict[str, Any]:
        """`{"custom_id", "body"}` with the synchronous call's body, without `model`."""
        body = dict(self.provider.request_kwargs(request))
        body.pop("model", None)
        fmt = body.get("response_format")
        if fmt is not None and hasattr(fmt, "model_dump"):  # an SDK model, as the synchronous call passes it
            body["response_format"] = fmt.model_dump(by_alias=True, mode="json")
        return {"custom_id": custom_id, "body": body}

    async def upload(self, payload: bytes, file_name: str) -> str:
        """`files.upload(purpose="batch")`."""
        uploaded = await self.client.files.upload_async(file={"file_name": file_name, "content": io.BytesIO(payload)},
                                                        purpose="batch")
        return str(uploaded.id)

    async def create(self, file_id: str, metadata: Mapping[str, str]) -> BatchJob:
        """`batch.jobs.create` over the uploaded file, for this model."""
        job = await self.client.batch.jobs.create_async(input_files=[file_id], endpoint=ENDPOINT,
                                                        model=self.provider.spec.model, metadata=dict(metadata))
        return _job(job)

    async def get(self, job_id: str) -> BatchJob:
        """`batch.jobs.get`."""
        return _job(await self.client.batch.jobs.get_async(job_id=job_id))

    async def download(self, file_id: str) -> str:
        """`files.download`, as text."""
        response = await self.client.files.download_async(file_id=file_id)
        return (await response.aread()).decode("utf-8")

    def parse_line(self, obj: Mapping[str, Any]) -> tuple[str, ProviderResponse | str]:
        """`{"custom_id", "response": {"status_code", "body"}, "error"}` -> the answer or why it failed."""
        from mistralai.client import models

        cid, body = result_body(obj)
        if isinstance(body, str):
            return cid, body
        try:
            return cid, self.provider.parse_response(models.ChatCompletionResponse.model_validate(body))
        except Exception as exc:  # noqa: BLE001 - a malformed line fails that line, not the run
            return cid, f"malformed result: {exc}"

    def classify(self, exc: Exception) -> ProviderError:
        """The provider's own error classification."""
        return self.provider.classify(exc)


def _job(job: Any) -> BatchJob:
    status = str(job.status)
    return BatchJob(id=str(job.id), status=status, done=status in _ENDED,
                    completed=int(job.completed_requests or 0), total=int(job.total_requests or 0),
                    output_file=job.output_file or None, error_file=job.error_file or None,
                    usable=not (status in _FAILED and not job.output_file))
