"""evalkit as a user installs it: build the sdist and, from it, the wheel; install the wheel into a fresh
virtualenv (no system site-packages, the repository nowhere on the path); run it from an empty folder.

`slow`: building takes ~10 s, the install ~1 minute from pip's warm cache (the virtualenv is made without pip
and filled by this interpreter's pip through `--python`, without byte-compiling), the news run ~30 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from suite_refs import outside_references, path_references

from evalkit.sources.hub import looks_like_hub_id

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SUITES = sorted(d.name for d in (REPO / "benchmarks").iterdir() if (d / "suite.yaml").is_file())
LISTED = sorted([*SUITES, *(f"{s}-hub" for s in SUITES if (REPO / "benchmarks" / s / "hub.yaml").is_file())])
JUDGES = sorted(yaml.safe_load(f.read_text(encoding="utf-8"))["id"] for f in (REPO / "judges").glob("*.yaml"))
BUNDLED = "evalkit/_bundled/"


def _tracked(folder: str) -> list[str]:
    """The repository's files under `folder` that a distribution must carry (no caches, no bytecode)."""
    return sorted(p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel built from it (`python -m build`, without isolation: offline, this venv's
    setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"build: {time.monotonic() - started:.1f} s")
    # The build's own output names no deprecated or ignored configuration.
    assert "Warning" not in done.stderr and "deprecated" not in done.stdout.lower(), done.stderr[-3000:]
    [wheel] = out.glob("evalkit-*.whl")
    [sdist] = out.glob("evalkit-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def test_the_wheel_carries_suites_judges_and_adapters(dist: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    for suite in SUITES:
        for f in _tracked(f"benchmarks/{suite}"):
            assert BUNDLED + f in names, f"{f} is not in the wheel"
    for f in [*_tracked("judges"), *_tracked("adapters")]:
        assert BUNDLED + f in names, f"{f} is not in the wheel"
    assert not [n for n in names if n.startswith((BUNDLED + "benchmarks/perf/", BUNDLED + "benchmarks/sequential/"))]
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert {"evalkit/report/templates/report.html.j2", "evalkit/human/templates/packet.html.j2",
            "evalkit/history/templates/index.html.j2", "evalkit/report/results.schema.json"} <= names
    meta = zipfile.ZipFile(dist["wheel"]).read("evalkit-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in meta
    assert "evalkit-0.1.0.dist-info/licenses/adapters/NOTICE-GEMMA" in names
    print(f"wheel: {dist['wheel'].stat().st_size / 1e6:.1f} MB, {len(names)} files, "
          f"{sum(n.startswith(BUNDLED) for n in names)} bundled")


def test_the_sdist_carries_the_sources_of_the_bundle(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for suite in SUITES:
        assert set(_tracked(f"benchmarks/{suite}")) <= names
    assert set(_tracked("judges")) | set(_tracked("adapters")) <= names
    assert {"setup.py", "pyproject.toml", "LICENSE", "README.md"} <= names
    assert not [n for n in names if n.startswith(("benchmarks/perf/", "benchmarks/sequential/"))]


def test_no_shipped_suite_names_a_path_outside_the_distribution(dist: dict[str, Path]) -> None:
    wheel = zipfile.ZipFile(dist["wheel"])
    names = set(wheel.namelist())
    suite_files = sorted(n for n in names if n.startswith(BUNDLED + "benchmarks/") and n.endswith(".yaml"))
    assert len(suite_files) >= len(SUITES)
    for name in suite_files:
        text = wheel.read(name).decode("utf-8")
        assert outside_references(name, text, BUNDLED) == [], f"{name} names a path outside the distribution"
        for ref in path_references(text):
            target = os.path.normpath(os.path.join(os.path.dirname(name), ref))
            assert target in names or any(n.startswith(target + "/") for n in names), f"{name}: {ref} is not shipped"
        data = (yaml.safe_load(text) or {}).get("data") or {}
        path = data.get("path")
        if isinstance(path, str) and not looks_like_hub_id(path):  # a local data file or folder
            target = os.path.normpath(os.path.join(os.path.dirname(name), path))
            assert target in names or any(n.startswith(target + "/") for n in names), f"{name}: data {path}"


# ---------------------------------------------------------------------------------------------------------
# Installed into a fresh virtualenv, used from an empty folder


@pytest.fixture(scope="module")
def installed(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("user")
    venv = root / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                           "--quiet", "--no-compile", str(dist["wheel"])], capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"fresh virtualenv + install: {time.monotonic() - started:.1f} s")
    work = root / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "80",
                "EVALKIT_CACHE_DIR": str(root / "cache"), "HF_HUB_OFFLINE": "1"})
    for var in ("EVALKIT_BENCHMARKS", "EVALKIT_JUDGES", "EVALKIT_LLAMA_LOG"):
        env.pop(var, None)
    return {"venv": venv, "work": work, "env": env}


def _evalkit(installed: dict[str, object], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    venv = installed["venv"]
    assert isinstance(venv, Path)
    return subprocess.run([str(venv / "bin" / "evalkit"), *args], cwd=installed["work"], env=installed["env"],
                          capture_output=True, text=True, timeout=timeout, check=False)


# What evalkit itself prints: table borders and rows, titles, progress bars, its own sentences, the report path.
_OWN = re.compile(r"^\s*$|^[┏┃┡│└]|^\s+([\w-]+ \(\w+\)|suites|models|judges)\s*$|^(base|ft)\s+━|"
                  r"^\(\+x\) = delta|^Model calls: |.*\bcached\s*$|^Full descriptions|^Adapters, descriptions|"
                  r"^Demo fine-tuned|.*/report\.html$")
_LIBRARY = re.compile(r"llama_|ggml_|load_tensors|print_info|sched_|Warning|warnings\.warn|setuptools|"
                      r"Traceback|UserWarning|FutureWarning|DeprecationWarning|tqdm|it/s\]|\[INFO|WARNING")


def _foreign(text: str) -> list[str]:
    """Lines evalkit would not print: anything a library wrote to the console."""
    return [line for line in text.splitlines() if _LIBRARY.search(line) or not _OWN.match(line)]


def test_the_installed_package_runs_from_any_folder(installed: dict[str, object]) -> None:
    venv = installed["venv"]
    assert isinstance(venv, Path)
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import evalkit, evalkit.resources as r; print(evalkit.__file__); print(r.bundled_root())"],
                           cwd=installed["work"], env=installed["env"], capture_output=True, text=True, check=True)
    module, root = where.stdout.split()
    site = str(venv / "lib")
    assert module.startswith(site) and root.startswith(site) and root.endswith("evalkit/_bundled")
    assert str(REPO) not in where.stdout

    suites = _evalkit(installed, "suites")
    assert suites.returncode == 0, suites.stderr
    listed = re.findall(r"^│ (\S+)\s+│", suites.stderr, re.MULTILINE)
    assert listed == LISTED
    assert all(len(line) <= 80 for line in suites.stderr.splitlines())
    assert _foreign(suites.stdout + suites.stderr) == []

    judges = _evalkit(installed, "judge", "list")
    assert judges.returncode == 0, judges.stderr
    for judge in JUDGES:
        assert re.search(rf"^│ {re.escape(judge[:10])}", judges.stdout + judges.stderr, re.MULTILINE), judge

    models = _evalkit(installed, "models", "--suite", "news", "--verbose")
    assert models.returncode == 0, models.stderr
    out = " ".join((models.stdout + models.stderr).split())
    assert "ft llamacpp gemma3-270m, defined in" in out
    assert "_bundled/benchmarks/news/suite.yaml" in out.replace(" ", "")  # rich may wrap the long path

    started = time.monotonic()
    run = _evalkit(installed, "run", "news", "--models", "base,ft", "--limit", "5", timeout=1200)
    print(f"evalkit run news --limit 5: {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, run.stderr[-4000:]
    work = installed["work"]
    assert isinstance(work, Path)
    report = work / run.stdout.strip().splitlines()[-1]  # relative to the working folder: reports/<run>/
    assert report.is_file() and report.name == "report.html" and report.parent.parent == work / "reports"
    assert "news_related" in report.read_text(encoding="utf-8")
    assert _foreign(run.stdout + run.stderr) == [], run.stderr
    assert "Model calls: base: 5 calls, 0 cached, ft: 5 calls, 0 cached" in run.stderr


def test_bsard_and_eurlex_run_from_the_bundle(installed: dict[str, object]) -> None:
    """The other demo adapters and the check judge resolve inside the installed package (one item each)."""
    for suite in ("eurlex", "bsard"):
        run = _evalkit(installed, "run", suite, "--models", "base,ft", "--limit", "1", "--quiet", timeout=1800)
        assert run.returncode == 0, run.stderr[-4000:]
        assert _foreign(run.stdout + run.stderr) == [], run.stderr
        work = installed["work"]
        assert isinstance(work, Path) and (work / run.stdout.strip().splitlines()[-1]).is_file()
