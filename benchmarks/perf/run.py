"""evalkit's speed and memory, against a loopback server with a fixed latency. One command:

    python benchmarks/perf/run.py              # the full benchmark (about 10 minutes on 2 cores)
    python benchmarks/perf/run.py --quick      # smaller sizes, for trying changes (about 2 minutes)

Every evalkit run is a separate process (`benchmarks/perf/child.py`, which times its phases and reads its
peak RSS) running `evalkit run` on a generated binary-classification suite with one model served by the
`openai` provider over HTTP. Measured, against the issue's targets:

1. wall time of N samples at concurrency C with latency L, as a ratio to the ideal N x L / C, for the call
   phase and for the whole command (5,000 samples, C = 64, L = 200 ms: target <= 1.05);
2. harness overhead per sample with an instant server (target <= 2 ms), and with an in-process null provider
   (evalkit alone, without the HTTP client);
3. peak RSS at 1k, 10k and 100k samples and the per-sample memory (target: growth 1k -> 100k <= 200 MB);
4. a re-run of 10,000 samples from the cache (target < 10 s, and zero calls at the server);
5. `evalkit report` for 10,000 samples (target < 10 s).

Results are printed as a Markdown table and saved as JSON (`--json`, default /tmp/evalkit-perf/results.json).
The machine's load average is recorded before and after: numbers from a busy machine are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@dataclass
class Server:
    """A running benchmarks/perf/server.py."""

    proc: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as res:
            return json.loads(res.read())


@contextmanager
def server(latency: float) -> Iterator[Server]:
    """The lean asyncio server in its own process (so its CPU is not charged to evalkit's)."""
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield Server(proc, int(line.split()[1]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_project(root: Path, n: int, url: str, concurrency: int, provider: str = "openai") -> Path:
    """A classification suite of `n` distinct samples and a config with one model, `bench`."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "data.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            good = i % 3 == 0
            fh.write(json.dumps({"id": f"s{i:06d}", "text": f"review {i}: the food was {'good' if good else 'bad'}",
                                 "label": "positive" if good else "negative"}) + "\n")
    (root / "suite.yaml").write_text(
        "name: perf\ntask: classification\n"
        "task_args: {labels: [positive, negative], positive_label: positive}\n"
        "data: {path: data.jsonl, fields: {id: id, input: text, target: label}}\n"
        "generation: {max_tokens: 4}\n"
        "prompts:\n  default: {style: chat, system: 'Answer positive or negative.', template: '{{ input }}'}\n",
        encoding="utf-8")
    (root / "evalkit.toml").write_text(
        f'[models.bench]\nprovider = "{provider}"\nmodel = "bench-model"\nbase_url = "{url}/v1"\n'
        f"concurrency = {concurrency}\ntimeout_s = 60\nmax_retries = 2\n", encoding="utf-8")
    return root / "suite.yaml"


def evalkit(root: Path, *args: str, null: bool = False) -> dict[str, Any]:
    """Run one `evalkit` command in a child process; its phase timings, peak RSS and outer wall time."""
    out = root / f"child-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(HERE / "child.py"), str(out), *(["--null"] if null else []), "--", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"evalkit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["wall_s"] = wall
    result["stdout"] = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    return result


def run_args(root: Path, cache: str, *extra: str) -> list[str]:
    return ["run", str(root / "suite.yaml"), "--models", "bench", "--quiet", "--config", str(root / "evalkit.toml"),
            "--cache-dir", str(root / cache), "--out", str(root / "reports"), *extra]


def calls_made(srv: Server, before: dict[str, Any]) -> int:
    return int(srv.stats()["requests"]) - int(before["requests"])


def bench_latency(work: Path, n: int, concurrency: int, latency: float) -> dict[str, Any]:
    """Wall time of n samples at `concurrency` against a server answering after `latency` seconds."""
    with server(latency) as srv:
        root = work / f"latency-{n}"
        write_project(root, n, srv.url, concurrency)
        before = srv.stats()
        r = evalkit(root, *run_args(root, "cache"))
        after = srv.stats()
    ideal = n * latency / concurrency
    calls = int(after["requests"]) - int(before["requests"])
    server_span = after["last_at"] - after["first_at"]
    return {"n": n, "concurrency": concurrency, "latency_s": latency, "ideal_s": ideal, "calls": calls,
            "server_span_s": server_span, "server_span_ratio": server_span / ideal,
            "generate_s": r["generate_s"], "generate_ratio": r["generate_s"] / ideal,
            "command_s": r["command_s"], "command_ratio": r["command_s"] / ideal,
            "wall_s": r["wall_s"], "wall_ratio": r["wall_s"] / ideal, "phases": r}


def bench_overhead(work: Path, n: int, concurrency: int) -> dict[str, Any]:
    """Per-sample cost with an instant server (HTTP client included) and with the null provider."""
    out: dict[str, Any] = {"n": n, "concurrency": concurrency}
    with server(0.0) as srv:
        root = work / f"instant-{n}"
        write_project(root, n, srv.url, concurrency)
        r = evalkit(root, *run_args(root, "cache"))
    out["http"] = {"per_sample_ms": 1000 * r["generate_s"] / n, "command_per_sample_ms": 1000 * r["command_s"] / n,
                   "phases": r}
    root = work / f"null-{n}"
    write_project(root, n, "http://127.0.0.1:9", concurrency, provider="bench-null")
    r = evalkit(root, *run_args(root, "cache"), null=True)
    out["null"] = {"per_sample_ms": 1000 * r["generate_s"] / n, "command_per_sample_ms": 1000 * r["command_s"] / n,
                   "phases": r}
    return out


def bench_memory_cache_report(work: Path, sizes: list[int], concurrency: int, cache_n: int) -> dict[str, Any]:
    """Peak RSS per size; then, for `cache_n`, a re-run from the cache and `evalkit report`."""
    out: dict[str, Any] = {"rss": {}}
    with server(0.0) as srv:
        for n in sizes:
            root = work / f"mem-{n}"
            write_project(root, n, srv.url, concurrency)
            r = evalkit(root, *run_args(root, "cache"))
            out["rss"][n] = {"peak_rss_mb": r["peak_rss_mb"], "phases": r}
            print(f"  {n:>7} samples: peak RSS {r['peak_rss_mb']:.0f} MiB, command {r['command_s']:.1f} s",
                  file=sys.stderr, flush=True)
            if n == cache_n:
                before = srv.stats()
                again = evalkit(root, *run_args(root, "cache"))
                out["cache_rerun"] = {"n": n, "calls": calls_made(srv, before), "wall_s": again["wall_s"],
                                      "command_s": again["command_s"], "phases": again}
                run_dir = root / Path(again["stdout"]).parent
                rep = evalkit(root, "report", str(run_dir))
                out["report"] = {"n": n, "wall_s": rep["wall_s"], "render_s": rep.get("report_s"),
                                 "command_s": rep["command_s"], "phases": rep}
    sizes_sorted = sorted(out["rss"])
    lo, hi = sizes_sorted[0], sizes_sorted[-1]
    growth = out["rss"][hi]["peak_rss_mb"] - out["rss"][lo]["peak_rss_mb"]
    out["rss_growth_mb"] = growth
    out["per_sample_kb"] = 1024 * growth / (hi - lo) if hi > lo else None
    return out


def machine() -> dict[str, Any]:
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    return {"cpus": os.cpu_count(), "mem_gib": round(mem / 1024 / 1024, 1), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_start": os.getloadavg()}


def table(res: dict[str, Any]) -> str:
    lat, ovh, mem = res["latency"], res["overhead"], res["memory"]
    rss = mem["rss"]
    sizes = sorted(rss)
    lp = lat["phases"]
    hp, np_ = ovh["http"]["phases"], ovh["null"]["phases"]
    rows = [
        ("Wall, call phase, vs ideal N x L / C", f"{lat['n']:,} samples, C={lat['concurrency']}, "
         f"L={lat['latency_s'] * 1000:.0f} ms; ideal {lat['ideal_s']:.1f} s; client CPU {lp['generate_cpu_s']:.1f} s",
         f"{lat['generate_s']:.1f} s", f"{lat['generate_ratio']:.3f}", "<= 1.05"),
        ("Wall, whole `evalkit run` process, vs ideal",
         f"same run: + imports {lp['import_s']:.1f} s, setup {lp['setup_s']:.1f} s, statistics "
         f"{lp['summarize_s']:.1f} s, report {lp['report_s']:.1f} s",
         f"{lat['wall_s']:.1f} s", f"{lat['wall_ratio']:.3f}", "<= 1.05"),
        ("Overhead per sample, instant server (openai SDK over HTTP)",
         f"{ovh['n']:,} samples, C={ovh['concurrency']}; CPU {1000 * hp['generate_cpu_s'] / ovh['n']:.2f} ms/sample",
         f"{ovh['http']['per_sample_ms']:.2f} ms", f"{ovh['http']['per_sample_ms'] / 2:.2f}", "<= 2 ms"),
        ("Overhead per sample, null provider (evalkit alone)",
         f"{ovh['n']:,} samples; CPU {1000 * np_['generate_cpu_s'] / ovh['n']:.3f} ms/sample",
         f"{ovh['null']['per_sample_ms']:.3f} ms", f"{ovh['null']['per_sample_ms'] / 2:.3f}", "<= 2 ms"),
        *[(f"Peak RSS, {n:,} samples", "whole run, report included", f"{rss[n]['peak_rss_mb']:.0f} MiB", "", "")
          for n in sizes],
        (f"RSS growth {sizes[0]:,} -> {sizes[-1]:,} samples", f"{mem['per_sample_kb']:.2f} KiB per sample"
         if mem["per_sample_kb"] is not None else "", f"{mem['rss_growth_mb']:.0f} MiB",
         f"{mem['rss_growth_mb'] / 200:.2f}", "<= 200 MB"),
    ]
    if "cache_rerun" in mem:
        c = mem["cache_rerun"]
        rows.append((f"Re-run from cache, {c['n']:,} samples", f"{c['calls']} calls at the server; "
                     f"CPU {c['phases']['process_cpu_s']:.1f} s",
                     f"{c['wall_s']:.1f} s", f"{c['wall_s'] / 10:.2f}", "< 10 s, 0 calls"))
    if "report" in mem:
        r = mem["report"]
        rows.append((f"`evalkit report`, {r['n']:,} samples", f"rendering alone {r['render_s']:.1f} s; "
                     f"CPU {r['phases']['process_cpu_s']:.1f} s",
                     f"{r['wall_s']:.1f} s", f"{r['wall_s'] / 10:.2f}", "< 10 s"))
    if res.get("peer"):
        p = res["peer"]
        rows.append((f"Peer: {p['name']}, same server and workload", p.get("note", p.get("error", "")),
                     f"{p['wall_s']:.1f} s", f"{p['wall_s'] / lat['wall_s']:.2f} x evalkit's wall", ""))
    lines = ["| measure | conditions | measured | ratio to target | target |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    m = res["machine"]
    lines.append("")
    lines.append(f"Machine: {m['cpus']} cores, {m['mem_gib']} GiB, Python {m['python']}; load average "
                 f"{m['loadavg_start'][0]:.2f} at start, {m['loadavg_end'][0]:.2f} at end.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="evalkit performance benchmark (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (1k/5k/20k) for a fast check")
    parser.add_argument("--samples", type=int, help="samples of the latency run (default 5000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency in seconds (default 0.2)")
    parser.add_argument("--only", choices=("latency", "overhead", "memory"), action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--sizes", help="sample counts of the memory runs, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--peer", action="store_true", help="also run inspect-ai from /work/venv-peer, if present")
    parser.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "evalkit-perf" / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects and run directories")
    args = parser.parse_args()

    parts = set(args.only or ("latency", "overhead", "memory"))
    n_latency = args.samples or (1000 if args.quick else 5000)
    sizes = [1000, 5000, 20000] if args.quick else [1000, 10000, 100000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    cache_n = 5000 if args.quick else 10000
    work = Path(tempfile.mkdtemp(prefix="evalkit-perf-"))
    res: dict[str, Any] = {"machine": machine()}
    try:
        if "latency" in parts:
            print(f"latency: {n_latency} samples, C={args.concurrency}, L={args.latency}", file=sys.stderr, flush=True)
            res["latency"] = bench_latency(work, n_latency, args.concurrency, args.latency)
            if args.peer:
                from peer import run_peer  # benchmarks/perf/peer.py

                res["peer"] = run_peer(work, n_latency, args.concurrency, args.latency, server)
        if "overhead" in parts:
            print("overhead: instant server and null provider", file=sys.stderr, flush=True)
            res["overhead"] = bench_overhead(work, cache_n, args.concurrency)
        if "memory" in parts:
            print(f"memory: {sizes}; cache re-run and report at {cache_n}", file=sys.stderr, flush=True)
            res["memory"] = bench_memory_cache_report(work, sizes, args.concurrency, cache_n)
    finally:
        res["machine"]["loadavg_end"] = os.getloadavg()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if parts == {"latency", "overhead", "memory"}:
        print(table(res))
    else:
        print(json.dumps({k: v for k, v in res.items()}, indent=2, default=str))
    print(f"(raw results: {args.json})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
