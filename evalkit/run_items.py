"""A run's items read back together: each sample with its result and every model's generations of it.

generations.jsonl is written in the order calls finish (models interleaved, or one model after the other), so a
sample's generations are scattered through it. `GenerationIndex` finds them without holding them: one pass
over the file records, per line, only its byte offset, the sample's position, the model and the attempt
and line length (22 bytes); reading a sample's generations back is then a few positioned reads. Sample ids are
matched by their 64-bit hash (Python's, within the process), so the index holds no strings either; two ids
sharing one would be refused, and a generation of an id outside the run matches one of its samples with odds
of about 1 in 10^13 per line at a million samples.

    index = GenerationIndex(s.id for s in samples)
    for offset, length, g in store.generations().with_offsets(lengths=True):
        index.add(offset, g, length)
    for sample, per_model in zip(samples, index.groups(store.generations(), models)):
        ...   # per_model[model] is that model's attempts, in attempt order
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.records import Generation, RunResult, Sample, SampleResult
from evalkit.store import RecordFile

__all__ = ["GenerationIndex", "RunItem", "iter_run_items"]

_BLOCK = 4096
"""Samples whose offsets are turned into Python lists at a time, while reading generations back."""

Groups = Mapping[str, tuple[Generation, ...]]
"""One sample's generations: per model name, its attempts in attempt order."""


class GenerationIndex:
    """Where each sample's generations are in generations.jsonl (see the module docstring)."""

    def __init__(self, sample_ids: Iterable[str]) -> None:
        keys = np.fromiter((hash(s) for s in sample_ids), dtype=np.int64)
        self.n_samples = int(keys.size)
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        if self._sorted.size > 1 and bool(np.any(self._sorted[1:] == self._sorted[:-1])):
            # Equal hashes: a repeated id (loaders refuse those) or, at odds of 1 in 10^8 per million, a
            # collision; either way positions would be ambiguous.
            raise ValueError("sample ids must be distinct (two ids share a hash)")
        self._keys = array("q")
        self._offsets = array("q")
        self._lengths = array("i")
        self._models = array("h")
        self._attempts = array("i")
        self._model_codes: dict[str, int] = {}

    def add(self, offset: int, g: Generation, length: int = 0) -> None:
        """Record one generation read at byte `offset` (its line `length` bytes long, 0: unknown)."""
        self.add_fields(offset, length, g.sample_id, g.model, g.attempt)

    def add_fields(self, offset: int, length: int, sample_id: str, model: str, attempt: int) -> None:
        """`add` from the fields of a generation's line (for passes that read lines as plain dicts)."""
        code = self._model_codes.setdefault(model, len(self._model_codes))
        self._keys.append(hash(sample_id))
        self._offsets.append(offset)
        self._lengths.append(length)
        self._models.append(code)
        self._attempts.append(attempt)

    def positions_of(self, sample_ids: Iterable[str]) -> list[int]:
        """Each id's position among the indexed samples (-1 for an id that is not one of them)."""
        keys = np.fromiter((hash(s) for s in sample_ids), dtype=np.int64)
        return self._lookup(keys).tolist()

    def _positions(self) -> np.ndarray:
        keys = np.frombuffer(self._keys, dtype=np.int64) if len(self._keys) else np.empty(0, np.int64)
        return self._lookup(keys)

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        if self._sorted.size == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted, keys), self._sorted.size - 1)
        return np.where(self._sorted[at] == keys, self._order[at], -1)

    def groups(self, generations: RecordFile[Generation], models: Sequence[str]) -> Iterator[Groups]:
        """Each sample's generations, in sample order, read from `generations` (the file indexed)."""
        pos = self._positions()
        models_arr = np.frombuffer(self._models, dtype=np.int16) if len(self._models) else np.empty(0, np.int16)
        attempts = np.frombuffer(self._attempts, dtype=np.int32) if len(self._attempts) else np.empty(0, np.int32)
        offsets = np.frombuffer(self._offsets, dtype=np.int64) if len(self._offsets) else np.empty(0, np.int64)
        lengths = np.frombuffer(self._lengths, dtype=np.int32) if len(self._lengths) else np.empty(0, np.int32)
        line = np.arange(pos.size)
        keep = pos >= 0
        # Grouped by sample, then model and attempt; within one (sample, model, attempt) the last line wins.
        order = np.lexsort((line[keep], attempts[keep], models_arr[keep], pos[keep]))
        pos_k, off_k = pos[keep][order], offsets[keep][order]
        len_k = lengths[keep][order]
        model_k, attempt_k = models_arr[keep][order], attempts[keep][order]
        last = np.ones(order.size, dtype=bool)
        if order.size > 1:
            same = (pos_k[1:] == pos_k[:-1]) & (model_k[1:] == model_k[:-1]) & (attempt_k[1:] == attempt_k[:-1])
            last[:-1] = ~same
        bounds = np.searchsorted(pos_k[last], np.arange(self.n_samples + 1))
        off_k, len_k = off_k[last], len_k[last]
        validate = Generation.model_validate_json
        fd = os.open(generations.path, os.O_RDONLY)
        try:
            with open(fd, "rb", closefd=False) as fh:
                for start in range(0, self.n_samples, _BLOCK):
                    # Plain lists per block: the loop runs once per sample, where numpy scalars cost more than
                    # they save; whole-run lists of Python ints would cost 36 bytes per line.
                    stop = min(start + _BLOCK, self.n_samples)
                    b = bounds[start:stop + 1].tolist()
                    offs, lens = off_k[b[0]:b[-1]].tolist(), len_k[b[0]:b[-1]].tolist()
                    base = b[0]
                    for p in range(stop - start):
                        gens = []
                        for j in range(b[p] - base, b[p + 1] - base):
                            if lens[j]:
                                raw = os.pread(fd, lens[j], offs[j])
                            else:
                                fh.seek(offs[j])
                                raw = fh.readline()
                            gens.append(validate(raw))
                        yield _grouped(gens, models)
        finally:
            os.close(fd)


