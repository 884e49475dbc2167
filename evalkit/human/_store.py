"""Where a human study lives in a run directory, and the two operations on it: export and import.

    RUN_DIR/human/<packet-id>/key.json        the unblinding key (private: never send it)
    RUN_DIR/human/<packet-id>/imports.jsonl   one ImportRecord per imported verdict file (rewritten atomically)
    RUN_DIR/human_summary.json                the HumanSummary the report reads
    RUN_DIR/human-packets/<packet-id>/        the files to send to raters (default of --out): per rater
                                              `packet-<packet-id>-<rater>.html` and `.csv`

File names carry only the neutral packet id and rater id. Every write is atomic (a temporary file, then a
rename), and an import rewrites imports.jsonl with the old records first, so nothing imported is ever lost;
a batch of verdict files is checked as a whole before any of it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from evalkit.errors import ConfigError, DataError
from evalkit.human._packet import build_packet, check_key, key_sha256, run_fingerprint
from evalkit.human._records import HumanSummary, ImportRecord, PacketKey
from evalkit.human._render import packet_csv, packet_html
from evalkit.human._summary import summarize_packet
from evalkit.human._tasks import load_study_task
from evalkit.human._verdicts import parse_verdict_file, unblind, validate_against
from evalkit.records import RunResult
from evalkit.store import RunStore, write_atomic

__all__ = ["HUMAN_DIR", "PACKETS_DIR", "SUMMARY_FILE", "ExportResult", "ImportResult", "export_packet",
           "import_verdicts", "read_keys", "read_summary", "write_summary"]

HUMAN_DIR = "human"
PACKETS_DIR = "human-packets"
SUMMARY_FILE = "human_summary.json"
KEY_FILE = "key.json"
IMPORTS_FILE = "imports.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ExportResult:
    """What `evalkit human export` wrote."""

    key: PacketKey
    key_path: Path
    files: tuple[Path, ...]
    reused: bool
    """True when this packet had been exported before (same run, task, models, seed, raters): the key was
    kept and the files rewritten identically."""


@dataclass(frozen=True)
class ImportResult:
    """What `evalkit human import` stored."""

    imported: tuple[ImportRecord, ...]
    skipped: tuple[Path, ...]
    """Files already imported (same content): nothing new to store."""
    summary: HumanSummary


def _read_key(path: Path) -> PacketKey:
    try:
        return PacketKey.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        e = exc.errors()[0]
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        raise DataError(f"{path}: field '{field}': {e['msg']}; the key is damaged") from None


def read_keys(run_dir: Path) -> dict[str, PacketKey]:
    """Every packet key of a run, by packet id."""
    root = Path(run_dir) / HUMAN_DIR
    keys = {}
    for path in sorted(root.glob(f"*/{KEY_FILE}")) if root.is_dir() else []:
        key = _read_key(path)
        if key.packet_id != path.parent.name:
            raise DataError(f"{path}: field 'packet_id': {key.packet_id!r} does not match its folder "
                            f"{path.parent.name!r}; the key was moved or edited")
        keys[key.packet_id] = key
    return keys


def _read_imports(path: Path) -> list[ImportRecord]:
    if not path.is_file():
        return []
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(ImportRecord.model_validate_json(line))
            except ValidationError as exc:
                raise DataError(f"{path}:{i}: not a valid import record: {exc.errors()[0]['msg']}") from None
    return out


def export_packet(run_dir: Path, task: str, *, raters: int = 1, seed: int = 0, models: Sequence[str] | None = None,
                  out_dir: Path | None = None) -> ExportResult:
    """Write a blind packet of a run (HTML and CSV per rater) and keep its key in the run directory."""
    run = RunStore(Path(run_dir)).read_run()
    study = load_study_task(task)
    key, packets = build_packet(run, study, raters=raters, seed=seed, models=models)
    key_dir = Path(run_dir) / HUMAN_DIR / key.packet_id
    key_path = key_dir / KEY_FILE
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / PACKETS_DIR / key.packet_id
    if out.resolve() == key_dir.resolve() or key_dir.resolve() in out.resolve().parents:
        raise ConfigError(f"--out {out}: packet files must not go into the key's folder {key_dir}")
    reused = key_path.is_file()
    if reused:
        old = _read_key(key_path)
        fixed = {"raters", "key_sha256"}  # file names and the key's own hash are set after building
        same = old.model_dump(exclude=fixed) == key.model_dump(exclude=fixed) and all(
            o.packet_sha256 == n.packet_sha256 and o.items == n.items for o, n in zip(old.raters, key.raters))
        if not same:
            raise DataError(f"{key_path}: a different key already exists for packet {key.packet_id}; the run's "
                            f"outputs changed since it was exported. Refusing to overwrite a key that verdicts "
                            f"may depend on")
        key = old
    files = []
    out.mkdir(parents=True, exist_ok=True)
    raters_out = []
    for rk in key.raters:
        names = {"html": f"packet-{key.packet_id}-{rk.rater}.html", "csv": f"packet-{key.packet_id}-{rk.rater}.csv"}
        items = packets[rk.rater]
        write_atomic(out / names["html"], packet_html(study, key.packet_id, key.run, rk.rater, rk.packet_sha256,
                                                      items))
        write_atomic(out / names["csv"], packet_csv(study, key.packet_id, key.run, rk.rater, rk.packet_sha256,
                                                    items))
        files += [out / names["html"], out / names["csv"]]
        raters_out.append(rk.model_copy(update={"files": names}))
    if not reused:
        key = key.model_copy(update={"raters": tuple(raters_out)})
        key = key.model_copy(update={"key_sha256": key_sha256(key)})
        key_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(key_path, key.model_dump_json(indent=2))
    return ExportResult(key=key, key_path=key_path, files=tuple(files), reused=reused)


def _summary(run_dir: Path, run: RunResult, keys: dict[str, PacketKey]) -> HumanSummary:
    packets = []
    for pid, key in keys.items():
        imports = _read_imports(Path(run_dir) / HUMAN_DIR / pid / IMPORTS_FILE)
        if imports:
            packets.append(summarize_packet(key, imports, run.results))
    return HumanSummary(run_id=run.info.run_id, generated_at=_now(), packets=tuple(packets))


def write_summary(run_dir: Path, run: RunResult | None = None) -> HumanSummary:
    """Recompute RUN_DIR/human_summary.json from the keys and imports (atomically) and return it."""
    run = run or RunStore(Path(run_dir)).read_run()
    summary = _summary(run_dir, run, read_keys(run_dir))
    write_atomic(Path(run_dir) / SUMMARY_FILE, summary.model_dump_json(indent=2))
    return summary


def read_summary(run_dir: Path) -> HumanSummary | None:
    """RUN_DIR/human_summary.json, or None when no verdict was ever imported."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        return HumanSummary.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise DataError(f"{path}: not a valid human summary: {exc.errors()[0]['msg']}") from None


