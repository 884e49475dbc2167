"""Fine-tuning job metrics: a Mistral fine-tuning job's checkpoints (train loss, validation loss, validation mean
token accuracy per step), fetched through the `mistralai` SDK, stored as JSON and plotted.

    evalkit finetune-metrics JOB_ID [--out DIR] [--run RUN_DIR]

Stored curves are `DIR/<job_id>.json` (a TrainingCurve record) and `DIR/<job_id>.svg`; DIR defaults to
$EVALKIT_FINETUNE_DIR, else `./finetune-metrics`. A model whose metadata names a `job_id` gets its curve shown
in the run's report, next to its eval results: the runner copies the stored curve into the run directory
(`training/<job_id>.json`), so the run stays self-contained; `--run RUN_DIR` attaches a curve to a finished run
and re-renders its report.

SDK note: mistralai 1.x/2.x exposed `client.fine_tuning.jobs.get_async`; 3.x (the version evalkit requires)
no longer ships the jobs API. The same documented endpoint (GET /v1/fine_tuning/jobs/{job_id}) is then called
through the SDK's own request pipeline (`BaseSDK`: its auth, server URL, timeout, hooks and error types), and
the answer is validated here. Only this module touches the SDK for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.errors import ConfigError, DataError, EvalkitError, MissingDependencyError
from evalkit.records import TrainingCheckpoint, TrainingCurve

__all__ = ["DEFAULT_DIR", "DIR_ENV", "TRAINING_DIR", "attach_training", "curve_from_job", "fetch_curve",
           "finetune_dir", "load_curve", "load_run_training", "save_curve"]

DIR_ENV = "EVALKIT_FINETUNE_DIR"
DEFAULT_DIR = Path("finetune-metrics")
TRAINING_DIR = "training"
"""Folder of a run directory that holds the curves of its models' fine-tuning jobs."""
KEY_ENV = "MISTRAL_API_KEY"
_JOB_PATH = "/v1/fine_tuning/jobs/{job_id}"


def finetune_dir(out: Path | None = None) -> Path:
    """Where curves are stored: `out`, else $EVALKIT_FINETUNE_DIR, else ./finetune-metrics."""
    return out or (Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else DEFAULT_DIR)


# ---------------------------------------------------------------------------------------------------------
# The job record as the API sends it (only what we keep; unknown fields are ignored)


class _Metrics(BaseModel):
    model_config = ConfigDict(extra="ignore")
    train_loss: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class _Checkpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metrics: _Metrics = _Metrics()
    step_number: int
    created_at: int | None = None


