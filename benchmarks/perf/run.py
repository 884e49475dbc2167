"""evalkit's speed and memory against the physical limit and against its peers, in one command:

    python benchmarks/perf/run.py              # everything, 3 rounds (2-3 hours on a busy 2-core machine)
    python benchmarks/perf/run.py --quick      # small sizes, one round: every code path in ~10 minutes
    python benchmarks/perf/run.py --million    # also the 1,000,000-item memory run (long)

First it installs the peer harnesses, each into its own folder outside evalkit's environment (see peers.py;
idempotent, so it costs nothing once done): inspect-ai 0.3.285, lm-evaluation-harness 0.4.13
(`local-chat-completions`) and promptfoo 0.123.1 (on Node 22 from npm).

Then, against one loopback OpenAI-protocol server with a fixed latency (server.py, its own process), every
harness runs the same workload — the same items, system and user message, max_tokens and concurrency — in
interleaved rounds (each round runs every harness once, the order rotated by one each round), and for each
run the benchmark records: whole-process wall time, the server's span (first request's arrival to the last
response), the client's CPU (user + sys of its whole process tree), its peak RSS, the requests the server
received (which must be exactly N: a run that sent more or fewer is flagged) and the most it held at once.
Workloads (the issue's):

    compare   5,000 items, C = 64, L = 200 ms (ideal N x L / C = 15.6 s): every harness
    large     50,000 items, C = 512, L = 50 ms (ideal 4.9 s): evalkit, and the peers given by --large-peers
    instant   10,000 items, C = 64, L = 0: the request span per request (client cost alone)

inspect-ai runs twice per round: with its defaults (every sample and event logged) and with
`--no-log-samples`. evalkit runs through its `openai` provider and, labelled, through its `mistral` one.

And evalkit alone, each in a fresh process:

    cache     a 100,000-item run (instant server), then the same command again from the cache (0 calls at the
              server, verified) and `evalkit report` on it
    memory    peak RSS of a whole run with report at 1k and 100k items (in-process null provider: what evalkit
              holds, without an HTTP client); 1M with --million

Everything is printed as Markdown tables ready for RESULTS.md, with the machine's load average at the start
and end of each measurement; the raw figures go to --json. A harness that fails, times out or sends the wrong
number of requests is reported as such and the benchmark goes on: it is meant to run unattended.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import peers as peers_mod  # noqa: E402  (benchmarks/perf/peers.py)
from measure import ProcStats, run_measured  # noqa: E402
from peers import Command, Workload  # noqa: E402


# --- the loopback server --------------------------------------------------------------------------------

@dataclass
class Server:
    """A running benchmarks/perf/server.py."""

    proc: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=30) as res:
            return json.loads(res.read())

    def stats(self) -> dict[str, Any]:
        """Requests since the last reset, first arrival and last completion (server monotonic s), max in flight."""
        return self._get("/stats")

    def reset(self) -> None:
        """Zero the counters before a measured run."""
        self._get("/reset")


@contextmanager
def server(latency: float) -> Iterator[Server]:
    """The lean asyncio server in its own process (so its CPU is not charged to the client)."""
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield Server(proc, int(line.split()[1]))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- evalkit --------------------------------------------------------------------------------------------

def write_project(root: Path, n: int, url: str, concurrency: int, provider: str = "openai",
                  models: tuple[str, ...] = ("bench",)) -> Path:
    """A classification suite over `n` items (peers.write_data) and a config with `models` (default one,
    `bench`), each its own model id on the same server."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "data.jsonl").exists():
        peers_mod.write_data(root / "data.jsonl", n)
    (root / "suite.yaml").write_text(
        "name: perf\ntask: classification\n"
        "task_args: {labels: [positive, negative], positive_label: positive}\n"
        "data: {path: data.jsonl, fields: {id: id, input: text, target: label}}\n"
        "generation: {max_tokens: 4}\n"
        f"prompts:\n  default: {{style: chat, system: '{peers_mod.SYSTEM}', template: '{{{{ input }}}}'}}\n",
        encoding="utf-8")
    key = 'api_key_env = "BENCH_MISTRAL_KEY"\n' if provider == "mistral" else ""
    (root / "evalkit.toml").write_text("".join(
        f'[models.{name}]\nprovider = "{provider}"\nmodel = "{name}-model"\nbase_url = "{url}/v1"\n'
        f"concurrency = {concurrency}\ntimeout_s = 60\nmax_retries = 2\n{key}\n" for name in models),
        encoding="utf-8")
    return root / "suite.yaml"


