"""Map the repository's top-level suites, judge files and demo adapters into the package (evalkit/_bundled/).

Everything else about the build is declared in pyproject.toml. This file exists because the mapping depends on
the tree: every suite folder (a folder of benchmarks/ holding a suite.yaml) and every adapter folder is listed,
so a new suite ships without touching the build, and folders of scripts that are not suites (benchmarks/perf,
benchmarks/sequential) never do. setuptools needs each data folder listed as a package of its own (else it
warns that the folder "would be ignored"); none of them is imported: evalkit.resources reads them as files.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
BUNDLED = "evalkit._bundled"


def _folders(top: str, keep) -> dict[str, str]:
    """Package name -> source folder for `top` and every kept sub-folder (nested ones included)."""
    base = ROOT / top
    mapping = {f"{BUNDLED}.{top}": top}
    for sub in sorted(p for p in base.iterdir() if p.is_dir() and keep(p)):
        for folder in [sub, *sorted(d for d in sub.rglob("*") if d.is_dir() and d.name != "__pycache__")]:
            rel = folder.relative_to(ROOT).as_posix()
            mapping[f"{BUNDLED}.{'.'.join(folder.relative_to(ROOT).parts)}"] = rel
    return mapping


MAPPING = {
    **_folders("benchmarks", lambda d: (d / "suite.yaml").is_file()),
    **_folders("judges", lambda d: False),
    **_folders("adapters", lambda d: True),
}

# Namespace discovery, so that template folders (report/templates, human/templates) count as the packages
# Python sees in them.
PACKAGES = find_namespace_packages(include=["evalkit", "evalkit.*"], exclude=["*.__pycache__", "evalkit._bundled*"])

setup(
    packages=[*PACKAGES, *MAPPING],
    package_dir=MAPPING,
    package_data={
        "evalkit.report": ["*.json"],
        # Folders of evalkit without an __init__.py hold data only (report/, human/, history/templates): all of it.
        **{name: ["*"] for name in PACKAGES if not (ROOT / name.replace(".", "/") / "__init__.py").is_file()},
        # Every file of a bundled folder; the scripts beside a suite (build_data.py, train_adapter.py: how its
        # data and adapter were made) come along as the modules of their folder.
        **{name: ["*"] for name in MAPPING},
    },
    exclude_package_data={name: ["*.pyc"] for name in [*PACKAGES, *MAPPING]},
)
