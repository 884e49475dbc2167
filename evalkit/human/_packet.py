"""Building a blind packet from a run: the items, the seeded left/right order, the hashes, and the key.

Blinding rules, applied here once:
- items get neutral ids (`i001`, ... in sample order) and candidates are called `1` and `2`: no model name,
  model id, adapter, suite or run name enters the packet content; the run appears only as a fingerprint;
- each rater gets their own order of items and sides, drawn from `random.Random` seeded with the export seed,
  the packet id and the rater id: the same command gives the same packet; the sides are exactly balanced
  (model_a is shown first on half the items, rounding down for an odd count, then shuffled);
- the key (which model is on which side) is kept in the run directory, with the SHA-256 of each rater's packet
  content and of itself, so a packet, its key and its verdicts can be checked against each other.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence

from evalkit.errors import ConfigError, DataError
from evalkit.human._records import KeyItem, PacketItem, PacketKey, RaterKey
from evalkit.human._tasks import StudyTask
from evalkit.records import RunResult

__all__ = ["HYPOTHESIS_KEY", "build_packet", "candidate_texts", "key_sha256", "packet_sha256", "rater_items",
           "run_fingerprint"]

HYPOTHESIS_KEY = "hypothesis"
"""ModelScore.details key of the text a task scored (the translation task sets it); a rater sees that text.
Tasks without it: the generation's output, stripped."""


def _sha(obj: object) -> str:
    blob = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def run_fingerprint(run_id: str) -> str:
    """The only trace of the run in a packet: a hash of its id (a run id may name the suite)."""
    return hashlib.sha256(f"evalkit-run|{run_id}".encode()).hexdigest()[:16]


def packet_sha256(packet_id: str, run: str, rater: str, task: str, items: Sequence[PacketItem]) -> str:
    """SHA-256 of what one rater sees: ids, task, and every item's texts in display order."""
    return _sha({"packet_id": packet_id, "run": run, "rater": rater, "task": task,
                 "items": [i.model_dump(mode="json") for i in items]})


def key_sha256(key: PacketKey) -> str:
    """SHA-256 of a key without its own `key_sha256` field."""
    return _sha(key.model_dump(mode="json", exclude={"key_sha256"}))


