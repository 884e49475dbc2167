"""Hub data sets: reachability, offline reads from `datasets`' real cache, and the data override.

The offline tests build a real prepared `datasets` cache (a Parquet builder's output, laid out where
`load_dataset` looks for a hub data set it read before) and read it through the real `datasets`, with the
hub out of reach either by HF_HUB_OFFLINE or because the only way out (an HTTPS proxy on a closed port)
refuses connections.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.loaders import load_data, load_samples
from evalkit.sources.hub import (
    DataOverrides,
    apply_overrides,
    hub_access,
    hub_dataset,
    in_local_cache,
    looks_like_hub_id,
    parse_data_option,
)
from evalkit.suite import DataSpec, load_suite

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "multi_eurlex").is_dir(), reason="../shared/data is not beside the repo")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_offline_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------------------------------------
# Reachability


@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_the_offline_variables_say_offline_without_a_probe(no_offline_vars, monkeypatch, var: str) -> None:
    monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")  # a probe would fail differently
    assert hub_access() == hub_access().__class__(False, f"{var} is set")


def test_hf_hub_offline_0_says_online_without_a_probe(no_offline_vars, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    assert hub_access().online


def test_the_probe_connects_to_the_endpoint_or_the_proxy(no_offline_vars, monkeypatch) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert hub_access().online
        closed = _closed_port()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed}")
        access = hub_access()
        assert not access.online and access.reason.startswith(f"no network: cannot connect to the proxy 127.0.0.1:{closed}")


def test_hub_ids_and_local_paths() -> None:
    assert looks_like_hub_id("cais/mmlu") and looks_like_hub_id("coastalcph/multi_eurlex")
    assert not looks_like_hub_id("mmlu/test.csv") and not looks_like_hub_id("test.jsonl")
    assert not looks_like_hub_id("../../../shared/data/x") and not looks_like_hub_id("/abs/path")


def test_which_specs_read_the_hub(tmp_path: Path) -> None:
    (tmp_path / "owner" / "local").mkdir(parents=True)
    assert hub_dataset(DataSpec(source="mmlu", path="cais/mmlu"), tmp_path) == "cais/mmlu"
    assert hub_dataset(DataSpec(source="mmlu", path="owner/local"), tmp_path) is None  # a folder there wins
    assert hub_dataset(DataSpec(source="hf", path="json", data_files="d.jsonl"), tmp_path) is None
    assert hub_dataset(DataSpec(source="jsonl", path="a/b"), tmp_path) is None
    assert hub_dataset(DataSpec(source="mmlu", path="cais/mmlu", copy_of="cais/mmlu"), tmp_path) is None
    assert hub_dataset(DataSpec(source="eurlex", path="coastalcph/multi_eurlex"), tmp_path, split_path="t.jsonl") is None


# ---------------------------------------------------------------------------------------------------------
# Offline: from the real cache, or one line


def _prepare_cache(root: Path, dataset_id: str, config: str, rows: list[dict]) -> None:
    """A prepared `datasets` cache entry for a hub data set, as `load_dataset` leaves it after a first read."""
    import datasets
    from datasets.packaged_modules.parquet.parquet import Parquet

    src = root / "src.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(src))
    owner, name = dataset_id.split("/")
    Parquet(cache_dir=str(root), dataset_name=name, config_name=config, data_files={"test": str(src)},
            hash="0" * 16).download_and_prepare()
    # The builder names its folders after a local build; a hub read names them owner___name/config.
    shutil.move(str(root / name), str(root / f"{owner}___{name}"))
    for d in (root / f"{owner}___{name}").iterdir():
        d.rename(d.with_name(config))


ROWS = [{"question": f"Question {i}?", "subject": "medical_genetics", "choices": ["w", "x", "y", "z"], "answer": i % 4}
        for i in range(5)]


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "no network"])
def test_offline_a_cached_data_set_is_read_from_the_cache_quietly(
        no_offline_vars, monkeypatch, tmp_path: Path, capfd: pytest.CaptureFixture[str], how: str) -> None:
    cache = tmp_path / "datasets"
    _prepare_cache(cache, "tiny-owner/tinymmlu", "medical_genetics", ROWS)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # the only way out refuses connections: without offline mode, `datasets` would retry for ~30 s
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    capfd.readouterr()
    started = time.monotonic()
    loaded = load_data(DataSpec(source="mmlu", path="tiny-owner/tinymmlu", name="medical_genetics"), tmp_path)
    elapsed = time.monotonic() - started
    assert [(s.id, s.target, s.fields["options"]["ABCD".index(s.target)]) for s in loaded.samples] == [
        ("test-001", "A", "w"), ("test-002", "B", "x"), ("test-003", "C", "y"), ("test-004", "D", "z"),
        ("test-005", "A", "w")]
    assert len(loaded.warnings) == 1 and loaded.warnings[0].startswith("tiny-owner/tinymmlu read from the local "
                                                                       "Hugging Face cache (")
    assert ("HF_HUB_OFFLINE is set" if how == "HF_HUB_OFFLINE" else "no network") in loaded.warnings[0]
    assert elapsed < 10, f"an offline read from the cache took {elapsed:.1f} s (network retries?)"
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no progress bar, no "Using the latest cached version" warning
    import datasets.config as ds_config
    import huggingface_hub.constants as hub_constants

    assert ds_config.HF_HUB_OFFLINE is False and hub_constants.HF_HUB_OFFLINE is False  # restored


def test_offline_without_the_data_set_is_one_line_naming_it_and_the_override(
        no_offline_vars, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "empty"))
    assert not in_local_cache("cais/mmlu")
    with pytest.raises(DataError) as info:
        load_samples(DataSpec(source="mmlu", path="cais/mmlu", name="medical_genetics"), tmp_path)
    message = str(info.value)
    assert message.startswith("Hugging Face dataset 'cais/mmlu' (config 'medical_genetics', split 'test') could "
                              "not be loaded: the hub is out of reach (HF_HUB_OFFLINE is set)")
    assert "`--data cais/mmlu=PATH`" in message and '`[data] "cais/mmlu" = "PATH"`' in message
    assert "MMLU's original CSV" in message and "\n" not in message


# ---------------------------------------------------------------------------------------------------------
# The data override


def test_parse_data_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    o = parse_data_option(["cais/mmlu=m.csv", "own.jsonl"], {"cais/mmlu": "cfg.csv", "qiaojin/PubMedQA": "p.json"},
                          tmp_path / "proj")
    assert o.by_id == {"cais/mmlu": tmp_path / "m.csv", "qiaojin/PubMedQA": tmp_path / "proj" / "p.json"}
    assert o.own == tmp_path / "own.jsonl" and o.where["cais/mmlu"] == "--data cais/mmlu=m.csv"
    with pytest.raises(ConfigError, match="only one --data PATH without an id"):
        parse_data_option(["a.csv", "b.csv"])
    with pytest.raises(ConfigError, match=r"--data x=y.csv: 'x' is not a Hugging Face dataset id"):
        parse_data_option(["x=y.csv"])


def test_overrides_replace_the_hub_data_set_and_record_it(tmp_path: Path) -> None:
    copy = tmp_path / "medical_genetics_test.csv"
    copy.write_text("Q?,a,b,c,d,C\n", encoding="utf-8")
    suite = load_suite("mmlu-genetics")
    for overrides in (DataOverrides(by_id={"cais/mmlu": copy}), DataOverrides(by_id={}, own=copy)):
        local = apply_overrides(suite, overrides)
        assert local.data.path == str(copy.resolve()) and local.data.copy_of == "cais/mmlu"
        assert (local.data.name, local.data.split) == ("medical_genetics", "test")
        [sample] = load_samples(local.data, local.directory)
        assert (sample.id, sample.target, sample.fields["options"]) == ("test-001", "C", ["a", "b", "c", "d"])
    assert apply_overrides(suite, DataOverrides(by_id={"other/set": copy}, where={"other/set": "[data]"})) is suite


def test_override_errors_name_the_option(tmp_path: Path) -> None:
    suite = load_suite("mmlu-genetics")
    with pytest.raises(ConfigError, match=r"--data other/set=x: suite 'mmlu-genetics' .* reads 'cais/mmlu'"):
        apply_overrides(suite, DataOverrides(by_id={"other/set": tmp_path}, where={"other/set": "--data other/set=x"}))
    with pytest.raises(DataError, match=r"the local copy .*nope.csv does not exist .*stands for 'cais/mmlu'"):
        apply_overrides(suite, DataOverrides(by_id={"cais/mmlu": tmp_path / "nope.csv"}))
    with pytest.raises(DataError, match=r"is a folder; suite 'mmlu-genetics' needs MMLU's original CSV"):
        apply_overrides(suite, DataOverrides(by_id={"cais/mmlu": tmp_path}))
    bsard = load_suite(str(REPO / "benchmarks/bsard/hub.yaml"))
    with pytest.raises(DataError, match=r"is a file; suite 'bsard-hub' needs a folder laid out like the hub"):
        apply_overrides(bsard, DataOverrides(by_id={}, own=REPO / "benchmarks/bsard/articles.csv"))


@needs_shared
def test_eurlex_hub_suite_on_the_shared_copy_equals_the_data_files_path() -> None:
    suite = load_suite(str(REPO / "benchmarks/eurlex/hub.yaml"))
    local = apply_overrides(suite, DataOverrides(by_id={"coastalcph/multi_eurlex": SHARED / "multi_eurlex/test.jsonl"}))
    samples = load_samples(local.data, local.directory)
    direct = suite.data.model_copy(update={"path": "json", "data_files": str(SHARED / "multi_eurlex/test.jsonl"),
                                           "split": "train"})
    assert samples and [(s.id, s.input, s.target) for s in samples] == [
        (s.id, s.input, s.target) for s in load_samples(direct, suite.directory)]


def test_bsard_hub_suite_on_a_folder_laid_out_like_the_hub() -> None:
    hub = load_suite(str(REPO / "benchmarks/bsard/hub.yaml"))
    bundled = load_suite(str(REPO / "benchmarks/bsard/suite.yaml"))
    local = apply_overrides(hub, DataOverrides(by_id={"maastrichtlawtech/bsard": REPO / "benchmarks/bsard"}))
    assert local.data.copy_of == "maastrichtlawtech/bsard"
    assert load_samples(local.data, local.directory) == load_samples(bundled.data, bundled.directory)