class _Job(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    model: str | None = None
    status: str | None = None
    fine_tuned_model: str | None = None
    hyperparameters: dict[str, Any] | None = None
    checkpoints: list[_Checkpoint] | None = None


def curve_from_job(job: Mapping[str, Any], where: str = "the job") -> TrainingCurve:
    """A TrainingCurve from a fine-tuning job object (JSON as the API sends it); DataError when malformed."""
    try:
        parsed = _Job.model_validate(dict(job))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: not a fine-tuning job: {loc}: {first['msg']}") from None
    points = sorted((TrainingCheckpoint(step=c.step_number, train_loss=c.metrics.train_loss,
                                        valid_loss=c.metrics.valid_loss,
                                        valid_mean_token_accuracy=c.metrics.valid_mean_token_accuracy,
                                        created_at=c.created_at) for c in parsed.checkpoints or ()),
                    key=lambda p: p.step)
    hyper = {k: v for k, v in (parsed.hyperparameters or {}).items() if v is not None}
    return TrainingCurve(job_id=parsed.id, provider="mistral", base_model=parsed.model, status=parsed.status,
                         fine_tuned_model=parsed.fine_tuned_model, hyperparameters=hyper,
                         checkpoints=tuple(points), fetched_at=datetime.now(UTC).isoformat(timespec="seconds"))


# ---------------------------------------------------------------------------------------------------------
# Fetching through the SDK


async def _get_job(client: Any, job_id: str) -> dict[str, Any]:
    """The job as a dict: the SDK's jobs API when it has one, else its request pipeline on the same endpoint."""
    jobs = getattr(getattr(client, "fine_tuning", None), "jobs", None)
    if jobs is not None and hasattr(jobs, "get_async"):
        job = await jobs.get_async(job_id=job_id)
        return job.model_dump(mode="json", by_alias=True) if hasattr(job, "model_dump") else dict(job)
    return await _jobs_endpoint(client).get(job_id)


def _jobs_endpoint(client: Any) -> Any:
    """A BaseSDK sub-SDK for GET /v1/fine_tuning/jobs/{job_id}, sharing `client`'s configuration."""
    from mistralai.client import errors, models, utils
    from mistralai.client._hooks import HookContext
    from mistralai.client.basesdk import BaseSDK
    from mistralai.client.types import BaseModel as SDKModel
    from mistralai.client.utils import FieldMetadata, PathParamMetadata, get_security_from_env
    from typing_extensions import Annotated

    # Built with real annotation objects: this module's `from __future__ import annotations` would leave a
    # string the SDK's get_type_hints() cannot resolve outside this function.
    GetJobRequest = type("GetJobRequest", (SDKModel,), {"__module__": __name__, "__annotations__": {
        "job_id": Annotated[str, FieldMetadata(path=PathParamMetadata(style="simple", explode=False))]}})

    class FineTuningJobs(BaseSDK):
        async def get(self, job_id: str) -> dict[str, Any]:
            config = self.sdk_configuration
            base_url = self._get_url(None, None)
            timeout_ms = config.timeout_ms or 300000
            req = self._build_request_async(
                method="GET", path=_JOB_PATH, base_url=base_url, url_variables=None,
                request=GetJobRequest(job_id=job_id), request_body_required=False, request_has_path_params=True,
                request_has_query_params=True, user_agent_header="user-agent", accept_header_value="application/json",
                security=config.security, timeout_ms=timeout_ms)
            retries = config.retry_config
            res = await self.do_request_async(
                hook_ctx=HookContext(config=config, base_url=base_url or "",
                                     operation_id="jobs_api_routes_fine_tuning_get_fine_tuning_job",
                                     oauth2_scopes=None,
                                     security_source=get_security_from_env(config.security, models.Security),
                                     tags=["fine-tuning"], extensions=None),
                request=req, is_error_status_code=lambda c: utils.match_status_codes(["4XX", "5XX"], c),
                retry_config=(retries, ["429", "500", "502", "503", "504"])
                if isinstance(retries, utils.RetryConfig) else None)
            text = await utils.stream_to_text_async(res)
            if not utils.match_response(res, "200", "application/json"):
                raise errors.SDKError("API error occurred", res, text)
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise errors.SDKError(f"invalid JSON body ({exc.msg})", res, text) from None

    return FineTuningJobs(client.sdk_configuration, parent_ref=client)


async def fetch_curve(job_id: str, *, base_url: str | None = None, key_env: str = KEY_ENV,
                      timeout_s: float = 60.0) -> TrainingCurve:
    """Fetch one job's checkpoints; ConfigError without a key or for an unknown job, EvalkitError otherwise."""
    key = os.environ.get(key_env, "").strip()
    if not key:
        raise ConfigError(f"evalkit finetune-metrics needs a Mistral API key: the environment variable {key_env} is "
                          f"unset or empty. Export it (or pass --api-key-env NAME).")
    if not job_id.strip():
        raise ConfigError("JOB_ID must be a fine-tuning job id, got an empty string")
    try:
        import httpx2
        from mistralai.client import Mistral, errors
        from mistralai.client.utils import BackoffStrategy, RetryConfig
    except ImportError as exc:
        raise MissingDependencyError("mistralai", "evalkit finetune-metrics") from exc
    # The SDK appends `/v1/...` itself: a base URL given with a trailing `/v1` is trimmed (as the provider does).
    server_url = base_url.rstrip("/").removesuffix("/v1") if base_url else None
    http = httpx2.AsyncClient(follow_redirects=True)
    client = Mistral(api_key=key, server_url=server_url, async_client=http,
                     retry_config=RetryConfig("backoff", BackoffStrategy(500, 8000, 2.0, 30000), True),
                     timeout_ms=int(timeout_s * 1000))
    try:
        job = await _get_job(client, job_id)
    except errors.MistralError as exc:
        body = " ".join((exc.body or "").split())[:300].replace(key, "***")
        if exc.status_code == 404:
            raise ConfigError(f"no fine-tuning job '{job_id}' (HTTP 404): check the id with your Mistral console "
                              f"or API ({body})") from None
        if exc.status_code in (401, 403):
            raise ConfigError(f"the Mistral API refused the key in {key_env} (HTTP {exc.status_code}): {body}") from None
        raise EvalkitError(f"fetching fine-tuning job '{job_id}' failed: HTTP {exc.status_code}: {body}") from None
    except (httpx2.TransportError, errors.NoResponseError) as exc:
        raise EvalkitError(f"fetching fine-tuning job '{job_id}': could not reach the Mistral API "
                           f"({type(exc).__name__}: {str(exc).replace(key, '***')})") from None
    finally:
        await http.aclose()
    return curve_from_job(job, where=f"fine-tuning job '{job_id}'")


# ---------------------------------------------------------------------------------------------------------
# Storing and finding curves


def _file_name(job_id: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in job_id)
    return safe.strip(".") or "job"


def save_curve(curve: TrainingCurve, directory: Path) -> tuple[Path, Path | None]:
    """Write `<job_id>.json` and its plot `<job_id>.svg` into `directory`; their paths (svg None without data)."""
    import base64

    from evalkit.report._write import write_atomic
    from evalkit.report.sweep_charts import training_curves

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_file_name(curve.job_id)}.json"
    write_atomic(path, curve.model_dump_json(indent=2) + "\n")
    uri = training_curves({curve.fine_tuned_model or curve.job_id: curve})
    svg = None
    if uri is not None:
        svg = directory / f"{_file_name(curve.job_id)}.svg"
        write_atomic(svg, base64.b64decode(uri.split(",", 1)[1]).decode("utf-8"))
    return path, svg


