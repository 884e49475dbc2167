"""What a report reads from a run's records, in one pass over each file: call counts, latencies and time to first
token per model, and the sample explorer's items.

The explorer embeds at most MAX_EXPLORER_ITEMS items in report.html: the items where models disagree first
(all of them, or a seeded sample when there are more), then a seeded sample of the others, both kept by
reservoir sampling while the items stream by, so no pass holds more than that. Every item also goes, in run
order, to the files beside the report (`report-items/items-00001.js`, ITEMS_PER_FILE items each), which the
page loads on demand with <script> elements (a page opened from disk may not fetch() a sibling file, but it may
run a sibling script). Each file is one call `evalkitItems(file number, [item, ...])` whose argument is JSON
with `<`, `>`, `&`, U+2028 and U+2029 escaped: data, never markup; the page renders it with textContent.
"""

from __future__ import annotations

import math
import random
import shutil
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import orjson

from evalkit.records import Generation, RunResult
from evalkit.report._samples import build_view, view_row
from evalkit.run_items import GenerationIndex, iter_run_items
from evalkit.store import RecordFile

__all__ = ["ITEMS_DIR", "ITEMS_PER_FILE", "MAX_EXPLORER_ITEMS", "CallStats", "Explorer", "ReportData",
           "report_data"]

MAX_EXPLORER_ITEMS = 500
"""Items embedded in report.html (the rest are in the items files)."""
ITEMS_PER_FILE = 1000
"""Items per file beside the report: a page of the explorer."""
ITEMS_DIR = "report-items"
"""The folder of items files, beside report.html."""


@dataclass(frozen=True)
class CallStats:
    """How one model's calls went."""

    total: int
    failed: int
    cached: int
    retries: int


@dataclass(frozen=True)
class Explorer:
    """The sample explorer: the embedded items (SampleView, in display order) and what the page says about
    them and the others."""

    views: tuple[object, ...]
    n_items: int
    n_disagree: int
    """Items where models disagree, over the whole run."""
    n_failed: int
    """Items with a failed call, over the whole run."""
    shown_disagree: int
    """Of the embedded items, those where models disagree (they come first)."""
    seed: int
    files: int = 0
    """Items files written beside the report (0: none, e.g. a report rendered to a string)."""
    per_file: int = ITEMS_PER_FILE

    @property
    def intro(self) -> str:
        """What the embedded items are, in words ("showing N of M items: ..."); empty when all are shown."""
        shown = len(self.views)
        if shown >= self.n_items:
            return ""
        others = shown - self.shown_disagree
        parts = []
        if self.shown_disagree:
            parts.append(f"all {self.n_disagree:,} items where the models disagree" if self.shown_disagree == self.n_disagree
                         else f"a seeded sample of {self.shown_disagree:,} of the {self.n_disagree:,} items where the "
                              f"models disagree")
        if others:
            rest = self.n_items - self.n_disagree
            parts.append(f"a seeded random sample of {others:,} of the {rest:,} " + ("other items" if self.n_disagree
                                                                                    else "items"))
        where = (f"Every item is in the {self.files:,} file(s) of {ITEMS_DIR}/ beside this report: browse or search "
                 f"them all below." if self.files else
                 "Every item is in the run directory (samples.jsonl, generations.jsonl, results.jsonl).")
        return (f"Showing {shown:,} of {self.n_items:,} items: " + ", then ".join(parts)
                + f" (seed {self.seed}), each group in run order. {where}")


@dataclass(frozen=True)
class ReportData:
    """Everything a report needs from a run's records besides its summary."""

    models: tuple[str, ...]
    n_items: int
    calls: Mapping[str, CallStats]
    latencies: Mapping[str, np.ndarray]
    ttfts: Mapping[str, np.ndarray]
    explorer: Explorer
    n_judgments: int = 0
    """Judge calls stored with the results, over every item."""

    @property
    def calls_per_item(self) -> float | None:
        """Model and judge calls per item, as this run made them (None without items)."""
        if not self.n_items:
            return None
        return (sum(c.total for c in self.calls.values()) + self.n_judgments) / self.n_items


@dataclass
class _CallCounts:
    total: int = 0
    failed: int = 0
    cached: int = 0
    retries: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    ttfts: array = field(default_factory=lambda: array("d"))

    def add(self, g: Generation) -> None:
        self.add_fields(g.ok, g.cached, g.retries, g.latency_s, g.ttft_s)

    def add_raw(self, d: dict[str, Any]) -> None:
        """A generation as its line's plain dict (Generation.ok: no error and an output)."""
        self.add_fields(d.get("error") is None and d.get("output") is not None, bool(d.get("cached")),
                        int(d.get("retries") or 0), d.get("latency_s"), d.get("ttft_s"))

    def add_fields(self, ok: bool, cached: bool, retries: int, latency: float | None, ttft: float | None) -> None:
        self.total += 1
        self.failed += not ok
        self.cached += cached
        self.retries += retries
        if ok and latency is not None and math.isfinite(latency):
            self.latencies.append(float(latency))
        if ok and ttft is not None and math.isfinite(ttft):
            self.ttfts.append(float(ttft))


def declared_models(run: RunResult) -> list[str]:
    """Model names in `--models` order, then any other model the summary mentions."""
    names: list[str] = [str(m.get("name", "")) for m in run.info.models if m.get("name")]
    for name in run.summary.metrics:
        if name not in names:
            names.append(name)
    return names


