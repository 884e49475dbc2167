"""Where evalkit's CPU goes: per request on the call path, and in the fixed costs of a run (profiles/*.txt).

    python benchmarks/perf/callprofile.py                       # all three profiles into benchmarks/perf/profiles/
    python benchmarks/perf/callprofile.py --only openai         # one of: openai, mistral, fixed, imports
    python benchmarks/perf/callprofile.py --evalkit-src /tmp/x  # profile another tree (a prototype, an old commit)

Needs py-spy (a sampling profiler that reads the process from outside, so it adds almost nothing to what it
measures): `pip install py-spy` into the environment that runs this script. Each profile is one `evalkit
run` through child.py against the instant loopback server (server.py, latency 0), sampled at --rate Hz
without idle stacks, so the sample counts are proportional to CPU. Samples are assigned to a phase (import,
setup, calls, scoring, statistics, report) by the frames they contain, and a call-path sample to the layer
that owns it: the innermost frame of a known layer (evalkit's cache key, its sqlite writes, its JSONL
appends, the vendor SDK's request building and response parsing, httpx, httpcore, h11, anyio, asyncio...),
with generic helpers (pydantic, json, typing, copy, ...) charged to the layer that called them and named
beside it. Per-request microseconds are the layer's share of the call phase's CPU (child.py's
`generate_cpu_s`, measured in the same run) divided by the number of requests.

    openai    10,000 items, C = 64, `openai` provider: per-request CPU by layer
    mistral   the same through the `mistral` provider
    fixed     5,000 items, C = 64: the fixed costs by phase, and the heaviest functions of statistics, report
    imports   `python -X importtime` of the same 5,000-item run: the packages on the start-up path
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (benchmarks/perf/run.py)
from peers import Workload  # noqa: E402

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")

PHASES = [  # (phase, a frame function name or file fragment that puts a sample in it), first match wins
    ("statistics", ("summarize", "merge_summaries", "operational_metrics", "attach_training")),
    ("report", ("write_report",)),
    ("scoring", ("_score",)),
    ("setup", ("load_data", "build_prompts", "_models", "write_records", "write_info", "write_json", "new_run_dir",
               "prepare", "load_suite", "load_config", "create_task")),
]

GENERIC = ("/pydantic/", "/pydantic_core/", "/json/", "/typing.py", "/typing_extensions.py", "/copy.py", "/abc.py",
           "/enum.py", "/re/", "/functools.py", "/contextlib.py", "/dataclasses.py", "/inspect.py", "/weakref.py",
           "/_weakrefset.py", "/collections/", "/email/", "/urllib/", "/http/", "/string.py", "/threading.py",
           "/types.py", "/base64.py", "/random.py", "/datetime.py", "/codecs.py", "/encodings/", "/idna/",
           "/_collections_abc.py", "/operator.py", "/uuid.py", "/platform.py", "/logging/", "/warnings.py",
           "/annotated_types/", "/distro/", "/certifi/", "/truststore/", "/ssl.py", "/os.py", "/posixpath.py",
           "/genericpath.py", "/tokenize.py", "/linecache.py", "/traceback.py")

OPENAI_REQUEST = ("_build_request", "_build_headers", "_prepare_options", "_prepare_request", "_serialize",
                  "_make_status_error", "default_headers", "auth_headers", "platform_headers", "_idempotency_key",
                  "_remaining_retries", "_should_retry", "_calculate_retry_timeout", "platform_headers",
                  "_validate_headers", "custom_auth", "_build_query", "_merge_mappings", "_enforce_trailing_slash",
                  "model_dump", "transform", "async_transform", "maybe_transform", "async_maybe_transform")
OPENAI_RESPONSE = ("_process_response", "parse", "_parse", "construct_type", "construct", "validate_type",
                   "_construct_field", "is_basemodel", "_process_response_data", "json", "read", "aread")


def layer_of(frames: list[Frame]) -> tuple[str, str]:
    """(owning layer, generic helper it spent the time in or '') for one call-path stack, leaf first."""
    helper = ""
    for func, path, _ in frames:
        if any(g in path for g in GENERIC):
            if not helper:
                helper = next(g.strip("/").removesuffix(".py") for g in GENERIC if g in path)
            continue
        name = _owner(func, path)
        if name is not None:
            return name, helper
        if not helper:
            helper = Path(path).stem
    return "other", helper


def _owner(func: str, path: str) -> str | None:
    if "/evalkit/" in path:
        if path.endswith("/cache.py"):
            if func in ("put", "_flush", "flush", "close"):
                return "evalkit: sqlite cache write (INSERT, autocommit)"
            if func == "get":
                return "evalkit: sqlite cache read"
            return "evalkit: cache key (model_dump + json + sha256)"
        if path.endswith("/store.py"):
            return "evalkit: generations.jsonl append (model_dump_json + flush)"
        if path.endswith("/model.py"):
            if func in ("_generation", "call_cost"):
                return "evalkit: Generation record (pydantic)"
            return "evalkit: Model wrapper (semaphore, wait_for, retries)"
        if path.endswith("/runner.py"):
            return "evalkit: runner (Request records, bounded_map, progress)"
        if path.endswith("/records.py"):
            return "evalkit: records (pydantic validators)"
        if "/providers/" in path:
            return "evalkit: provider (request body, response mapping)"
        return f"evalkit: {Path(path).stem}"
    if "/rich/" in path:
        return "rich progress bar"
    if "/openai/" in path:
        if func in OPENAI_RESPONSE or path.endswith(("/_response.py", "/_models.py", "/_legacy_response.py")):
            return "openai SDK: response parsing (pydantic models)"
        if func in OPENAI_REQUEST or path.endswith(("/_utils/_transform.py", "/_qs.py", "/_files.py")):
            return "openai SDK: request building (options, headers, body)"
        return "openai SDK: request orchestration (post/request/retry loop)"
    if "/mistralai/" in path:
        if "/utils/serializers.py" in path:
            return "mistral SDK: marshal/unmarshal (pydantic)"
        if "/utils/" in path or path.endswith("/basesdk.py"):
            return "mistral SDK: request building (utils, basesdk)"
        if "/models/" in path:
            return "mistral SDK: models (pydantic)"
        if "/_hooks/" in path:
            return "mistral SDK: hooks (each run through asyncio.to_thread)"
        return "mistral SDK: chat / hooks / other"
    for frag, name in (("/concurrent/futures/", "thread-pool hops (asyncio.to_thread, executor)"),
                       ("/httpx/", "httpx (Request/Response, URLs, headers)"),
                       ("/httpx2/", "httpx (Request/Response, URLs, headers)"),
                       ("/httpcore/", "httpcore (connection pool, HTTP/1.1)"),
                       ("/httpcore2/", "httpcore (connection pool, HTTP/1.1)"),
                       ("/h11/", "h11 (HTTP/1.1 parsing)"), ("/anyio/", "anyio (socket streams, locks)"),
                       ("/sniffio/", "anyio (socket streams, locks)"), ("/aiohttp/", "aiohttp"),
                       ("/asyncio/", "asyncio event loop, tasks, sockets"), ("/selectors.py", "asyncio event loop, tasks, sockets"),
                       ("/socket.py", "asyncio event loop, tasks, sockets"), ("/sqlite3/", "evalkit: sqlite cache write (INSERT, autocommit)")):
        if frag in path:
            return name
    return None


Frame = tuple[str, str, str]
"""(method name, file, qualified name `Class.method`): py-spy names methods `Class.method`; the phase and layer
rules match the method's own name."""