EVALKIT_SRC = REPO
"""The tree whose `evalkit` package is measured (`--evalkit-src`; default this checkout)."""


def evalkit_env(src: Path | None = None) -> dict[str, str]:
    """evalkit from `src` (default EVALKIT_SRC), whatever is installed; a dummy key for the `mistral` provider."""
    return {"PYTHONPATH": str(src or EVALKIT_SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "BENCH_MISTRAL_KEY": "not-needed"}


def evalkit_command(root: Path, url: str, w: Workload, *, provider: str = "openai", cache: str | None = None,
                    null: bool = False, extra: tuple[str, ...] = (), src: Path | None = None,
                    env: dict[str, str] | None = None) -> Command:
    """`evalkit run` through benchmarks/perf/child.py (which also records phase timings), a fresh cache per
    call unless `cache` names one (to re-run from it)."""
    write_project(root, w.n, url, w.concurrency, provider="bench-null" if null else provider)
    cache = cache or f"cache-{time.monotonic_ns()}"
    out = root / f"child-{time.monotonic_ns()}.json"
    argv = [sys.executable, str(HERE / "child.py"), str(out), *(["--null"] if null else []), "--",
            "run", str(root / "suite.yaml"), "--models", "bench", "--quiet", "--config", str(root / "evalkit.toml"),
            "--cache-dir", str(root / cache), "--out", str(root / "reports"), *extra]

    def check() -> str | None:
        if not out.is_file():
            return "child.py wrote no result"
        result = json.loads(out.read_text(encoding="utf-8"))
        return None if result.get("exit_code") == 0 else f"evalkit exit code {result.get('exit_code')}"

    return Command(argv, root, {**evalkit_env(src), **(env or {})}, check, result_file=out)


def child_result(cmd: Command) -> dict[str, Any]:
    """The phase timings child.py recorded for an evalkit command."""
    path = cmd.result_file
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else {}


# --- harnesses ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Harness:
    """A labelled way to run a workload against a server URL in a folder."""

    name: str
    peer: str | None
    """Which installed peer it needs (None: evalkit)."""
    build: Callable[[Path, Path, str, Workload], Command]
    """(peers dir, run folder, server URL, workload) -> the command."""


HARNESSES = {
    "evalkit": Harness("evalkit", None, lambda p, r, u, w: evalkit_command(r, u, w)),
    "evalkit-mistral": Harness("evalkit (mistral provider)", None,
                               lambda p, r, u, w: evalkit_command(r, u, w, provider="mistral")),
    "lm-eval": Harness("lm-eval 0.4.13", "lm-eval", peers_mod.lm_eval_command),
    "promptfoo": Harness("promptfoo 0.123.1", "promptfoo", peers_mod.promptfoo_command),
    "inspect-ai": Harness("inspect-ai 0.3.285 (defaults)", "inspect-ai",
                          lambda p, r, u, w: peers_mod.inspect_command(p, r, u, w, log_samples=True)),
    "inspect-ai-nolog": Harness("inspect-ai 0.3.285 --no-log-samples", "inspect-ai",
                                lambda p, r, u, w: peers_mod.inspect_command(p, r, u, w, log_samples=False)),
}


def add_alternative(spec: str) -> list[str]:
    """`--evalkit-alt LABEL=PATH[,VAR=VALUE...]`: evalkit from another tree (and environment) as two more
    harnesses, `LABEL` (openai provider) and `LABEL-mistral`, measured in the same rounds as the others."""
    label, _, rest = spec.partition("=")
    path, *assignments = rest.split(",")
    src = Path(path).resolve()
    if not label or not (src / "evalkit" / "__init__.py").is_file():
        raise SystemExit(f"--evalkit-alt {spec!r}: expected LABEL=PATH with PATH/evalkit/__init__.py")
    env = dict(a.split("=", 1) for a in assignments)
    HARNESSES[label] = Harness(f"evalkit [{label}]", None,
                               lambda p, r, u, w: evalkit_command(r, u, w, src=src, env=env))
    HARNESSES[f"{label}-mistral"] = Harness(f"evalkit [{label}] (mistral provider)", None,
                                            lambda p, r, u, w: evalkit_command(r, u, w, provider="mistral",
                                                                               src=src, env=env))
    return [label, f"{label}-mistral"]


def run_one(h: Harness, peers_dir: Path, root: Path, srv: Server, w: Workload, timeout_s: float) -> dict[str, Any]:
    """One measured run of a harness: process figures, server figures, and what went wrong if anything."""
    root.mkdir(parents=True, exist_ok=True)
    cmd = h.build(peers_dir, root, srv.url, w)
    srv.reset()
    n_logs = len(list(root.glob("stdout-*")))
    stats = run_measured(cmd.argv, cwd=cmd.cwd, env={**os.environ, **cmd.env},
                         stdout=root / f"stdout-{n_logs}.txt", stderr=root / f"stderr-{n_logs}.txt",
                         timeout_s=timeout_s)
    s = srv.stats()
    span = (s["last_at"] - s["first_at"]) if s["first_at"] is not None and s["last_at"] is not None else None
    problem = None
    if stats.timed_out:
        problem = f"timed out after {timeout_s:.0f} s"
    elif stats.exit_code != 0:
        err = (root / f"stderr-{n_logs}.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        problem = f"exit code {stats.exit_code}: {err[-1][:300] if err else '(no stderr)'}"
    else:
        problem = cmd.check()
    if problem is None and s["requests"] != w.n:
        problem = f"sent {s['requests']} requests, not {w.n}"
    out = {"harness": h.name, **stats.as_dict(), "requests": s["requests"], "max_in_flight": s["max_in_flight"],
           "max_connections": s["max_connections"],
           "server_span_s": span, "problem": problem}
    if h.peer is None:
        out["phases"] = child_result(cmd)
    return out


def compare(label: str, w: Workload, names: list[str], peers_dir: Path, work: Path, rounds: int,
            timeout_s: float, keep: bool) -> dict[str, Any]:
    """Every harness in `names` once per round on one server, the order rotated each round."""
    print(f"{label}: {w.n:,} items, C={w.concurrency}, L={w.latency * 1000:g} ms, {rounds} round(s): "
          f"{', '.join(names)}", file=sys.stderr, flush=True)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    load_start = os.getloadavg()
    with server(w.latency) as srv:
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                root = work / label / name
                res = run_one(HARNESSES[name], peers_dir, root, srv, w, timeout_s)
                res["round"] = r
                runs[name].append(res)
                span = f"{res['server_span_s']:.1f}" if res["server_span_s"] is not None else "-"
                print(f"  round {r + 1} {name:<17} wall {res['wall_s']:7.1f} s  span {span:>6} s  "
                      f"cpu {res['cpu_s']:6.1f} s  rss {res['tree_rss_mib']:5.0f} MiB  req {res['requests']:>6}  "
                      f"load {res['load_start']:.1f}-{res['load_end']:.1f}"
                      + (f"  PROBLEM: {res['problem']}" if res["problem"] else ""), file=sys.stderr, flush=True)
                if not keep:
                    _clean(root)
    return {"label": label, "n": w.n, "concurrency": w.concurrency, "latency_s": w.latency, "ideal_s": w.ideal_s,
            "rounds": rounds, "runs": runs, "loadavg_start": load_start, "loadavg_end": os.getloadavg()}


def _clean(root: Path) -> None:
    """Drop what a run wrote (run directories, caches, logs of peers), keep the inputs and the stdout/stderr."""
    for child in root.iterdir():
        # lm-eval's converted data set stays (a user's second run would find it too); the rest goes.
        if child.is_dir() and child.name not in ("lm_tasks", "hf-datasets"):
            shutil.rmtree(child, ignore_errors=True)


# --- evalkit alone: cache, report, memory ----------------------------------------------------------------

def run_evalkit_alone(cmd: Command, root: Path, timeout_s: float) -> dict[str, Any]:
    n_logs = len(list(root.glob("stdout-*")))
    stats = run_measured(cmd.argv, cwd=cmd.cwd, env={**os.environ, **cmd.env},
                         stdout=root / f"stdout-{n_logs}.txt", stderr=root / f"stderr-{n_logs}.txt",
                         timeout_s=timeout_s)
    problem = (f"timed out after {timeout_s:.0f} s" if stats.timed_out else
               f"exit code {stats.exit_code}" if stats.exit_code != 0 else cmd.check())
    out = {**stats.as_dict(), "problem": problem, "phases": child_result(cmd)}
    stdout = (root / f"stdout-{n_logs}.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    out["stdout_last"] = stdout[-1] if stdout else ""
    return out


def bench_cache_report(work: Path, n: int, concurrency: int, timeout_s: float) -> dict[str, Any]:
    """A run of n items (instant server), the same command again from its cache, then `evalkit report`."""
    print(f"cache: {n:,} items, first run, re-run from the cache, evalkit report", file=sys.stderr, flush=True)
    w = Workload(n, concurrency, 0.0)
    root = work / f"cache-{n}"
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"n": n}
    with server(0.0) as srv:
        srv.reset()
        first = run_evalkit_alone(evalkit_command(root, srv.url, w, cache="cache"), root, timeout_s)
        first["requests"] = srv.stats()["requests"]
        out["first"] = first
        srv.reset()
        again = run_evalkit_alone(evalkit_command(root, srv.url, w, cache="cache"), root, timeout_s)
        again["requests"] = srv.stats()["requests"]
        if again["problem"] is None and again["requests"] != 0:
            again["problem"] = f"{again['requests']} calls at the server, not 0"
        out["rerun"] = again
    run_dir = root / Path(again["stdout_last"]).parent if again["stdout_last"] else None
    if run_dir is not None and (run_dir / "run.json").is_file():
        rep_out = root / f"child-report-{time.monotonic_ns()}.json"
        rep = Command([sys.executable, str(HERE / "child.py"), str(rep_out), "--", "report", str(run_dir)], root,
                      evalkit_env(), lambda: None if rep_out.is_file() else "child.py wrote no result",
                      result_file=rep_out)
        out["report"] = run_evalkit_alone(rep, root, timeout_s)
    else:
        out["report"] = {"problem": f"no run directory from the re-run (stdout: {again['stdout_last']!r})"}
    for key in ("first", "rerun", "report"):
        r = out[key]
        if "wall_s" in r:
            print(f"  {key:<7} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:6.1f} s  rss {r['tree_rss_mib']:5.0f} MiB"
                  + (f"  requests {r['requests']}" if "requests" in r else "")
                  + (f"  PROBLEM: {r['problem']}" if r.get("problem") else ""), file=sys.stderr, flush=True)
    return out


def bench_memory(work: Path, sizes: list[int], timeout_s: float, keep: bool) -> dict[str, Any]:
    """Peak RSS of a whole `evalkit run` (report included) per size, in-process null provider."""
    print(f"memory: {', '.join(f'{n:,}' for n in sizes)} items, null provider", file=sys.stderr, flush=True)
    out: dict[str, Any] = {}
    for n in sizes:
        root = work / f"mem-{n}"
        res = run_evalkit_alone(evalkit_command(root, "http://127.0.0.1:9", Workload(n, 64, 0.0), null=True),
                                root, timeout_s)
        out[n] = res
        print(f"  {n:>9,} items: peak RSS {res['tree_rss_mib']:.0f} MiB, wall {res['wall_s']:.1f} s, "
              f"cpu {res['cpu_s']:.1f} s" + (f"  PROBLEM: {res['problem']}" if res["problem"] else ""),
              file=sys.stderr, flush=True)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return out


# --- tables ---------------------------------------------------------------------------------------------

def _median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt(x: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "—" if x is None else f"{x:{spec}}{unit}"


def compare_table(res: dict[str, Any]) -> str:
    """One workload's rows: medians over the rounds that ran cleanly, ratios to ideal and to evalkit."""
    ideal = res["ideal_s"]
    n = res["n"]
    instant = ideal == 0
    base = {r["round"]: r for r in res["runs"].get("evalkit", []) if r["problem"] is None}
    head = (f"**{res['label']}**: {n:,} items, concurrency {res['concurrency']}, latency "
            f"{res['latency_s'] * 1000:g} ms" + ("" if instant else f", ideal N × L / C = {ideal:.1f} s")
            + f"; medians of {res['rounds']} interleaved round(s); load average {res['loadavg_start'][0]:.2f} "
              f"at start, {res['loadavg_end'][0]:.2f} at end.")
    if instant:
        cols = ["harness", "clean runs", "whole process", "server span", "span per request", "whole-process CPU per request",
                "peak RSS", "requests (max connections)", "wall vs evalkit", "load during runs"]
    else:
        cols = ["harness", "clean runs", "whole process (× ideal)", "server span (× ideal)", "client CPU",
                "peak RSS", "requests (max in flight)", "wall vs evalkit", "load during runs"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, runs in res["runs"].items():
        ok = [r for r in runs if r["problem"] is None]
        label = HARNESSES[name].name
        if not ok:
            why = runs[0]["problem"] if runs else "not run"
            lines.append(f"| {label} | 0/{len(runs)} | failed: {str(why).splitlines()[0][:120]} |"
                         + " |" * (len(cols) - 3))
            continue
        wall = _median([r["wall_s"] for r in ok])
        span = _median([r["server_span_s"] for r in ok])
        cpu = _median([r["cpu_s"] for r in ok])
        rss = _median([r["tree_rss_mib"] for r in ok])
        reqs = sorted({r["requests"] for r in ok})
        # With latency 0 every request is answered before the next is read: count open connections instead.
        inflight = max((r.get("max_connections") if instant else r.get("max_in_flight") for r in ok),
                       key=lambda x: -1 if x is None else x)
        pairs = [r["wall_s"] / base[r["round"]]["wall_s"] for r in ok if r["round"] in base]
        vs = "1.00 ×" if name == "evalkit" else _fmt(_median(pairs), ".2f", " ×")
        load = f"{min(r['load_start'] for r in ok):.1f}–{max(r['load_end'] for r in ok):.1f}"
        cells = [label, f"{len(ok)}/{len(runs)}"]
        if instant:
            cells += [f"{wall:.1f} s", _fmt(span, ".2f", " s"), _fmt(None if span is None else 1000 * span / n, ".3f",
                                                                    " ms"),
                      f"{1000 * cpu / n:.2f} ms", f"{rss:.0f} MiB"]
        else:
            cells += [f"{wall:.1f} s ({wall / ideal:.2f} ×)",
                      "—" if span is None else f"{span:.1f} s ({span / ideal:.2f} ×)", f"{cpu:.1f} s", f"{rss:.0f} MiB"]
        cells += [f"{'/'.join(str(x) for x in reqs)} ({'—' if inflight is None else inflight})", vs, load]
        lines.append("| " + " | ".join(cells) + " |")
    bad = [(name, r) for name, runs in res["runs"].items() for r in runs if r["problem"] is not None]
    for name, r in bad:
        lines.append(f"\n- {HARNESSES[name].name}, round {r['round'] + 1}: {str(r['problem']).splitlines()[0][:300]}")
    return "\n".join(lines)


def alone_table(res: dict[str, Any]) -> str:
    """evalkit alone: cache re-run, report, memory."""
    rows = []
    cache = res.get("cache")
    if cache:
        n = cache["n"]
        f, a, rep = cache["first"], cache["rerun"], cache["report"]
        if "wall_s" in f:
            rows.append((f"`evalkit run`, {n:,} items, instant server", f"{f['requests']:,} requests; CPU "
                         f"{f['cpu_s']:.1f} s; peak RSS {f['tree_rss_mib']:.0f} MiB", f"{f['wall_s']:.1f} s", "",
                         f"{f['load_start']:.1f}–{f['load_end']:.1f}", f.get("problem")))
        if "wall_s" in a:
            rows.append((f"re-run from cache, {n:,} items", f"{a['requests']} requests at the server; CPU "
                         f"{a['cpu_s']:.1f} s; peak RSS {a['tree_rss_mib']:.0f} MiB", f"{a['wall_s']:.1f} s",
                         "≤ 10 s, 0 calls", f"{a['load_start']:.1f}–{a['load_end']:.1f}", a.get("problem")))
        if "wall_s" in rep:
            ph = rep.get("phases", {})
            rows.append((f"`evalkit report`, {n:,} items", f"rendering {_fmt(ph.get('report_s'))} s; CPU "
                         f"{rep['cpu_s']:.1f} s; peak RSS {rep['tree_rss_mib']:.0f} MiB", f"{rep['wall_s']:.1f} s",
                         "≤ 5 s", f"{rep['load_start']:.1f}–{rep['load_end']:.1f}", rep.get("problem")))
        elif rep.get("problem"):
            rows.append((f"`evalkit report`, {n:,} items", "", "—", "≤ 5 s", "", rep["problem"]))
    for n, m in sorted(res.get("memory", {}).items(), key=lambda kv: int(kv[0])):
        ph = m.get("phases", {})
        rows.append((f"peak RSS, whole run with report, {int(n):,} items", f"null provider; wall {m['wall_s']:.1f} s, "
                     f"CPU {m['cpu_s']:.1f} s (generate {_fmt(ph.get('generate_s'))} s, statistics "
                     f"{_fmt(ph.get('summarize_s'))} s, report {_fmt(ph.get('report_s'))} s)",
                     f"{m['tree_rss_mib']:.0f} MiB", "≤ 300 MiB", f"{m['load_start']:.1f}–{m['load_end']:.1f}",
                     m.get("problem")))
    lines = ["| measure | conditions | measured | target | load |", "|---|---|---|---|---|"]
    for measure, cond, value, target, load, problem in rows:
        if problem:
            cond = f"{cond}; PROBLEM: {str(problem).splitlines()[0][:200]}"
        lines.append(f"| {measure} | {cond} | {value} | {target} | {load} |")
    return "\n".join(lines) if rows else ""


def phases_table(parts: list[dict[str, Any]]) -> str:
    """evalkit's own phases (from child.py) in the compare workloads: where its whole-process time goes."""
    lines = ["| workload | harness | import | setup | calls (CPU) | scoring | statistics | report | whole |",
             "|---|---|---|---|---|---|---|---|---|"]
    for res in parts:
        for name in res["runs"]:
            ok = [r for r in res["runs"][name] if r["problem"] is None and r.get("phases")]
            if not ok:
                continue

            def med(key: str, runs: list[dict[str, Any]] = ok) -> float | None:
                return _median([r["phases"].get(key) for r in runs])

            lines.append(f"| {res['label']} | {HARNESSES[name].name} | {_fmt(med('import_s'), '.2f')} s | "
                         f"{_fmt(med('setup_s'), '.2f')} s | {_fmt(med('generate_s'), '.1f')} s "
                         f"({_fmt(med('generate_cpu_s'), '.1f')} s) | {_fmt(med('score_s'), '.2f')} s | "
                         f"{_fmt(med('summarize_s'), '.2f')} s | {_fmt(med('report_s'), '.2f')} s | "
                         f"{_fmt(_median([r['wall_s'] for r in ok]), '.1f')} s |")
    return "\n".join(lines) if len(lines) > 2 else ""


def machine() -> dict[str, Any]:
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    return {"cpus": os.cpu_count(), "mem_gib": round(mem / 1024 / 1024, 1), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_start": os.getloadavg(), "started": time.strftime("%F %T"),
            "nice": os.nice(0)}


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [f"Machine: {m['cpus']} cores, {m['mem_gib']} GiB, Python {m['python']}, niceness {m['nice']}; load "
           f"average (1 min) {m['loadavg_start'][0]:.2f} at start, {m['loadavg_end'][0]:.2f} at end; started "
           f"{m['started']}, {res.get('elapsed_s', 0) / 60:.0f} min."]
    parts = [res[k] for k in ("compare", "large", "instant") if k in res]
    out += [compare_table(p) for p in parts]
    phases = phases_table(parts)
    if phases:
        out.append("evalkit's phases (medians, from child.py):\n\n" + phases)
    alone = alone_table(res)
    if alone:
        out.append("**evalkit alone**\n\n" + alone)
    if res.get("install_errors"):
        out.append("Peers not installed: " + "; ".join(f"{k}: {v.splitlines()[0]}"
                                                         for k, v in res["install_errors"].items()))
    return "\n\n".join(out)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description="evalkit vs ideal and vs its peers (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round (a few minutes)")
    parser.add_argument("--only", action="append", choices=("compare", "large", "instant", "cache", "memory"),
                        help="run only these parts (repeatable)")
    parser.add_argument("--harnesses", help="comma-separated subset of " + ",".join(HARNESSES))
    parser.add_argument("--large-peers", default="lm-eval",
                        help="peers that also run the 50k-item workload (default: lm-eval; 'all' or 'none')")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per workload (default 3; --quick 1)")
    parser.add_argument("--million", action="store_true", help="also the 1,000,000-item memory run")
    parser.add_argument("--peers-dir", type=Path, default=peers_mod.default_peers_dir(),
                        help="where the peers are installed (default: $EVALKIT_BENCH_PEERS or "
                             "~/.cache/evalkit-bench/peers)")
    parser.add_argument("--no-install", action="store_true", help="use the peers already installed, install none")
    parser.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "evalkit-perf" / "results.json")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects and run directories")
    parser.add_argument("--evalkit-alt", action="append", default=[], metavar="LABEL=PATH[,VAR=VALUE...]",
                        help="also measure evalkit from another tree (with extra environment variables), as "
                             "harnesses LABEL and LABEL-mistral (repeatable; name them in --harnesses to pick)")
    parser.add_argument("--from-json", type=Path, metavar="RESULTS.json",
                        help="measure nothing: print the tables of a saved --json file (e.g. of an interrupted run)")
    parser.add_argument("--evalkit-src", type=Path, default=REPO,
                        help="the folder holding the `evalkit` package to measure (default: this checkout), e.g. a "
                             "prototype or a `git archive` of another commit")
    args = parser.parse_args()
    # Stopping the benchmark (Ctrl-C, `kill`, or SIGINT to a background job, which a shell starts with SIGINT
    # ignored) unwinds normally: the command being measured is ended and what was measured is saved.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        for alt in saved.get("args", {}).get("evalkit_alt") or []:
            add_alternative(alt)
        print(report(saved))
        return 0
    global EVALKIT_SRC
    EVALKIT_SRC = args.evalkit_src.resolve()
    if not (EVALKIT_SRC / "evalkit" / "__init__.py").is_file():
        parser.error(f"--evalkit-src: no evalkit package in {EVALKIT_SRC}")

    parts = set(args.only or ("compare", "large", "instant", "cache", "memory"))
    q = args.quick
    rounds = args.rounds or (1 if q else 3)
    for alt in args.evalkit_alt:
        add_alternative(alt)
    names = [x.strip() for x in args.harnesses.split(",")] if args.harnesses else list(HARNESSES)
    unknown = [x for x in names if x not in HARNESSES]
    if unknown:
        parser.error(f"--harnesses: unknown {unknown}; known: {', '.join(HARNESSES)}")
    peers_wanted = sorted({HARNESSES[x].peer for x in names if HARNESSES[x].peer})
    large_peers = (peers_wanted if args.large_peers == "all" else [] if args.large_peers == "none"
                   else [x.strip() for x in args.large_peers.split(",")])

    start = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    res["install_errors"] = {} if args.no_install or not peers_wanted else peers_mod.install(args.peers_dir,
                                                                                            peers_wanted)
    runnable = [x for x in names if HARNESSES[x].peer is None or HARNESSES[x].peer not in res["install_errors"]]
    work = Path(tempfile.mkdtemp(prefix="evalkit-perf-"))

    def save() -> None:
        """Raw figures and tables so far: an interrupted or failed run still leaves what it measured."""
        res["machine"]["loadavg_end"] = os.getloadavg()
        res["elapsed_s"] = time.perf_counter() - start
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
        if args.markdown:
            args.markdown.write_text(report(res) + "\n", encoding="utf-8")

    steps: list[tuple[str, Callable[[], Any]]] = []
    w_compare = Workload(1000 if q else 5000, 64, 0.2)
    steps.append(("compare", lambda: compare("compare", w_compare, runnable, args.peers_dir, work, rounds,
                                             timeout_s=60 + 30 * w_compare.ideal_s, keep=args.keep)))
    w_large = Workload(5000 if q else 50000, 512, 0.05)
    big = [x for x in runnable if HARNESSES[x].peer is None or HARNESSES[x].peer in large_peers or x in large_peers]
    steps.append(("large", lambda: compare("large", w_large, big, args.peers_dir, work, rounds,
                                           timeout_s=120 + 120 * w_large.ideal_s, keep=args.keep)))
    w_instant = Workload(2000 if q else 10000, 64, 0.0)
    steps.append(("instant", lambda: compare("instant", w_instant, runnable, args.peers_dir, work, rounds,
                                             timeout_s=120 + 0.1 * w_instant.n, keep=args.keep)))
    steps.append(("cache", lambda: bench_cache_report(work, 5000 if q else 100000, 64, timeout_s=3600)))
    sizes = [1000, 10000] if q else [1000, 100000] + ([1000000] if args.million else [])
    steps.append(("memory", lambda: bench_memory(work, sizes, timeout_s=4 * 3600, keep=args.keep)))
    try:
        for name, step in steps:
            if name in parts:
                res[name] = step()
                save()
    finally:
        save()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(kept {work})", file=sys.stderr)
    print(report(res))
    print(f"(raw results: {args.json})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as stop:
        print(f"benchmark {stop or 'interrupted'}: what was measured is in the --json file", file=sys.stderr)
        sys.exit(130)
