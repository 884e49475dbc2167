"""What running the calls on Ray costs: the same loopback-server workload through the runner, in process and
with the Ray executor (evalkit/distributed) on a local cluster, and the overhead Ray adds per request.

    python benchmarks/perf/ray_overhead.py                      # N = 500 and 2,000 items, C=16, L=50 ms
    python benchmarks/perf/ray_overhead.py --json out.json

The workload is benchmarks/perf's: a classification suite whose items the lean loopback server (server.py,
its own process, fixed latency) answers over the OpenAI protocol; one `openai` model, concurrency C. Each
mode runs the whole `Runner.run()` (samples, calls, scoring, statistics, report) with a fresh cache, at two
sizes N1 < N2; the overhead per request is the slope

    ((W_ray(N2) - W_ray(N1)) - (W_local(N2) - W_local(N1))) / (N2 - N1)

which leaves out what does not grow with N (actor start-up, the report's fixed part), reported apart as the
fixed overhead at N1; the same slope of the call phase alone (the server's first arrival to its last answer)
is given beside it. A first, unrecorded run of each mode pays the one-time costs (imports, Ray's worker
processes). A last Ray run adds a non-binding cluster rate limit (10,000 requests/s) to price the
rate gate: its extra wall per request, and how many slots the workers leased per round trip to it.

Ray runs a local cluster started by the executor (no address: what `--ray` without one does), with
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 so that it advertises 127.0.0.1, not the machine's address: every byte of
the benchmark stays on the loopback interface. The machine's load average is recorded beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# Read when ray is imported: the local cluster advertises 127.0.0.1 only, sends no usage stats, and uses token
# authentication with a token of its own (Ray would otherwise write one to ~/.ray/auth_token).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
_AUTH_DIR = tempfile.mkdtemp(prefix="ray-overhead-auth-")
Path(_AUTH_DIR, "auth_token").write_text(secrets.token_hex(32))
os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(Path(_AUTH_DIR, "auth_token"))})

HERE = Path(__file__).resolve().parent


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"benchmark server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def server_stats(url: str, path: str = "/stats") -> dict[str, Any]:
    with urllib.request.urlopen(url + path, timeout=30) as res:
        return json.loads(res.read())


def write_project(root: Path, n: int, url: str, concurrency: int, rps: float | None) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "data.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            good = i % 3 == 0
            fh.write(json.dumps({"id": f"s{i:07d}", "text": f"review {i}: the food was {'good' if good else 'bad'}",
                                 "label": "positive" if good else "negative"}) + "\n")
    (root / "suite.yaml").write_text(
        "name: rayperf\ntask: classification\ntask_args: {labels: [positive, negative], positive_label: positive}\n"
        "data: {path: data.jsonl, fields: {id: id, input: text, target: label}}\ngeneration: {max_tokens: 4}\n"
        "prompts:\n  default: {style: chat, system: 'Answer positive or negative.', template: '{{ input }}'}\n",
        encoding="utf-8")
    limit = f"requests_per_second = {rps}\n" if rps else ""
    (root / "evalkit.toml").write_text(
        f'[models.bench]\nprovider = "openai"\nmodel = "bench-model"\nbase_url = "{url}/v1"\n'
        f"concurrency = {concurrency}\ntimeout_s = 60\nmax_retries = 2\n{limit}", encoding="utf-8")
    return root / "suite.yaml", root / "evalkit.toml"


def one_run(work: Path, n: int, url: str, args: argparse.Namespace, *, ray: bool,
            rps: float | None = None) -> dict[str, Any]:
    """One whole run in this process, fresh cache: wall and driver CPU seconds, calls at the server."""
    from evalkit.config import load_config
    from evalkit.distributed import RayExecutor, RaySettings
    from evalkit.runner import RunOptions, prepare
    from evalkit.suite import load_suite

    label = f"{'ray' if ray else 'local'}-{n}{'-rps' if rps else ''}"
    suite, config = write_project(work / label, n, url, args.concurrency, rps)
    executor = RayExecutor(RaySettings(replicas=args.replicas, shard_size=args.shard_size)) if ray else None
    options = RunOptions(models=("bench",), out_dir=work / label / "reports", cache_dir=work / label / "cache",
                         show_progress=False, executor=executor)
    server_stats(url, "/reset")
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    outcome = asyncio.run(prepare(load_suite(str(suite)), load_config(config), options).run())
    wall = time.perf_counter() - wall0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    stats = server_stats(url)
    if stats["requests"] != n or outcome.calls["bench"] != n:
        raise RuntimeError(f"{label}: {stats['requests']} requests at the server, {outcome.calls} counted; want {n}")
    result = {"mode": label, "n": n, "wall_s": wall, "driver_cpu_s": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime
              - cpu0.ru_stime, "server_calls": stats["requests"], "server_max_in_flight": stats["max_in_flight"],
              "call_phase_s": (stats["last_at"] - stats["first_at"]) if stats["first_at"] else None,
              "load_avg": os.getloadavg()}
    if executor is not None:
        result["shards"] = len(executor.reports)
        result["actors"] = len({r.actor_id for r in executor.reports})
        if executor.gate_totals:
            granted, requests = next(iter(executor.gate_totals.values()))
            result["gate_slots"], result["gate_round_trips"] = granted, requests
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()}), flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(500, 2000), metavar=("N1", "N2"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency in seconds (default 0.05)")
    parser.add_argument("--replicas", type=int, default=2, help="Ray actors for the model (default 2)")
    parser.add_argument("--shard-size", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    n1, n2 = args.sizes

    import ray

    proc, url = start_server(args.latency)
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp:
            work = Path(tmp)
            # A first run of each mode pays one-time costs (imports, the report's templates, Ray's worker
            # processes): run it once, unrecorded, so the recorded runs differ only by N.
            one_run(work / "warm-local", n1, url, args, ray=False)
            for n in (n1, n2):
                runs.append(one_run(work, n, url, args, ray=False))
            t0 = time.perf_counter()
            ray.init(include_dashboard=False, namespace="evalkit-bench", log_to_driver=False,
                     configure_logging=False, object_store_memory=100 * 1024 * 1024)
            cluster_start = time.perf_counter() - t0
            one_run(work / "warm-ray", n1, url, args, ray=True)
            for n in (n1, n2):
                runs.append(one_run(work, n, url, args, ray=True))
            runs.append(one_run(work, n2, url, args, ray=True, rps=10_000.0))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(_AUTH_DIR, ignore_errors=True)

    by = {r["mode"]: r for r in runs}
    local1, local2 = by[f"local-{n1}"], by[f"local-{n2}"]
    ray1, ray2, gated = by[f"ray-{n1}"], by[f"ray-{n2}"], by[f"ray-{n2}-rps"]
    slope = ((ray2["wall_s"] - ray1["wall_s"]) - (local2["wall_s"] - local1["wall_s"])) / (n2 - n1)
    cpu_slope = ((ray2["driver_cpu_s"] - ray1["driver_cpu_s"]) - (local2["driver_cpu_s"] - local1["driver_cpu_s"])) \
        / (n2 - n1)
    ideal = n2 * args.latency / args.concurrency
    call_slope = ((ray2["call_phase_s"] - ray1["call_phase_s"]) - (local2["call_phase_s"] - local1["call_phase_s"])) \
        / (n2 - n1)
    summary = {
        "cluster_start_s": cluster_start,
        "call_phase_ms_per_request_delta": 1000 * call_slope,
        "call_phase_s": {"local": local2["call_phase_s"], "ray": ray2["call_phase_s"]},
        "ideal_call_phase_s": ideal,
        "overhead_ms_per_request": 1000 * slope,
        "driver_cpu_ms_per_request_delta": 1000 * cpu_slope,
        "fixed_overhead_s": ray1["wall_s"] - local1["wall_s"] - slope * n1,
        # The gate's cost per call shows in the call phase; starting its actor is a fixed cost of the run.
        "rate_gate_ms_per_request": 1000 * (gated["call_phase_s"] - ray2["call_phase_s"]) / n2,
        "rate_gate_fixed_s": (gated["wall_s"] - ray2["wall_s"]) - (gated["call_phase_s"] - ray2["call_phase_s"]),
        "gate_slots_per_round_trip": (gated.get("gate_slots", 0) / gated["gate_round_trips"]
                                      if gated.get("gate_round_trips") else None),
        "load_avg_during": [min(r["load_avg"][0] for r in runs), max(r["load_avg"][0] for r in runs)],
    }
    line = (f"| Ray executor overhead per request (local cluster, {args.replicas} actors, shard {args.shard_size}) | "
            f"N={n1}→{n2}, C={args.concurrency}, L={args.latency * 1000:g} ms, load {summary['load_avg_during'][0]:.1f}–"
            f"{summary['load_avg_during'][1]:.1f}; wall at N={n2}: {local2['wall_s']:.1f} s in process, "
            f"{ray2['wall_s']:.1f} s on Ray (ideal call phase {ideal:.1f} s); fixed +{summary['fixed_overhead_s']:.1f} s "
            f"per run (actors started and stopped), cluster start {cluster_start:.1f} s; call phase at N={n2} (server: first arrival to last "
            f"answer) {local2['call_phase_s']:.2f} s in process, {ray2['call_phase_s']:.2f} s on Ray | "
            f"{summary['overhead_ms_per_request']:+.2f} ms/request whole run, "
            f"{summary['call_phase_ms_per_request_delta']:+.2f} ms/request call phase; "
            f"driver CPU {summary['driver_cpu_ms_per_request_delta']:+.2f} ms/request (workers' CPU not counted); "
            f"cluster rate gate {summary['rate_gate_ms_per_request']:+.2f} ms/request in the call phase, "
            f"{summary['rate_gate_fixed_s']:+.1f} s fixed, {summary['gate_slots_per_round_trip'] or 0:.1f} slots "
            f"per round trip | |")
    print(line)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "runs": runs,
                                         "summary": summary, "line": line}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
