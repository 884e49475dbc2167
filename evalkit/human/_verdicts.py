"""Reading a verdict file (JSON from the packet page, or the packet CSV filled in) and checking it against a key.

Every problem raises a DataError naming the file and the field (`verdicts[3].item`, `row 5 column verdict`),
what was received and what is allowed. Nothing is partially accepted: a file is valid as a whole or refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.errors import DataError
from evalkit.human._records import (
    FORMAT_VERSION,
    VERDICT_FORMAT,
    Choice,
    PacketKey,
    RaterKey,
    StoredVerdict,
    VerdictEntry,
    VerdictFile,
)
from evalkit.human._render import CSV_COLUMNS

__all__ = ["parse_verdict_file", "unblind", "validate_against"]

_CHOICES: dict[str, Choice] = {"1": "1", "1.0": "1", "2": "2", "2.0": "2", "tie": "tie", "0": "tie", "0.0": "tie",
                               "=": "tie"}


def _csv_text(value: str) -> str:
    """Undo the leading `'` the packet CSV put before text a spreadsheet would run as a formula."""
    return value[1:] if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r") else value


def _parse_json(path: Path, text: str) -> VerdictFile:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: a verdict file must be a JSON object, got {type(raw).__name__}")
    if raw.get("format") != VERDICT_FORMAT:
        raise DataError(f"{path}: field 'format': expected {VERDICT_FORMAT!r}, got {raw.get('format')!r}; is this "
                        f"a verdict file downloaded from an evalkit packet?")
    if raw.get("version") != FORMAT_VERSION:
        raise DataError(f"{path}: field 'version': this evalkit reads version {FORMAT_VERSION}, got "
                        f"{raw.get('version')!r}")
    try:
        return VerdictFile.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        field = _field(e["loc"])
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        allowed = " (allowed: '1', '2', 'tie')" if field.endswith(".choice") else ""
        raise DataError(f"{path}: field '{field}': {msg}{allowed} (got {e.get('input')!r})") from None


def _field(loc: Sequence[Any]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _parse_csv(path: Path, text: str) -> VerdictFile:
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0].keys()) if rows else next(csv.reader(io.StringIO(text)), [])
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}: row 1 (header): missing column(s) {', '.join(missing)}; a verdict CSV has "
                        f"{', '.join(CSV_COLUMNS)}")
    if not rows:
        raise DataError(f"{path}: no rows after the header")
    head: dict[str, str] = {}
    verdicts = []
    for n, row in enumerate(rows, start=2):
        for col in ("packet_id", "run", "packet_sha256", "rater"):
            value = (row.get(col) or "").strip()
            if col not in head:
                head[col] = value
            elif value != head[col]:
                raise DataError(f"{path}: row {n} column {col}: {value!r} differs from {head[col]!r} in row 2; a "
                                f"verdict CSV is one rater's file of one packet")
        raw = _csv_text((row.get("verdict") or "").strip()).lower()
        if not raw:
            continue  # not answered yet
        if raw not in _CHOICES:
            raise DataError(f"{path}: row {n} column verdict: {row.get('verdict')!r} is not a verdict; allowed: 1 "
                            f"(first shown is better), 2 (second is better), tie (or 0), or empty (unanswered)")
        verdicts.append(VerdictEntry(item=(row.get("item") or "").strip(), choice=_CHOICES[raw],
                                     comment=_csv_text(row.get("comment") or "")))
    if not all(head.values()):
        empty = [k for k, v in head.items() if not v]
        raise DataError(f"{path}: row 2 column {empty[0]}: empty; the packet CSV fills it in")
    return VerdictFile(packet_id=head["packet_id"], run=head["run"], packet_sha256=head["packet_sha256"],
                       rater=head["rater"], verdicts=tuple(verdicts))


def parse_verdict_file(path: Path) -> tuple[VerdictFile, str]:
    """The verdict file at `path` (JSON, or CSV by its `.csv` suffix or content) and its SHA-256."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the verdict file ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    is_csv = Path(path).suffix.lower() == ".csv" or text.lstrip().startswith("packet_id")
    parsed = _parse_csv(path, text) if is_csv else _parse_json(path, text)
    return parsed, hashlib.sha256(data).hexdigest()


def validate_against(path: Path, vf: VerdictFile, keys: Mapping[str, PacketKey], run_fp: str) -> RaterKey:
    """The rater key a verdict file belongs to; DataError naming the field when it is foreign or malformed."""
    if vf.run != run_fp:
        raise DataError(f"{path}: field 'run': {vf.run!r} is not this run ({run_fp}); the file belongs to "
                        f"another run's packet")
    key = keys.get(vf.packet_id)
    if key is None:
        known = ", ".join(sorted(keys)) or "none exported yet"
        raise DataError(f"{path}: field 'packet_id': {vf.packet_id!r} is not a packet of this run (packets: "
                        f"{known})")
    rater = next((r for r in key.raters if r.rater == vf.rater), None)
    if rater is None:
        raise DataError(f"{path}: field 'rater': {vf.rater!r} is not a rater of packet {vf.packet_id} (raters: "
                        f"{', '.join(r.rater for r in key.raters)})")
    if vf.packet_sha256 != rater.packet_sha256:
        raise DataError(f"{path}: field 'packet_sha256': {vf.packet_sha256!r} does not match the packet exported "
                        f"for {vf.rater} ({rater.packet_sha256}); the packet file was altered or is from an "
                        f"older export")
    known_items = {k.item for k in rater.items}
    first: dict[str, int] = {}
    for i, v in enumerate(vf.verdicts):
        if v.item not in known_items:
            raise DataError(f"{path}: field 'verdicts[{i}].item': unknown item {v.item!r}; packet "
                            f"{vf.packet_id} has items {min(known_items)} to {max(known_items)}")
        if v.item in first:
            raise DataError(f"{path}: field 'verdicts[{i}].item': item {v.item!r} appears twice (verdicts"
                            f"[{first[v.item]}] and verdicts[{i}]); one verdict per item")
        first[v.item] = i
    if not vf.verdicts:
        raise DataError(f"{path}: field 'verdicts': no item answered")
    return rater


def unblind(vf: VerdictFile, rater: RaterKey) -> tuple[StoredVerdict, ...]:
    """Each verdict with its sample id and the preferred model's name (or `tie`)."""
    by_item = {k.item: k for k in rater.items}
    out = []
    for v in vf.verdicts:
        k = by_item[v.item]
        preferred = {"1": k.left, "2": k.right, "tie": "tie"}[v.choice]
        out.append(StoredVerdict(item=v.item, sample_id=k.sample_id, choice=v.choice, preferred=preferred,
                                 comment=v.comment))
    return tuple(out)
