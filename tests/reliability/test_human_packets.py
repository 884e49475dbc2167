"""Blind human packets from a real run: no model identity in any byte of a packet, and malformed verdict files
refused through the CLI with one error line (exit 2) and nothing stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main

from .project import KEY_ENV, run_cli, server, write_project

# Distinctive names and ids, so that a search of the packet bytes cannot miss nor match by chance.
NAMES = {"mis": "zzbaselinemodel", "oai": "zzfinetunedmodel"}
IDS = {"mis-model": "zz-base-id-4c1f", "oai-model": "ft:open-mistral-7b:zzorg:zzjob-77a2"}


@dataclass(frozen=True)
class Study:
    """A finished run with one exported two-rater packet."""

    root: Path
    run_dir: Path
    packet_dir: Path
    rows: dict[str, list[dict[str, str]]]
    """Each rater's packet CSV rows."""


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Study]:
    root = tmp_path_factory.mktemp("human")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv(KEY_ENV, "sk-human-0000")
    try:
        with server() as srv:
            write_project(root, srv.url, n=12)
            toml = (root / "evalkit.toml").read_text(encoding="utf-8")
            for old, new in {**{f"[models.{k}]": f"[models.{v}]" for k, v in NAMES.items()}, **IDS}.items():
                toml = toml.replace(old, new)
            (root / "evalkit.toml").write_text(toml, encoding="utf-8")
            code, run_dir = run_cli("run", "suite.yaml", "--models", ",".join(NAMES.values()), "--quiet",
                                    "--cache-dir", "cache")
        assert code == 0 and run_dir is not None
        run_dir = root / run_dir
        assert main(["human", "export", str(run_dir), "--task", "preference", "--raters", "2", "--out",
                     str(root / "packet")]) == 0
        rows = {}
        for rater in ("r1", "r2"):
            (path,) = (root / "packet").glob(f"*-{rater}.csv")
            with path.open(encoding="utf-8", newline="") as fh:
                rows[rater] = list(csv.DictReader(fh))
        yield Study(root, run_dir, root / "packet", rows)
    finally:
        mp.undo()