def import_verdicts(run_dir: Path, files: Sequence[Path]) -> ImportResult:
    """Check every verdict file against the run's keys, then store them all (or none) and update the summary."""
    run_dir = Path(run_dir)
    run = RunStore(run_dir).read_run()
    keys = read_keys(run_dir)
    if not keys:
        raise DataError(f"{run_dir}: no packet was exported from this run (no {HUMAN_DIR}/<packet>/{KEY_FILE}); run "
                        f"`evalkit human export {run_dir} --task NAME` first")
    checked: set[str] = set()
    run_fp = run_fingerprint(run.info.run_id)
    existing = {pid: _read_imports(run_dir / HUMAN_DIR / pid / IMPORTS_FILE) for pid in keys}
    known_files = {rec.file_sha256 for recs in existing.values() for rec in recs}
    new: dict[str, list[ImportRecord]] = {}
    skipped: list[Path] = []
    batch_files: set[str] = set()
    for path in files:
        vf, sha = parse_verdict_file(Path(path))
        rater = validate_against(Path(path), vf, keys, run_fp)
        if vf.packet_id not in checked:
            # A tampered key would unblind wrongly: check it against the run before trusting it.
            key = keys[vf.packet_id]
            check_key(key, run, str(run_dir / HUMAN_DIR / key.packet_id / KEY_FILE))
            checked.add(vf.packet_id)
        if sha in known_files or sha in batch_files:
            skipped.append(Path(path))
            continue
        batch_files.add(sha)
        new.setdefault(vf.packet_id, []).append(ImportRecord(
            packet_id=vf.packet_id, rater=vf.rater, file=Path(path).name, file_sha256=sha, imported_at=_now(),
            verdicts=unblind(vf, rater)))
    for pid, records in new.items():
        text = "".join(r.model_dump_json() + "\n" for r in [*existing[pid], *records])
        write_atomic(run_dir / HUMAN_DIR / pid / IMPORTS_FILE, text)
    summary = write_summary(run_dir, run)
    return ImportResult(imported=tuple(r for recs in new.values() for r in recs), skipped=tuple(skipped),
                        summary=summary)