def load_curve(path: Path) -> TrainingCurve:
    """Read a stored curve; DataError naming the file when it is not one."""
    try:
        return TrainingCurve.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise DataError(f"{path}: not a stored fine-tuning curve ({exc})") from None


def _job_ids(models: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    out = {}
    for spec in models:
        meta = spec.get("metadata") or {}
        job = meta.get("job_id") if isinstance(meta, Mapping) else None
        if isinstance(job, str) and job.strip():
            out[str(spec.get("name"))] = job.strip()
    return out


def attach_training(run_dir: Path, models: Sequence[Mapping[str, Any]],
                    search: Sequence[Path] | None = None) -> dict[str, TrainingCurve]:
    """Copy the stored curve of every model's `job_id` into `run_dir/training/` and return them by model name.

    Searched: `search` (default: $EVALKIT_FINETUNE_DIR, ./finetune-metrics). A job without a stored curve is
    skipped (`evalkit finetune-metrics JOB_ID --run RUN_DIR` can attach it later).
    """
    dirs = list(search) if search is not None else [finetune_dir()]
    found: dict[str, TrainingCurve] = {}
    for model, job in _job_ids(models).items():
        for d in dirs:
            src = d / f"{_file_name(job)}.json"
            if src.is_file():
                curve = load_curve(src)
                dest = run_dir / TRAINING_DIR / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if src.resolve() != dest.resolve():
                    shutil.copyfile(src, dest)
                found[model] = curve
                break
    return found


def load_run_training(run_dir: Path, models: Sequence[Mapping[str, Any]]) -> dict[str, TrainingCurve]:
    """The curves stored in a run directory, by the name of the model whose metadata names the job."""
    return attach_training(run_dir, models, search=[run_dir / TRAINING_DIR])


# ---------------------------------------------------------------------------------------------------------
# The command


def add_parser(sub: Any) -> None:
    """`evalkit finetune-metrics JOB_ID [--out DIR] [--run RUN_DIR] [--base-url URL] [--api-key-env NAME]`."""
    p = sub.add_parser("finetune-metrics", help="fetch a Mistral fine-tuning job's checkpoints (losses and token "
                                                "accuracy per step), store and plot them (needs MISTRAL_API_KEY)")
    p.add_argument("job_id", help="the fine-tuning job id")
    p.add_argument("--out", type=Path, help=f"folder for <job_id>.json and .svg (default: ${DIR_ENV} or "
                                            f"./{DEFAULT_DIR})")
    p.add_argument("--run", type=Path, metavar="RUN_DIR",
                   help="also attach the curve to this finished run (a model's metadata must name the job_id) and "
                        "re-render its report")
    p.add_argument("--base-url", help="API root (default: Mistral's public API)")
    p.add_argument("--api-key-env", default=KEY_ENV, metavar="NAME",
                   help=f"environment variable holding the key (default: {KEY_ENV})")


def cmd(args: Any, console: Any) -> int:
    """Fetch, store, plot and (with --run) attach; prints the stored JSON's path on stdout."""
    from rich.table import Table

    run = None
    if args.run is not None:  # check the run first: a typo there should not cost an API call
        from evalkit.store import RunStore

        run = RunStore(args.run).read_run()
        names = [m for m, job in _job_ids(run.info.models).items() if job == args.job_id]
        if not names:
            raise ConfigError(f"--run {args.run}: no model of this run names job_id '{args.job_id}' in its metadata "
                              f"(e.g. [models.ft] metadata = {{job_id = \"{args.job_id}\"}} in evalkit.toml)")
    curve = asyncio.run(fetch_curve(args.job_id, base_url=args.base_url, key_env=args.api_key_env))
    path, svg = save_curve(curve, finetune_dir(args.out))
    table = Table(title=f"fine-tuning job {curve.job_id} ({curve.status or 'status unknown'}, "
                        f"{curve.base_model or '?'} -> {curve.fine_tuned_model or '?'})")
    for col in ("step", "train loss", "valid loss", "valid token accuracy"):
        table.add_column(col, justify="right")
    for c in curve.checkpoints:
        table.add_row(str(c.step), *("—" if v is None else f"{v:.4f}" for v in
                                     (c.train_loss, c.valid_loss, c.valid_mean_token_accuracy)))
    console.print(table)
    if not curve.checkpoints:
        console.print("The job has no checkpoints yet (it may still be queued or validating).")
    if svg is not None:
        console.print(f"Plot: {svg}")
    if run is not None:
        from evalkit.report import write_report

        training = attach_training(args.run, run.info.models, search=[path.parent])
        write_report(run.model_copy(update={"training": training}), args.run)
        console.print(f"Attached to {args.run} (training/{path.name}); report re-rendered: {args.run / 'report.html'}")
    print(path)
    return 0