def test_blind_packet_holds_no_model_name_id_provider_or_run_id(study: Study) -> None:
    info = json.loads((study.run_dir / "run.json").read_text(encoding="utf-8"))
    secrets = [*NAMES.values(), *IDS.values(), "mistral", "openai", info["run_id"], info["suite_path"],
               KEY_ENV, "127.0.0.1"]
    files = sorted(p for p in study.packet_dir.rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {".html", ".csv"} and len(files) == 4
    for path in files:
        text = path.read_bytes().decode("utf-8").lower()
        found = [s for s in secrets if s.lower() in text or s.lower() in path.name.lower()]
        assert found == [], f"{path.name} reveals {found}"
    # The packet is not empty of content: the items and both candidates are there, under neutral names.
    assert len(study.rows["r1"]) == 12 and all(r["item"].startswith("i") for r in study.rows["r1"])
    assert {r["answer_1"] for r in study.rows["r1"]} | {r["answer_2"] for r in study.rows["r1"]} == {"positive",
                                                                                                    "negative"}


def stored(study: Study) -> dict[str, bytes]:
    """Every file an import may write: the import logs, the human summary and the report."""
    paths = [*study.run_dir.glob("human/*/imports.jsonl"), study.run_dir / "human_summary.json",
             study.run_dir / "report.html"]
    return {str(p): p.read_bytes() for p in paths if p.exists()}


def verdicts(study: Study, rater: str = "r1", **changes: Any) -> dict[str, Any]:
    """A valid JSON verdict file for `rater` (every item answered `1`), with top-level fields changed."""
    first = study.rows[rater][0]
    doc: dict[str, Any] = {"format": "evalkit-human-verdicts", "version": 1, "packet_id": first["packet_id"],
                           "run": first["run"], "packet_sha256": first["packet_sha256"], "rater": rater,
                           "task": "preference", "exported_at": "2026-11-21T06:00:00Z",
                           "verdicts": [{"item": r["item"], "choice": "1", "comment": "", "answered_at": ""}
                                        for r in study.rows[rater]]}
    doc.update(changes)
    return doc


def json_file(make: Callable[[Study], Any], raw: bool = False) -> Callable[[Study, Path], Path]:
    def write(study: Study, path: Path) -> Path:
        content = make(study)
        path = path.with_suffix(".json")
        path.write_text(content if raw else json.dumps(content), encoding="utf-8")
        return path
    return write


def csv_file(make: Callable[[Study], str]) -> Callable[[Study, Path], Path]:
    def write(study: Study, path: Path) -> Path:
        path = path.with_suffix(".csv")
        path.write_text(make(study), encoding="utf-8")
        return path
    return write


def with_verdict(study: Study, index: int, **entry: Any) -> dict[str, Any]:
    doc = verdicts(study)
    doc["verdicts"][index] = {**doc["verdicts"][index], **entry}
    return doc


def filled_csv(study: Study, verdict: str) -> str:
    rows = study.rows["r1"]
    head = "packet_id,run,packet_sha256,rater,item,verdict,comment\n"
    return head + "".join(f"{r['packet_id']},{r['run']},{r['packet_sha256']},r1,{r['item']},"
                          f"{verdict if i == 2 else '1'},\n" for i, r in enumerate(rows))


VERDICT_CASES = [
    ("not-json", json_file(lambda s: '{"format": "evalkit-human-verdicts", ', raw=True), ("verdicts",)),
    ("wrong-format", json_file(lambda s: verdicts(s, format="something-else")), ("format",)),
    ("wrong-version", json_file(lambda s: verdicts(s, version=99)), ("version",)),
    ("other-run", json_file(lambda s: verdicts(s, run="0123456789abcdef")), ("run",)),
    ("unknown-packet", json_file(lambda s: verdicts(s, packet_id="hp-0000000000")), ("packet_id",)),
    ("unknown-rater", json_file(lambda s: {**verdicts(s), "rater": "r9"}), ("rater",)),
    ("altered-packet", json_file(lambda s: verdicts(s, packet_sha256="0" * 64)), ("packet_sha256",)),
    ("unknown-item", json_file(lambda s: with_verdict(s, 1, item="i999")), ("verdicts[1].item", "i999")),
    ("duplicated-item", json_file(lambda s: with_verdict(s, 1, item=s.rows["r1"][0]["item"])),
     ("verdicts[1].item",)),
    ("bad-choice", json_file(lambda s: with_verdict(s, 2, choice="left")), ("verdicts[2].choice", "left")),
    ("csv-bad-verdict", csv_file(lambda s: filled_csv(s, "maybe")), ("verdict", "maybe")),
]


@pytest.mark.parametrize(("write", "expect"), [c[1:] for c in VERDICT_CASES], ids=[c[0] for c in VERDICT_CASES])
def test_malformed_verdict_file_gives_one_clear_error_and_stores_nothing(
        study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        write: Callable[[Study, Path], Path], expect: tuple[str, ...]) -> None:
    path = write(study, tmp_path / "verdicts-r1")
    before = stored(study)
    capsys.readouterr()

    code = main(["human", "import", str(study.run_dir), str(path)])

    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and path.name in err[0], err[0]
    missing = [s for s in expect if s not in err[0]]
    assert not missing, f"{missing} not in: {err[0]}"
    assert stored(study) == before, "a refused file changed what the run directory holds"


def test_a_valid_verdict_file_is_accepted(study: Study, tmp_path: Path) -> None:
    """The control for the table above: the same file, unbroken, is imported."""
    before = stored(study)
    path = json_file(verdicts)(study, tmp_path / "verdicts-r1")
    assert main(["human", "import", str(study.run_dir), str(path)]) == 0
    assert (study.run_dir / "human_summary.json").exists() and stored(study) != before
