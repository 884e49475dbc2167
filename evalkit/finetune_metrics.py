"""Fine-tuning job metrics: a Mistral fine-tuning job's checkpoints (train loss, validation loss, validation mean
token accuracy per step), fetched through the `mistralai` SDK, stored as JSON and plotted.

    evalkit finetune-metrics JOB_ID [--out DIR] [--run RUN_DIR]

Stored curves are `DIR/<job_id>.json` (a TrainingCurve record) and `DIR/<job_id>.svg`; DIR defaults to
$EVALKIT_FINETUNE_DIR, else `./finetune-metrics`. A model whose metadata names a `job_id` gets its curve shown
in the run's report, next to its eval results: the runner copies the stored curve into the run directory
(`training/<job_id>.json`), so the run stays self-contained; `--run RUN_DIR` attaches a curve to a finished run
and re-renders its report.

The job is fetched through the provider's declared `fine_tuning_job` ability (for Mistral:
evalkit/providers/mistral_jobs.py); this module only validates, stores, plots and attaches curves.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.errors import ConfigError, DataError
from evalkit.records import TrainingCheckpoint, TrainingCurve

__all__ = ["DEFAULT_DIR", "DIR_ENV", "TRAINING_DIR", "attach_training", "curve_from_job", "fetch_curve",
           "finetune_dir", "load_curve", "load_run_training", "save_curve"]

DIR_ENV = "EVALKIT_FINETUNE_DIR"
DEFAULT_DIR = Path("finetune-metrics")
TRAINING_DIR = "training"
"""Folder of a run directory that holds the curves of its models' fine-tuning jobs."""
KEY_ENV = "MISTRAL_API_KEY"
DEFAULT_PROVIDER = "mistral"


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
# Fetching, through the provider's fine-tuning jobs ability


async def fetch_curve(job_id: str, *, provider: str = DEFAULT_PROVIDER, base_url: str | None = None,
                      key_env: str = KEY_ENV, timeout_s: float = 60.0) -> TrainingCurve:
    """Fetch one job's checkpoints through `provider`'s `fine_tuning_job`; ConfigError without a key or for an
    unknown job, EvalkitError otherwise."""
    from evalkit.model_spec import ModelSpec
    from evalkit.providers import create_provider

    if not job_id.strip():
        raise ConfigError("JOB_ID must be a fine-tuning job id, got an empty string")
    spec = ModelSpec(name="finetune-metrics", provider=provider, model=job_id, base_url=base_url,
                     api_key_env=key_env, timeout_s=timeout_s)
    client = create_provider(spec)
    try:
        job = await client.fine_tuning_job(job_id)
    finally:
        await client.aclose()
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
    p.add_argument("--provider", default=DEFAULT_PROVIDER, help=f"provider whose fine-tuning jobs API to ask "
                                                               f"(default: {DEFAULT_PROVIDER})")
    p.add_argument("--base-url", help="API root (default: the provider's public API)")
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
    curve = asyncio.run(fetch_curve(args.job_id, provider=args.provider, base_url=args.base_url,
                                    key_env=args.api_key_env))
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
