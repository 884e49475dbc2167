"""Charts drawn once per run: report-items/charts.json keeps a report's rendered charts under a digest of
everything they show, so re-rendering the report (`evalkit report`, a human-verdict import) with the same data
draws nothing and imports no matplotlib (the two together were a third of re-rendering a 100,000-item run).

The digest covers the evalkit version, the chart modules' own source, the summary, the models' metadata,
training curves, the sequential record and the per-call latencies and times to first token; any change draws
every chart again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.records import RunResult
from evalkit.version import __version__

__all__ = ["CACHE_FILE", "ChartCache"]

CACHE_FILE = "charts.json"
_SOURCES = ("charts.py", "sweep_charts.py", "sequential_charts.py", "html.py")

Charts = list[tuple[str, str]]
"""(caption, data URI) of each chart, in page order."""


class ChartCache:
    """The charts of the previous render of a report (read before its items folder is replaced)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._entry: dict[str, Any] | None = None
        path = folder / CACHE_FILE if folder is not None else None
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self._entry = loaded if isinstance(loaded, dict) else None
            except (OSError, ValueError):
                self._entry = None  # a damaged cache is only a missed one
        self._new: dict[str, Any] | None = None

    def charts(self, run: RunResult, latencies: Mapping[str, np.ndarray], ttfts: Mapping[str, np.ndarray],
               draw: Callable[[], Charts]) -> Charts:
        """The run's charts: the cached ones when nothing they show changed, else `draw()` (and remembered)."""
        key = digest(run, latencies, ttfts)
        if self._entry is not None and self._entry.get("key") == key:
            charts = [(str(t), str(u)) for t, u in self._entry.get("charts", [])]
        else:
            charts = draw()
        self._new = {"key": key, "charts": [list(c) for c in charts]}
        return charts

    def save(self, folder: Path) -> None:
        """Write the charts of this render into `folder` (the report's items folder)."""
        if self._new is not None:
            (folder / CACHE_FILE).write_text(json.dumps(self._new), encoding="utf-8")


def digest(run: RunResult, latencies: Mapping[str, np.ndarray], ttfts: Mapping[str, np.ndarray]) -> str:
    """A digest of everything the charts of `run` show, and of the code that draws them."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    h.update(run.summary.model_dump_json().encode())
    h.update(json.dumps([run.info.reference, list(run.info.models)], sort_keys=True, default=str).encode())
    h.update(json.dumps({m: c.model_dump(mode="json") for m, c in sorted(run.training.items())},
                        sort_keys=True).encode())
    if run.sequential is not None:
        h.update(run.sequential.model_dump_json().encode())
    for values in (latencies, ttfts):
        for m in sorted(values):
            h.update(m.encode() + b"\0" + np.ascontiguousarray(values[m], dtype=np.float64).tobytes())
    return h.hexdigest()