def _grouped(gens: Iterable[Generation], models: Sequence[str]) -> Groups:
    out: dict[str, list[Generation]] = {}
    for g in gens:
        out.setdefault(g.model, []).append(g)
    ordered = {m: tuple(sorted(out[m], key=lambda g: g.attempt)) for m in models if m in out}
    ordered.update({m: tuple(sorted(v, key=lambda g: g.attempt)) for m, v in out.items() if m not in ordered})
    return ordered


@dataclass(frozen=True)
class RunItem:
    """One item of a run: the sample, its result (None when it has none) and every model's generations."""

    sample: Sample
    result: SampleResult | None
    generations: Groups


def iter_run_items(run: RunResult, models: Sequence[str],
                   index: GenerationIndex | None = None) -> Iterator[RunItem]:
    """Every sample of `run` with its result and generations, in sample order, in one pass.

    For a run read from its directory, `index` is the GenerationIndex built over its generations (in a pass the
    caller makes anyway); without one, the generations are grouped in memory (runs built in memory are small).
    """
    samples, results = run.samples, run.results
    if index is not None and isinstance(run.generations, RecordFile):
        groups: Iterable[Groups] = index.groups(run.generations, models)
    else:
        by_sample: dict[str, list[Generation]] = {}
        latest: dict[tuple[str, str, int], Generation] = {}
        for g in run.generations:
            latest[(g.sample_id, g.model, g.attempt)] = g
        for g in latest.values():
            by_sample.setdefault(g.sample_id, []).append(g)
        groups = (_grouped(by_sample.get(s.id, ()), models) for s in samples)
    result_iter: Iterator[SampleResult] = iter(results)
    by_id: dict[str, SampleResult] | None = None
    for sample, group in zip(samples, groups):
        result = next(result_iter, None) if by_id is None else by_id.get(sample.id)
        if by_id is None and result is not None and result.sample_id != sample.id:
            # Results built in memory by hand may be in any order: match them by id from here on.
            by_id = {r.sample_id: r for r in results}
            result = by_id.get(sample.id)
        yield RunItem(sample=sample, result=result, generations=group)