def report_data(run: RunResult, items_dir: Path | None = None, *, max_items: int = MAX_EXPLORER_ITEMS,
                per_file: int = ITEMS_PER_FILE) -> ReportData:
    """Read what the report shows from `run`'s records; with `items_dir`, also write every item there (the
    folder is replaced)."""

    models = declared_models(run)
    counts: dict[str, _CallCounts] = {m: _CallCounts() for m in models}
    index: GenerationIndex | None = None
    if isinstance(run.generations, RecordFile):
        # Counting needs a few fields per line: plain dicts, not validated records (four times faster).
        ids = (d["id"] for d in run.samples.raw()) if isinstance(run.samples, RecordFile) else \
            (s.id for s in run.samples)
        index = GenerationIndex(ids)
        for offset, length, d in run.generations.raw(offsets=True):
            model = d["model"]
            index.add_fields(offset, length, d["sample_id"], model, int(d.get("attempt") or 0))
            counts.setdefault(model, _CallCounts()).add_raw(d)
    else:
        for g in run.generations:
            counts.setdefault(g.model, _CallCounts()).add(g)
    models += [m for m in counts if m not in models]
    order = tuple(models)

    seed = run.info.seed
    rng = random.Random(seed)
    pools: dict[bool, list[tuple[int, object]]] = {True: [], False: []}
    seen = {True: 0, False: 0}
    n_items = n_disagree = n_failed = n_judgments = 0
    writer = _ItemsWriter(items_dir, per_file) if items_dir is not None else None
    done = False
    try:
        for i, item in enumerate(iter_run_items(run, order, index)):
            view = build_view(item, order)
            n_items += 1
            n_judgments += len(item.result.judgments) if item.result is not None else 0
            n_disagree += view.disagree
            n_failed += view.failed
            if writer is not None:
                writer.add(i, view)
            # Reservoir sampling (Algorithm R), one reservoir per kind: a seeded uniform sample in one pass.
            pool, k = pools[view.disagree], seen[view.disagree]
            seen[view.disagree] += 1
            if len(pool) < max_items:
                pool.append((i, view))
            else:
                j = rng.randrange(k + 1)
                if j < max_items:
                    pool[j] = (i, view)
        done = True
    finally:
        if writer is not None:
            writer.close(keep=done)
    disagree = sorted(pools[True], key=lambda p: p[0])
    room = max_items - len(disagree)
    # A uniform subsample of a uniform reservoir is a uniform sample of the others.
    others = pools[False] if len(pools[False]) <= room else rng.sample(pools[False], room)
    others = sorted(others, key=lambda p: p[0])
    explorer = Explorer(views=tuple(v for _, v in disagree + others), n_items=n_items, n_disagree=n_disagree,
                        n_failed=n_failed, shown_disagree=len(disagree), seed=seed,
                        files=writer.files if writer is not None else 0, per_file=per_file)
    return ReportData(
        models=order, n_items=n_items,
        calls={m: CallStats(c.total, c.failed, c.cached, c.retries) for m, c in
               ((m, counts[m]) for m in order)},
        latencies={m: np.frombuffer(counts[m].latencies, dtype=np.float64) for m in order},
        ttfts={m: np.frombuffer(counts[m].ttfts, dtype=np.float64) for m in order},
        explorer=explorer, n_judgments=n_judgments)


_JS_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"), ("\u2028".encode(), b"\\u2028"),
               ("\u2029".encode(), b"\\u2029"))


def js_data(value: object) -> str:
    """`value` as JSON that is also safe JavaScript source anywhere (no markup characters, no line separators)."""
    return js_bytes(value).decode("utf-8")


def js_bytes(value: object) -> bytes:
    """js_data as UTF-8 bytes (orjson: the items files of a million-item report are a million of these)."""
    out = orjson.dumps(value, default=str)
    for raw, escaped in _JS_ESCAPES:
        if raw in out:
            out = out.replace(raw, escaped)
    return out


class _ItemsWriter:
    """Writes the items, in order, ITEMS_PER_FILE to a file (report-items/items-00001.js, ...)."""

    def __init__(self, folder: Path, per_file: int) -> None:
        self.folder = folder
        self.per_file = per_file
        self.files = 0
        self._tmp = folder.with_name(f".{folder.name}.tmp")
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        self._fh = None
        self._in_file = 0

    def add(self, i: int, view: object) -> None:
        if self._fh is None or self._in_file >= self.per_file:
            self._next()
        assert self._fh is not None
        self._fh.write((b"," if self._in_file else b"") + js_bytes(view_row(i, view)) + b"\n")  # type: ignore[arg-type]
        self._in_file += 1

    def _next(self) -> None:
        self._finish()
        self.files += 1
        self._fh = (self._tmp / item_file_name(self.files)).open("wb")
        self._fh.write(f"evalkitItems({self.files}, [\n".encode())
        self._in_file = 0

    def _finish(self) -> None:
        if self._fh is not None:
            self._fh.write(b"]);\n")
            self._fh.close()
            self._fh = None

    def close(self, keep: bool) -> None:
        """Finish the last file and put the folder in place of the old one (or drop it, when not `keep`)."""
        self._finish()
        if not keep:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        self._tmp.rename(self.folder)


def item_file_name(number: int) -> str:
    """The name of items file `number` (from 1)."""
    return f"items-{number:05d}.js"
