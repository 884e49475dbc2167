"""Memory of `evalkit.analysis.load_samples` on a synthetic 100,000-sample, two-model run directory.

    nice -n 10 .venv/bin/python tests/analysis/bench_load_memory.py [--samples 100000] [--dir /tmp/bench-run]

Writes the run directory (samples.jsonl, generations.jsonl with a ~1 kB few-shot prompt per call, results.jsonl,
run.json) once, then in fresh subprocesses measures the peak resident set size (ru_maxrss) of: importing
evalkit.analysis alone; `load_samples`; and, for contrast, `RunStore.read_run()` (every line a pydantic
record, as the report renderer reads a run). Results are recorded in docs/analysis.md. Not a test: speed and
memory figures belong in a benchmark, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from evalkit.records import RunInfo

PROMPT = "".join(f"Query: example query number {k} about the news\nLabel: news_related\n\n" for k in range(16))


def write_run(root: Path, n: int) -> None:
    """A complete-looking run directory of `n` samples answered by `base` and `ft`."""
    root.mkdir(parents=True, exist_ok=True)
    info = RunInfo(run_id=root.name, suite="bench", suite_path="bench/suite.yaml", task="classification",
                   models=({"name": "base", "provider": "openai", "model": "m-base"},
                           {"name": "ft", "provider": "openai", "model": "m-ft", "metadata": {"step": 100}}),
                   reference="base", seed=0, started_at="2025-01-01T00:00:00+00:00", status="complete",
                   evalkit_version="0.1.0")
    (root / "run.json").write_text(info.model_dump_json(indent=2), encoding="utf-8")
    labels = ("news_related", "not_news_related")
    with (root / "samples.jsonl").open("w", encoding="utf-8") as s, \
            (root / "generations.jsonl").open("w", encoding="utf-8") as g, \
            (root / "results.jsonl").open("w", encoding="utf-8") as r:
        for i in range(n):
            sid = f"s{i:06d}"
            text = f"user query {i}: what happened with the vote in parliament this morning, any update?"
            target = labels[i % 2]
            s.write(json.dumps({"id": sid, "input": text, "target": target, "fields": {}}) + "\n")
            scores = {}
            for model in ("base", "ft"):
                out = labels[(i + (model == "base") * (i % 3 == 0)) % 2]
                prompt = {"messages": [], "text": PROMPT + f"Query: {text}\nLabel:"}
                g.write(json.dumps({"sample_id": sid, "model": model, "model_id": f"m-{model}", "attempt": 0,
                                    "prompt": prompt, "output": out, "error": None, "latency_s": 0.1 + i % 7 / 100,
                                    "usage": {"prompt_tokens": 350, "completion_tokens": 4}, "cost_usd": 1e-5,
                                    "cached": False, "retries": 0, "ttft_s": None}) + "\n")
                scores[model] = {"value": float(out == target), "label": out, "correct": out == target,
                                 "details": {}}
            r.write(json.dumps({"sample_id": sid, "scores": scores, "judgments": []}) + "\n")


_MEASURE = """
import resource, sys, time
what, path = sys.argv[1], sys.argv[2]
import evalkit.analysis as a
t = time.perf_counter()
if what == "load_samples":
    df = a.load_samples(path)
    extra = f"rows={len(df)} frame_mib={df.memory_usage(deep=True).sum() / 2**20:.1f}"
elif what == "read_run":
    from pathlib import Path
    from evalkit.store import RunStore
    store = RunStore(Path(path))
    run = (store.read_info(), store.read_samples(), store.read_generations(), store.read_results())
    extra = f"generations={len(run[2])}"
else:
    extra = ""
secs = time.perf_counter() - t
print(f"{what}: peak_rss_mib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} seconds={secs:.1f} {extra}")
"""


def main() -> None:
    """Write the run (unless present) and print one line per measurement."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/evalkit-bench-100k"))
    args = ap.parse_args()
    if not (args.dir / "results.jsonl").is_file():
        write_run(args.dir, args.samples)
    size = sum(f.stat().st_size for f in args.dir.iterdir()) / 2**20
    print(f"run directory: {args.samples} samples x 2 models, {size:.0f} MiB of JSONL")
    for what in ("import", "load_samples", "read_run"):
        subprocess.run([sys.executable, "-c", _MEASURE, what, str(args.dir)], check=True)


if __name__ == "__main__":
    main()