def candidate_texts(run: RunResult, models: Sequence[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per sample id, each model's text as a rater should see it; and the samples left out, with why."""
    scored: dict[tuple[str, str], str] = {}
    for r in run.results:
        for model, score in r.scores.items():
            text = score.details.get(HYPOTHESIS_KEY)
            if isinstance(text, str):
                scored[(r.sample_id, model)] = text
    outputs = {(g.sample_id, g.model): g.output.strip() for g in run.generations
               if g.attempt == 0 and g.ok and g.output is not None}
    texts: dict[str, dict[str, str]] = {}
    excluded: dict[str, str] = {}
    for s in run.samples:
        per = {}
        for m in models:
            text = scored.get((s.id, m), outputs.get((s.id, m)))
            if text is not None:
                per[m] = text
        missing = [m for m in models if m not in per]
        if missing:
            excluded[s.id] = f"no output from {', '.join(missing)}"
        else:
            texts[s.id] = per
    return texts, excluded


def _pair(run: RunResult, models: Sequence[str] | None) -> tuple[str, str]:
    names = [str(m.get("name")) for m in run.info.models]
    if models is None:
        others = [n for n in names if n != run.info.reference]
        if not others:
            raise ConfigError(f"run {run.info.run_id} has a single model ({run.info.reference}); a blind comparison "
                              f"needs two")
        return others[0], run.info.reference
    if len(models) != 2 or models[0] == models[1]:
        raise ConfigError(f"--models: give exactly two different models, e.g. ft,base. Got {','.join(models)}")
    unknown = [m for m in models if m not in names]
    if unknown:
        raise ConfigError(f"--models: {', '.join(unknown)} not among the run's models ({', '.join(names)})")
    return models[0], models[1]


def _packet_id(run_id: str, task: str, a: str, b: str, seed: int, raters: int) -> str:
    return "hp-" + hashlib.sha256(f"{run_id}|{task}|{a}|{b}|{seed}|{raters}".encode()).hexdigest()[:10]


def rater_items(run: RunResult, key: PacketKey, rater: RaterKey) -> list[PacketItem]:
    """The items one rater sees, rebuilt from the run and the key (display order)."""
    study = key.study
    texts, _ = candidate_texts(run, (key.model_a, key.model_b))
    samples = {s.id: s for s in run.samples}
    out = []
    for k in sorted(rater.items, key=lambda k: k.position):
        if k.sample_id not in texts or k.sample_id not in samples:
            raise DataError(f"key of packet {key.packet_id}: item {k.item} names sample {k.sample_id!r}, which has "
                            f"no output from both models in this run")
        t = texts[k.sample_id]
        sample = samples[k.sample_id]
        out.append(PacketItem(item=k.item, source=sample.input, candidate_1=t[k.left], candidate_2=t[k.right],
                              reference=sample.target if study.show_reference else None))
    return out


def build_packet(run: RunResult, study: StudyTask, *, raters: int = 1, seed: int = 0,
                 models: Sequence[str] | None = None) -> tuple[PacketKey, dict[str, list[PacketItem]]]:
    """The key of a new packet and, per rater id, the items in that rater's display order."""
    if isinstance(raters, bool) or not isinstance(raters, int) or not 1 <= raters <= 50:
        raise ConfigError(f"--raters must be a whole number from 1 to 50. Got {raters!r}")
    a, b = _pair(run, models)
    texts, excluded = candidate_texts(run, (a, b))
    if not texts:
        raise DataError(f"run {run.info.run_id}: no sample has an output from both {a} and {b}")
    ids = [s.id for s in run.samples if s.id in texts]
    item_of = {sid: f"i{n:03d}" for n, sid in enumerate(ids, 1)}
    packet_id = _packet_id(run.info.run_id, study.name, a, b, seed, raters)
    run_fp = run_fingerprint(run.info.run_id)
    rater_keys, rater_packets = [], {}
    for r in range(1, raters + 1):
        rater = f"r{r}"
        rng = random.Random(f"evalkit-human|{seed}|{packet_id}|{rater}")
        order = list(ids)
        rng.shuffle(order)
        a_first = [True] * (len(order) // 2) + [False] * (len(order) - len(order) // 2)
        rng.shuffle(a_first)
        keys = [KeyItem(item=item_of[sid], sample_id=sid, position=pos, left=a if first else b,
                        right=b if first else a)
                for pos, (sid, first) in enumerate(zip(order, a_first), 1)]
        rk = RaterKey(rater=rater, packet_sha256="", items=tuple(keys))
        draft = PacketKey(packet_id=packet_id, run_id=run.info.run_id, run=run_fp, task=study.name, study=study,
                          model_a=a, model_b=b, seed=seed, raters=(rk,))
        items = rater_items(run, draft, rk)
        rater_keys.append(rk.model_copy(update={"packet_sha256": packet_sha256(packet_id, run_fp, rater,
                                                                                study.name, items)}))
        rater_packets[rater] = items
    key = PacketKey(packet_id=packet_id, run_id=run.info.run_id, run=run_fp, task=study.name, study=study,
                    model_a=a, model_b=b, seed=seed, raters=tuple(rater_keys), excluded=excluded)
    return key.model_copy(update={"key_sha256": key_sha256(key)}), rater_packets


def check_key(key: PacketKey, run: RunResult, where: str) -> Mapping[str, list[PacketItem]]:
    """DataError unless the key is intact: its own hash, and each rater's packet rebuilt from the run through
    the key's side assignment hashes to what was exported (a swapped side changes the texts, so the hash)."""
    if key.key_sha256 != key_sha256(key):
        raise DataError(f"{where}: field 'key_sha256': the key does not match its own hash; it was edited after "
                        f"export, so it cannot be trusted to unblind verdicts")
    if key.run_id != run.info.run_id or key.run != run_fingerprint(run.info.run_id):
        raise DataError(f"{where}: field 'run_id': the key belongs to run {key.run_id!r}, not {run.info.run_id!r}")
    out = {}
    for i, rk in enumerate(key.raters):
        items = rater_items(run, key, rk)
        if packet_sha256(key.packet_id, key.run, rk.rater, key.task, items) != rk.packet_sha256:
            raise DataError(f"{where}: field 'raters[{i}].packet_sha256': the packet rebuilt from the run and this "
                            f"key's side assignment does not hash to the exported packet's hash; the key or the "
                            f"run's outputs were changed after export")
        out[rk.rater] = items
    return out
