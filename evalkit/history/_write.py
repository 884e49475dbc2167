"""Writing the history pages, each file atomically (a reader sees the old page or the new one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from evalkit.history._compare import RunComparison
from evalkit.history._entries import list_runs
from evalkit.history._render import (
    comparison_document,
    dumps,
    render_comparison_html,
    render_comparison_markdown,
    render_index,
)
from evalkit.store import write_atomic

INDEX_FILE = "index.html"
COMPARISONS_DIR = "comparisons"


@dataclass(frozen=True)
class ComparisonPaths:
    """Where write_comparison put each file."""

    html: Path
    markdown: Path
    json: Path


def write_index(root: Path | str, metric: str | None = None) -> Path:
    """Write `root/index.html`, linking every run below `root` (and every comparison page written under
    `root/comparisons/`) with its headline numbers; the page's path. Call it after each run to keep it current."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    comparisons = sorted((root / COMPARISONS_DIR).glob("*/compare.html"))
    path = root / INDEX_FILE
    write_atomic(path, render_index(list_runs(root, metric), root, comparisons))
    return path


def default_comparison_dir(cmp: RunComparison) -> Path:
    """`<folder of run B>/comparisons/<A>--vs--<B>/`: beside the runs, where the index finds it."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{cmp.b.run_id}--vs--{cmp.a.run_id}")
    return cmp.b.path.parent / COMPARISONS_DIR / name


def write_comparison(cmp: RunComparison, out_dir: Path | None = None) -> ComparisonPaths:
    """Write compare.html, compare.md and compare.json into `out_dir` (default: default_comparison_dir)."""
    out_dir = Path(out_dir) if out_dir is not None else default_comparison_dir(cmp)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = ComparisonPaths(html=out_dir / "compare.html", markdown=out_dir / "compare.md",
                            json=out_dir / "compare.json")
    write_atomic(paths.json, dumps(comparison_document(cmp)))
    write_atomic(paths.markdown, render_comparison_markdown(cmp))
    write_atomic(paths.html, render_comparison_html(cmp, out_dir))
    return paths
