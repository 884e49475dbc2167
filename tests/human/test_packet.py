"""Blind packets: nothing identifies a model, texts are escaped, sides are balanced and reproducible."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from cli_errors import user_error

from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.human import build_packet, export_packet, load_study_task, read_keys
from evalkit.human._render import safe_cell
from evalkit.store import RunStore
from human.humanrun import MODEL_A, MODEL_B, SECRETS, SOURCES, make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("human-packet"))


def test_packet_bytes_and_names_carry_no_model_trace(run_dir: Path, tmp_path: Path) -> None:
    res = export_packet(run_dir, "translation", raters=3, seed=7, out_dir=tmp_path / "send")
    info = json.loads((run_dir / "run.json").read_text())
    secrets = [*SECRETS, info["run_id"], info["suite_path"], str(run_dir)]
    assert len(res.files) == 6
    for f in res.files:
        assert f.parent == tmp_path / "send"
        data = f.read_bytes().decode("utf-8").lower()
        for s in secrets:
            assert s.lower() not in data, f"{s!r} leaks into {f.name}"
            assert s.lower() not in f.name.lower()
    # Nothing else was written next to the packet files, and the key is elsewhere.
    assert sorted(p.name for p in (tmp_path / "send").iterdir()) == sorted(f.name for f in res.files)
    assert res.key_path.parent.parent == run_dir / "human"
    assert MODEL_A in res.key_path.read_text()


def test_html_is_escaped_offline_and_its_csp_matches_the_script(run_dir: Path) -> None:
    res = export_packet(run_dir, "translation")
    html = next(f for f in res.files if f.suffix == ".html").read_text("utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    # No attribute points outside the page (the only URL is inside an escaped model output).
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "connect-src" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_sides_are_balanced_per_rater_and_reproducible_from_the_seed(run_dir: Path) -> None:
    run = RunStore(run_dir).read_run()
    study = load_study_task("translation")
    key, packets = build_packet(run, study, raters=4, seed=3)
    n = len(SOURCES)
    orders = set()
    for rk in key.raters:
        assert Counter(k.left for k in rk.items) == {MODEL_A: n // 2, MODEL_B: n - n // 2}
        assert sorted(k.position for k in rk.items) == list(range(1, n + 1))
        assert {k.item for k in rk.items} == {f"i{i:03d}" for i in range(1, n + 1)}
        orders.add(tuple((k.item, k.left) for k in sorted(rk.items, key=lambda k: k.position)))
    assert len(orders) == 4  # each rater gets their own order
    again, _ = build_packet(run, study, raters=4, seed=3)
    other, _ = build_packet(run, study, raters=4, seed=4)
    assert again == key
    assert other.raters[0].items != key.raters[0].items and other.packet_id != key.packet_id
    # The items a rater sees are the key's sides, in the key's order.
    for it, k in zip(packets["r1"], sorted(key.raters[0].items, key=lambda k: k.position)):
        assert it.item == k.item


def test_balance_over_many_seeds_is_unbiased(run_dir: Path) -> None:
    """Which items get model_a on the left varies with the seed: over 200 seeds each item is left ~half the time."""
    run = RunStore(run_dir).read_run()
    study = load_study_task("translation")
    left = Counter()
    for seed in range(200):
        key, _ = build_packet(run, study, seed=seed)
        left.update(k.sample_id for k in key.raters[0].items if k.left == MODEL_A)
    assert all(60 <= c <= 140 for c in left.values()), left


def test_export_twice_reuses_the_key_and_refuses_a_changed_run(run_dir: Path, tmp_path: Path) -> None:
    first = export_packet(run_dir, "translation", seed=11)
    second = export_packet(run_dir, "translation", seed=11)
    assert second.reused and second.key == first.key
    assert [f.read_bytes() for f in first.files] == [f.read_bytes() for f in second.files]
    assert set(read_keys(run_dir)) >= {first.key.packet_id}


def test_csv_packet_has_every_item_and_neutralises_formulas(run_dir: Path) -> None:
    import csv

    res = export_packet(run_dir, "translation", seed=5)
    rows = list(csv.DictReader(next(f for f in res.files if f.suffix == ".csv").open(encoding="utf-8")))
    assert len(rows) == len(SOURCES) and {r["verdict"] for r in rows} == {""}
    assert {"translation_1", "translation_2", "source text"} <= set(rows[0])
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("Der") == "Der"


def test_cli_export_and_option_errors(run_dir: Path, capsys) -> None:
    assert main(["human", "export", str(run_dir), "--task", "translation", "--raters", "2"]) == 0
    out = capsys.readouterr()
    assert "packet-hp-" in out.out and "key.json" in out.err
    assert "Did you mean: translation" in user_error(["human", "export", str(run_dir), "--task", "translaton"], capsys)
    assert "not among the run's models" in user_error(["human", "export", str(run_dir), "--task", "translation",
                                                       "--models", f"{MODEL_A},nobody"], capsys)
    with pytest.raises(ConfigError, match="raters"):
        build_packet(RunStore(run_dir).read_run(), load_study_task("translation"), raters=0)