def parse_raw(path: Path) -> list[tuple[list[Frame], int]]:
    """py-spy raw (collapsed) stacks: [(frames, leaf first), sample count]."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for part in stack.split(";"):
            m = FRAME.match(part.strip())
            func, file = (m.group("func"), m.group("file")) if m else (part.strip(), "")
            frames.append((func.rsplit(".", 1)[-1], file, func))
        out.append((frames[::-1], int(count)))
    return out


def phase_of(frames: list[Frame]) -> str:
    """The run phase a sample belongs to, from the functions on its stack."""
    # Every component of the qualified names: `Runner._score.<locals>.score` is in the scoring phase.
    funcs = {part for _, _, qual in frames for part in qual.split(".")}
    if frames and frames[-1][0] == "_bootstrap" and frames[-1][1].endswith("threading.py"):
        # A thread-pool worker: work the SDK handed it (asyncio.to_thread) is call-path CPU; a worker blocked
        # on its queue (py-spy cannot always tell that it is idle) is not.
        if "run" in funcs and any(q.endswith("_WorkItem.run") for _, _, q in frames):
            return "calls"
        if any("/evalkit/" in path for _, path, _ in frames):  # a thread of evalkit's own (e.g. a writer)
            return "calls"
        return "other threads (thread-pool workers waiting)"
    for phase, names in PHASES:
        if funcs & set(names):
            return phase
    if "_run_once" in funcs:
        return "calls"
    if "_find_and_load" in funcs:
        return "import"
    return "other (interpreter start, CLI, exit)"


def profile_run(root: Path, cmd: list[str], env: dict[str, str], raw: Path, rate: int) -> None:
    pyspy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if pyspy is None:
        raise SystemExit("py-spy not found: pip install py-spy into the environment running this script")
    full = [pyspy, "record", "--format", "raw", "--full-filenames", "--nolineno", "--rate", str(rate), "-o", str(raw),
            "--", *cmd]
    proc = subprocess.run(full, cwd=root, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0 or not raw.is_file():
        raise RuntimeError(f"py-spy failed ({proc.returncode}): {proc.stderr[-2000:]}")


def evalkit_argv(root: Path, out_json: Path, *extra: str, models: str = "bench") -> list[str]:
    return [sys.executable, str(HERE / "child.py"), str(out_json), "--", "run", str(root / "suite.yaml"),
            "--models", models, "--quiet", "--config", str(root / "evalkit.toml"), "--cache-dir",
            str(root / f"cache-{time.monotonic_ns()}"), "--out", str(root / "reports"), *extra]


def call_path_profile(provider: str, n: int, concurrency: int, rate: int, work: Path) -> str:
    """Per-request CPU by layer for one provider (text)."""
    root = work / f"prof-{provider}"
    out_json = root / "child.json"
    raw = root / "pyspy.raw"
    with bench.server(0.0) as srv:
        bench.write_project(root, n, srv.url, concurrency, provider=provider)
        srv.reset()
        profile_run(root, evalkit_argv(root, out_json), bench.evalkit_env(), raw, rate)
        requests = srv.stats()["requests"]
    child = json.loads(out_json.read_text(encoding="utf-8"))
    stacks = parse_raw(raw)
    by_phase: collections.Counter[str] = collections.Counter()
    layers: collections.Counter[str] = collections.Counter()
    helpers: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    leaves: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        phase = phase_of(frames)
        by_phase[phase] += count
        if phase != "calls":
            continue
        layer, helper = layer_of(frames)
        layers[layer] += count
        helpers[layer][helper or "(own code)"] += count
        _, path, qual = frames[0]
        leaves[f"{qual} ({_short(path)})"] += count
    total_calls = sum(layers.values())
    cpu = child.get("generate_cpu_s", 0.0)
    per_req_us = 1e6 * cpu / max(1, requests)
    lines = [f"# Call path, `{provider}` provider: {n:,} items, concurrency {concurrency}, instant server",
             "",
             f"evalkit source: {bench.EVALKIT_SRC}; load average {os.getloadavg()[0]:.2f} at the end; py-spy {rate} Hz, "
             f"idle stacks excluded.",
             f"Requests at the server: {requests:,}. Call phase: wall {child.get('generate_s', 0):.2f} s, CPU "
             f"{cpu:.2f} s = {per_req_us:.0f} µs of CPU per request (whole process CPU {child.get('process_cpu_s', 0):.1f} s).",
             "Samples by phase: " + ", ".join(f"{k} {v}" for k, v in by_phase.most_common()),
             "",
             "| layer (owner of the innermost known frame) | share of call-phase CPU | µs per request | spent in (top helpers) |",
             "|---|---|---|---|"]
    for layer, count in layers.most_common():
        share = count / max(1, total_calls)
        top = ", ".join(f"{h} {100 * c / count:.0f}%" for h, c in helpers[layer].most_common(3))
        lines.append(f"| {layer} | {100 * share:.1f} % | {share * per_req_us:.0f} | {top} |")
    lines += ["", "Top 25 leaf functions (self time) in the call phase:", ""]
    for leaf, count in leaves.most_common(25):
        lines.append(f"- {100 * count / max(1, total_calls):5.1f} %  {leaf}")
    lines += ["", "Top 30 functions by inclusive time in the call phase:", ""]
    lines += _inclusive(stacks, lambda fr: phase_of(fr) == "calls", total_calls, 30)
    return "\n".join(lines) + "\n"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/evalkit/"):
        if marker in path:
            return ("evalkit/" if marker == "/evalkit/" else "") + path.split(marker, 1)[1]
    return path


def _inclusive(stacks: list[tuple[list[Frame], int]], keep: Any, total: int, top: int) -> list[str]:
    incl: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        if not keep(frames):
            continue
        seen = set()
        for _, path, qual in frames:
            key = f"{qual} ({_short(path)})"
            if key not in seen:
                seen.add(key)
                incl[key] += count
    # Frames on (nearly) every stack of the selection are its common ancestors (the event loop, the CLI):
    # they say nothing about where the time goes.
    return [f"- {100 * c / max(1, total):5.1f} %  {k}" for k, c in incl.most_common()
            if c < 0.985 * total][:top]


def fixed_profile(n: int, concurrency: int, rate: int, work: Path) -> str:
    """The fixed costs of an n-item run of two models (base and ft: so the paired comparisons run too), by
    phase, with the heaviest functions of statistics and report."""
    root = work / "prof-fixed"
    out_json = root / "child.json"
    raw = root / "pyspy.raw"
    with bench.server(0.0) as srv:
        bench.write_project(root, n, srv.url, concurrency, models=("base", "ft"))
        profile_run(root, evalkit_argv(root, out_json, models="base,ft"), bench.evalkit_env(), raw, rate)
    child = json.loads(out_json.read_text(encoding="utf-8"))
    stacks = parse_raw(raw)
    by_phase: collections.Counter[str] = collections.Counter()
    lazy_imports: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        phase = phase_of(frames)
        by_phase[phase] += count
        if phase in ("statistics", "report", "scoring", "setup") and any(f == "_find_and_load" for f, _, _ in frames):
            lazy_imports[phase] += count
    total = sum(by_phase.values())
    lines = [f"# Fixed costs of a {n:,}-item run of two models, base and ft (instant server, C = {concurrency}, "
             "`openai` provider)", "",
             f"evalkit source: {bench.EVALKIT_SRC}; load average {os.getloadavg()[0]:.2f} at the end; py-spy {rate} Hz.",
             "Phases from child.py (wall s / CPU s): " + ", ".join(
                 f"{k} {child.get(k + '_s', 0):.2f}/{child.get(k + '_cpu_s', 0):.2f}" if k + "_cpu_s" in child
                 else f"{k} {child.get(k + '_s', 0):.2f}" for k in ("import", "setup", "generate", "score", "summarize",
                                                                     "report")),
             f"Whole process {child.get('process_s', 0):.2f} s, CPU {child.get('process_cpu_s', 0):.2f} s.", "",
             "| phase | share of samples | of which importing modules |", "|---|---|---|"]
    for phase, count in by_phase.most_common():
        lazy = lazy_imports.get(phase, 0)
        lines.append(f"| {phase} | {100 * count / total:.1f} % | {100 * lazy / total:.1f} % |" if lazy else
                     f"| {phase} | {100 * count / total:.1f} % | |")
    for phase in ("statistics", "report", "setup", "scoring"):
        count = by_phase.get(phase, 0)
        if not count:
            continue
        lines += ["", f"## {phase}: top 30 functions by inclusive share of the phase", ""]
        lines += _inclusive(stacks, lambda fr, p=phase: phase_of(fr) == p, count, 30)
    return "\n".join(lines) + "\n"


def importtime_profile(n: int, concurrency: int, work: Path) -> str:
    """`-X importtime` of an n-item run: the slowest top-level imports and when they happen."""
    root = work / "prof-imports"
    out_json = root / "child.json"
    with bench.server(0.0) as srv:
        bench.write_project(root, n, srv.url, concurrency, models=("base", "ft"))
        argv = evalkit_argv(root, out_json, models="base,ft")
        proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=root,
                              env={**os.environ, **bench.evalkit_env()}, capture_output=True, text=True)
    rows = []  # (self us, cumulative us, depth, name)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)))
    total = sum(own for own, _, _, _ in rows)
    per_pkg: collections.Counter[str] = collections.Counter()
    for own, _, _, name in rows:
        per_pkg[name.split(".")[0]] += own
    unprofiled = json.loads(out_json.read_text())["import_s"] if out_json.is_file() else None
    lines = [f"# Imports of a {n:,}-item `evalkit run --models base,ft` (python -X importtime)", "",
             f"evalkit source: {bench.EVALKIT_SRC}; load average {os.getloadavg()[0]:.2f}. Every module imported "
             f"during the run: {len(rows)}, {total / 1e6:.2f} s of import time in all (-X importtime inflates it; "
             f"child.py's `import evalkit.cli` alone took "
             + (f"{unprofiled:.2f} s" if unprofiled is not None else "?") + " in the same run).", "",
             "## Import time by top-level package (sum of its modules' own time)", "",
             "| package | modules | own import time |", "|---|---|---|"]
    counts = collections.Counter(name.split(".")[0] for _, _, _, name in rows)
    for pkg, own in per_pkg.most_common(25):
        lines.append(f"| {pkg} | {counts[pkg]} | {own / 1e3:.0f} ms |")
    lines += ["", "## Entry points: imports made at the top level (depth 0), by cumulative time, in run order", "",
              "(what evalkit's code asked for; an entry's time includes everything it pulled in first)", ""]
    top = [(cum, name) for _, cum, depth, name in rows if depth == 0 and cum >= 5000]
    lines += [f"- {cum / 1e3:8.0f} ms  {name}" for cum, name in top]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=("openai", "mistral", "fixed", "imports"))
    parser.add_argument("--n", type=int, default=10000, help="items of the call-path profiles (default 10000)")
    parser.add_argument("--fixed-n", type=int, default=5000, help="items of the fixed-cost profiles (default 5000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second (default 250)")
    parser.add_argument("--out", type=Path, default=HERE / "profiles")
    parser.add_argument("--suffix", default="", help="appended to the file names (e.g. -proto)")
    parser.add_argument("--evalkit-src", type=Path, default=bench.REPO)
    parser.add_argument("--keep", action="store_true", help="keep the raw py-spy stacks and the run folders")
    args = parser.parse_args()
    bench.EVALKIT_SRC = args.evalkit_src.resolve()
    parts = args.only or ["openai", "mistral", "fixed", "imports"]
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="evalkit-prof-"))
    try:
        for part in parts:
            if part in ("openai", "mistral"):
                text = call_path_profile(part, args.n, args.concurrency, args.rate, work)
                name = f"call-path-{part}"
            elif part == "fixed":
                text, name = fixed_profile(args.fixed_n, args.concurrency, args.rate, work), "fixed-costs"
            else:
                text, name = importtime_profile(args.fixed_n, args.concurrency, work), "imports"
            path = args.out / f"{name}{args.suffix}.txt"
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"(kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
