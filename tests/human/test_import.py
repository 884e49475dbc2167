"""Importing verdict files: unblinding, rejection of malformed or foreign files, tampered keys, nothing lost."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main
from evalkit.errors import ConfigError, DataError
from evalkit.human import export_packet, import_verdicts, read_summary
from evalkit.human._packet import key_sha256
from evalkit.human._records import PacketKey
from human.humanrun import MODEL_A, MODEL_B, SOURCES, a_output, b_output, make_run


@pytest.fixture
def run_dir(tmp_path_factory) -> Path:
    """A fresh copy of one translation run per test (imports change the run directory)."""
    global _TEMPLATE
    if "_TEMPLATE" not in globals():
        _TEMPLATE = make_run(tmp_path_factory.mktemp("human-import-template"))
    dest = tmp_path_factory.mktemp("human-import") / "run"
    shutil.copytree(_TEMPLATE, dest)
    return dest


def verdicts_for(key: PacketKey, rater: str, pick) -> dict:
    """A verdict file as the packet page writes it; `pick(key_item)` returns the choice."""
    rk = next(r for r in key.raters if r.rater == rater)
    return {"format": "evalkit-human-verdicts", "version": 1, "packet_id": key.packet_id, "run": key.run,
            "packet_sha256": rk.packet_sha256, "rater": rater, "task": key.task,
            "verdicts": [{"item": k.item, "choice": pick(k), "comment": ""}
                         for k in sorted(rk.items, key=lambda k: k.position)]}


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), "utf-8")
    return path


def prefer(model: str):
    """A rater who always prefers `model`, whichever side it is on."""
    return lambda k: "1" if k.left == model else "2"


def test_unblinding_maps_sides_back_to_models(run_dir: Path, tmp_path: Path) -> None:
    key = export_packet(run_dir, "translation", raters=1, seed=2).key
    # Prefers A on the first 8 items in display order, ties on 2, B on the rest.
    order = sorted(key.raters[0].items, key=lambda k: k.position)
    plan = {k.item: ("a" if i < 8 else "tie" if i < 10 else "b") for i, k in enumerate(order)}
    doc = verdicts_for(key, "r1", lambda k: {"a": prefer(MODEL_A)(k), "b": prefer(MODEL_B)(k), "tie": "tie"}
                       [plan[k.item]])
    res = import_verdicts(run_dir, [write(tmp_path / "v.json", doc)])
    (p,) = res.summary.packets
    assert (p.model_a, p.model_b) == (MODEL_A, MODEL_B)
    (r,) = p.results
    assert (r.n, r.wins, r.ties, r.losses) == (12, 8, 2, 2)
    assert r.at_least_as_good == pytest.approx(10 / 12) and r.win_rate == pytest.approx(8 / 12)
    assert r.sign_test_p == pytest.approx(0.109375)  # binomial(8 of 10), two-sided
    imports = run_dir / "human" / key.packet_id / "imports.jsonl"
    stored = [json.loads(line) for line in imports.read_text().splitlines()]
    by_item = {v["item"]: v["preferred"] for v in stored[0]["verdicts"]}
    assert all(by_item[i] == {"a": MODEL_A, "b": MODEL_B, "tie": "tie"}[plan[i]] for i in plan)
    assert read_summary(run_dir) == res.summary


def test_filled_csv_packet_imports_like_json(run_dir: Path, tmp_path: Path) -> None:
    res = export_packet(run_dir, "translation", raters=1, seed=9)
    key = res.key
    rows = list(csv.DictReader(next(f for f in res.files if f.suffix == ".csv").open(encoding="utf-8")))
    side = {k.item: k for k in key.raters[0].items}
    for i, row in enumerate(rows):
        # A spreadsheet may turn 1 into 1.0, and the last row stays unanswered.
        row["verdict"] = "" if i == len(rows) - 1 else ("1.0" if side[row["item"]].left == MODEL_A else "2")
        row["comment"] = "=looks fine" if i == 0 else ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    path = tmp_path / "filled.csv"
    path.write_text(buf.getvalue(), "utf-8")
    summary = import_verdicts(run_dir, [path]).summary
    (r,) = summary.packets[0].results
    assert (r.n, r.wins, r.ties, r.losses) == (11, 11, 0, 0)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(run="0123456789abcdef"), "field 'run'"),
    (lambda d: d.update(packet_id="hp-0000000000"), "field 'packet_id': 'hp-0000000000' is not a packet"),
    (lambda d: d.update(rater="r9"), "field 'rater'"),
    (lambda d: d.update(packet_sha256="f" * 64), "field 'packet_sha256'"),
    (lambda d: d["verdicts"][3].update(item="i999"), "field 'verdicts[3].item': unknown item 'i999'"),
    (lambda d: d["verdicts"][5].update(item=d["verdicts"][1]["item"]), "field 'verdicts[5].item'"),
    (lambda d: d["verdicts"][2].update(choice="left"), "field 'verdicts[2].choice'"),
    (lambda d: d.update(format="something-else"), "field 'format'"),
    (lambda d: d.update(verdicts=[]), "field 'verdicts': no item answered"),
    (lambda d: d.update(extra_field=1), "field 'extra_field': unknown field"),
])
def test_bad_verdict_files_are_refused_naming_file_and_field(run_dir: Path, tmp_path: Path, mutate,
                                                             message: str) -> None:
    key = export_packet(run_dir, "translation", seed=1).key
    good = write(tmp_path / "good.json", verdicts_for(key, "r1", prefer(MODEL_A)))
    import_verdicts(run_dir, [good])
    imports = run_dir / "human" / key.packet_id / "imports.jsonl"
    before = imports.read_bytes()
    doc = verdicts_for(key, "r1", prefer(MODEL_B))
    mutate(doc)
    bad = write(tmp_path / "bad.json", doc)
    with pytest.raises(DataError) as err:
        import_verdicts(run_dir, [bad])
    assert str(bad) in str(err.value) and message in str(err.value)
    assert imports.read_bytes() == before  # nothing already imported is lost or changed


def test_not_json_and_a_batch_with_one_bad_file_store_nothing(run_dir: Path, tmp_path: Path, capsys) -> None:
    key = export_packet(run_dir, "translation").key
    ok = write(tmp_path / "ok.json", verdicts_for(key, "r1", prefer(MODEL_A)))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", "utf-8")
    err = user_error(["human", "import", str(run_dir), str(ok), str(broken)], capsys)
    assert str(broken) in err and "not valid JSON" in err
    assert not (run_dir / "human" / key.packet_id / "imports.jsonl").exists()


def test_tampered_key_is_detected(run_dir: Path, tmp_path: Path) -> None:
    res = export_packet(run_dir, "translation", seed=4)
    key_path = res.key_path
    doc = write(tmp_path / "v.json", verdicts_for(res.key, "r1", prefer(MODEL_A)))
    raw = json.loads(key_path.read_text())
    # Swap the sides of an item whose two candidates differ: swapping identical texts changes nothing a rater
    # sees, so no check could (or should) notice it. Item order follows the run id, so look the item up.
    items = raw["raters"][0]["items"]
    j = next(n for n, it in enumerate(items)
             if a_output(int(it["sample_id"][1:]), SOURCES[int(it["sample_id"][1:])][1])
             != b_output(int(it["sample_id"][1:]), SOURCES[int(it["sample_id"][1:])][1]))
    items[j]["left"], items[j]["right"] = items[j]["right"], items[j]["left"]
    key_path.write_text(json.dumps(raw), "utf-8")
    with pytest.raises(DataError, match="field 'key_sha256'"):
        import_verdicts(run_dir, [doc])
    # Re-hashing the edited key does not help: the sides no longer reproduce the exported packet's hash.
    edited = PacketKey.model_validate(raw)
    key_path.write_text(edited.model_copy(update={"key_sha256": key_sha256(edited)}).model_dump_json(), "utf-8")
    with pytest.raises(DataError, match=r"field 'raters\[0\].packet_sha256'"):
        import_verdicts(run_dir, [doc])


def test_changed_run_outputs_refuse_a_new_key_over_the_old(run_dir: Path) -> None:
    first = export_packet(run_dir, "translation", seed=6)
    results = run_dir / "results.jsonl"
    lines = results.read_text("utf-8").splitlines()
    r = json.loads(lines[0])
    r["scores"][MODEL_A]["details"]["hypothesis"] = "Ganz anders."
    results.write_text("\n".join([json.dumps(r), *lines[1:]]) + "\n", "utf-8")
    with pytest.raises(DataError, match="a different key already exists"):
        export_packet(run_dir, "translation", seed=6)
    assert first.key_path.is_file()


def test_imports_append_reimport_is_skipped_and_later_verdicts_win(run_dir: Path, tmp_path: Path, capsys) -> None:
    key = export_packet(run_dir, "translation", raters=2, seed=8).key
    r1 = write(tmp_path / "r1.json", verdicts_for(key, "r1", prefer(MODEL_A)))
    r2 = write(tmp_path / "r2.json", verdicts_for(key, "r2", lambda k: "tie"))
    assert main(["human", "import", str(run_dir), str(r1)]) == 0
    assert main(["human", "import", str(run_dir), str(r1), str(r2)]) == 0
    out = capsys.readouterr()
    assert "Skipped" in out.err and "already imported" in out.err
    lines = (run_dir / "human" / key.packet_id / "imports.jsonl").read_text().splitlines()
    assert [json.loads(line)["rater"] for line in lines] == ["r1", "r2"]
    # r1 changes their mind on every item: the newer file wins, the older one stays on record.
    r1b = write(tmp_path / "r1-again.json", verdicts_for(key, "r1", prefer(MODEL_B)))
    summary = import_verdicts(run_dir, [r1b]).summary
    rows = {r.rater: r for r in summary.packets[0].results}
    assert (rows["r1"].wins, rows["r1"].losses) == (0, 12) and rows["r2"].ties == 12
    assert len((run_dir / "human" / key.packet_id / "imports.jsonl").read_text().splitlines()) == 3
    # The report shows the human section, escaped like everything else.
    assert main(["report", str(run_dir)]) == 0
    html = (run_dir / "report.html").read_text("utf-8")
    md = (run_dir / "summary.md").read_text("utf-8")
    assert 'id="human"' in html and "Blind human preference" in html and "Cohen&#39;s kappa" in html
    assert "## Human preference" in md


def test_import_without_export_says_what_to_do(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="evalkit human export"):
        import_verdicts(run_dir, [write(tmp_path / "v.json", {"format": "x"})])


def test_custom_study_task_from_yaml_survives_the_files_removal(run_dir: Path, tmp_path: Path) -> None:
    task = tmp_path / "tone.yaml"
    task.write_text("title: Which reply sounds like us?\ninstructions: Pick the reply in our tone.\n"
                    "source_label: Message\ncandidate_label: Reply\nshow_reference: true\n", "utf-8")
    res = export_packet(run_dir, str(task), seed=3)
    html = next(f for f in res.files if f.suffix == ".html").read_text("utf-8")
    assert "Which reply sounds like us?" in html and "Reply 2" in html and 'class="text reference"' in html
    task.unlink()  # the key carries the study task: importing does not need the file any more
    summary = import_verdicts(run_dir, [write(tmp_path / "v.json", verdicts_for(res.key, "r1", prefer(MODEL_A)))])
    assert summary.summary.packets[0].task == "tone" and summary.summary.packets[0].results[0].wins == 12
    with pytest.raises(ConfigError, match="title: required field is missing"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("instructions: x\n", "utf-8")
        export_packet(run_dir, str(bad))
