"""A loopback fake of Mistral's and OpenAI's Files and Batch endpoints (on top of FakeLLMServer's completions).

    with FakeBatchServer(responder=lambda body: "B", fail_ids={"q3#0"}) as server:
        ...  # a `mistral` model with base_url=server.url and --batch
        server.jobs        # the jobs created, with their input lines
        server.chat_calls  # synchronous chat calls (e.g. retries of failed lines)

Endpoints, shaped as the real API answers them (the SDK validates every response against its models):
    POST /v1/files                  multipart upload (`file`, `purpose`), answers a file object
    GET  /v1/files/{id}/content     the file's bytes (application/octet-stream)
    POST /v1/batch/jobs             creates a job over `input_files` (status QUEUED)
    GET  /v1/batch/jobs/{id}        each poll runs up to `lines_per_poll` more lines through the responder;
                                    when all are done the job is SUCCESS with an output file (and an error file
                                    when some lines failed)
    POST /v1/chat/completions       as FakeLLMServer (synchronous calls)

With `protocol="openai"` the same fake speaks OpenAI's batch API instead (as vLLM also serves it):
    POST /v1/files                  multipart upload, answers an OpenAI file object
    POST /v1/batches                creates a batch over `input_file_id` for `endpoint` (status validating)
    GET  /v1/batches/{id}           polls as above; status in_progress, then completed with output_file_id
                                    (and error_file_id); `request_counts` {total, completed, failed}
    GET  /v1/files/{id}/content     the file's bytes
Each input line is `{"custom_id", "method": "POST", "url", "body"}` with the model in the body.

Result lines: `{"id", "custom_id", "response": {"status_code": 200, "body": <completion>}, "error": null}`;
a line whose custom_id is in `fail_ids` goes to the error file with status 500 and an error message; one in
`drop_ids` gets no result line at all.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fakeserver import FakeLLMServer, RecordedRequest, _Handler, _Server

__all__ = ["FakeBatchServer", "FakeJob"]


@dataclass
class FakeJob:
    """One batch job and its progress."""

    id: str
    model: str
    input_file: str
    lines: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    endpoint: str = "/v1/chat/completions"
    done: int = 0
    polls: int = 0
    output_file: str | None = None
    error_file: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.output_file is not None or self.error_file is not None:
            return "SUCCESS"
        return "RUNNING" if self.done else "QUEUED"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "batch", "input_files": [self.input_file], "endpoint": "/v1/chat/completions",
                "model": self.model, "metadata": self.metadata, "errors": [], "status": self.status,
                "created_at": 1_700_000_000, "total_requests": len(self.lines), "completed_requests": self.done,
                "succeeded_requests": len(self.results), "failed_requests": len(self.errors),
                "output_file": self.output_file, "error_file": self.error_file}

    def as_openai(self) -> dict[str, Any]:
        status = "completed" if self.output_file is not None or self.error_file is not None else (
            "in_progress" if self.done else "validating")
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint, "input_file_id": self.input_file,
                "completion_window": "24h", "status": status, "created_at": 1_700_000_000,
                "metadata": self.metadata, "output_file_id": self.output_file, "error_file_id": self.error_file,
                "request_counts": {"total": len(self.lines), "completed": len(self.results),
                                   "failed": len(self.errors)}}


class FakeBatchServer(FakeLLMServer):
    """FakeLLMServer plus the Files and Batch endpoints; a context manager."""

    def __init__(self, *args: Any, fail_ids: Iterable[str] = (), drop_ids: Iterable[str] = (),
                 lines_per_poll: int = 5, protocol: str = "mistral", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert protocol in ("mistral", "openai")
        self.protocol = protocol
        self.fail_ids = set(fail_ids)
        self.drop_ids = set(drop_ids)
        self.lines_per_poll = lines_per_poll
        self.files: dict[str, tuple[str, bytes]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self._batch_lock = threading.RLock()  # _poll stores result files while holding it

    @property
    def chat_calls(self) -> list[RecordedRequest]:
        """The synchronous (chat or text) completion requests received."""
        return [r for r in self.requests if r.path in ("/v1/chat/completions", "/v1/completions")]

    def start(self) -> FakeBatchServer:
        """Serve with the batch-aware handler."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _BatchHandler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="FakeBatchServer", daemon=True)
        self._thread.start()
        return self

    # -- the fake API --------------------------------------------------------------------------------------

    def _upload(self, filename: str, data: bytes, purpose: str) -> dict[str, Any]:
        file_id = str(uuid.uuid4())
        with self._batch_lock:
            self.files[file_id] = (filename, data)
        if self.protocol == "openai":
            return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                    "filename": filename, "purpose": purpose, "status": "processed"}
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "sample_type": "batch_request", "source": "upload",
                "num_lines": data.count(b"\n")}

    def _create_openai_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = body.get("input_file_id")
        if file_id not in self.files or body.get("completion_window") != "24h":
            return 400, {"error": {"message": f"bad batch request {body}", "type": "invalid_request_error"}}
        lines = [json.loads(x) for x in self.files[file_id][1].decode("utf-8").splitlines() if x.strip()]
        if any(line.get("url") != body.get("endpoint") or line.get("method") != "POST" for line in lines):
            return 400, {"error": {"message": "a line's url or method does not match the batch endpoint",
                                   "type": "invalid_request_error"}}
        job = FakeJob(id=f"batch_{uuid.uuid4().hex[:12]}", model="", input_file=file_id, lines=lines,
                      metadata=dict(body.get("metadata") or {}), endpoint=str(body.get("endpoint")))
        with self._batch_lock:
            self.jobs[job.id] = job
        return 200, job.as_openai()

    def _create_job(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        files = body.get("input_files") or []
        if len(files) != 1 or files[0] not in self.files:
            return 404, {"object": "error", "message": f"unknown input files {files}", "type": "not_found"}
        lines = [json.loads(x) for x in self.files[files[0]][1].decode("utf-8").splitlines() if x.strip()]
        job = FakeJob(id=str(uuid.uuid4()), model=str(body.get("model")), input_file=files[0], lines=lines,
                      metadata=dict(body.get("metadata") or {}))
        with self._batch_lock:
            self.jobs[job.id] = job
        return 200, job.as_json()

    def _poll(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"object": "error", "message": f"no job {job_id}", "type": "not_found"}
        with self._batch_lock:
            job.polls += 1
            if job.status != "SUCCESS":
                for line in job.lines[job.done: job.done + self.lines_per_poll]:
                    self._run_line(job, line)
                    job.done += 1
                if job.done == len(job.lines):
                    job.output_file = self._store("output.jsonl", job.results)
                    job.error_file = self._store("errors.jsonl", job.errors) if job.errors else None
        return 200, job.as_openai() if self.protocol == "openai" else job.as_json()

    def _run_line(self, job: FakeJob, line: dict[str, Any]) -> None:
        cid = line["custom_id"]
        if cid in self.drop_ids:
            return
        if cid in self.fail_ids:
            job.errors.append({"id": f"req-{len(job.errors)}", "custom_id": cid,
                               "response": {"status_code": 500, "body": {"message": "fake batch line failure"}},
                               "error": {"message": "fake batch line failure", "code": "500"}})
            return
        if self.protocol == "openai":
            body, path = line["body"], line["url"]
        else:
            body, path = {**line["body"], "model": job.model}, "/v1/chat/completions"
        job.results.append({"id": f"req-{len(job.results)}", "custom_id": cid,
                            "response": {"status_code": 200, "body": self._answer(path, body)},
                            "error": None})

    def _store(self, name: str, rows: list[dict[str, Any]]) -> str:
        data = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
        return self._upload(name, data, "batch")["id"]


class _BatchHandler(_Handler):
    """Routes /v1/files and /v1/batch to the fake; everything else to FakeLLMServer's handler."""

    server: _Server

    def _record_here(self, method: str, body: Any) -> None:
        self.server.fake._record(RecordedRequest(method, self.path.split("?", 1)[0],
                                                 {k.lower(): v for k, v in self.headers.items()}, body, None,
                                                 time.monotonic()))

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        fake: FakeBatchServer = self.server.fake  # type: ignore[assignment]
        path = self.path.split("?", 1)[0]
        self._record_here("GET", None)
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "batches"] and len(parts) == 3:
            self._json(*fake._poll(parts[2]))
            return
        if parts[:3] == ["v1", "batch", "jobs"] and len(parts) == 4:
            self._json(*fake._poll(parts[3]))
            return
        if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content" and parts[2] in fake.files:
            self._send(200, fake.files[parts[2]][1], "application/octet-stream")
            return
        self._json(404, {"object": "error", "message": f"no route GET {path}", "type": "not_found"})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        path = self.path.split("?", 1)[0]
        if path not in ("/v1/files", "/v1/batch/jobs", "/v1/batches"):
            super().do_POST()
            return
        fake: FakeBatchServer = self.server.fake  # type: ignore[assignment]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/v1/files":
            parts = _multipart(self.headers.get("Content-Type", ""), raw)
            self._record_here("POST", {k: v[0] if k == "file" else v[1].decode() for k, v in parts.items()})
            if "file" not in parts:
                self._json(422, {"object": "error", "message": "no file part", "type": "invalid_request_error"})
                return
            filename, data = parts["file"]
            self._json(200, fake._upload(filename or "upload.jsonl", data, parts.get("purpose", ("", b"batch"))[1]
                                         .decode()))
            return
        body = json.loads(raw or b"{}")
        self._record_here("POST", body)
        status, payload = fake._create_openai_batch(body) if path == "/v1/batches" else fake._create_job(body)
        self._json(status, payload)


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out
