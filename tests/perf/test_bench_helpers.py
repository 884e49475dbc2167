"""The benchmark's own instruments (benchmarks/perf): the loopback server's counters, the whole-process
measurement, the profile's phase and layer attribution, the peers' inputs and the result tables.

A benchmark whose counters or attributions are wrong gives confident wrong numbers, so these check that each
instrument reports what actually happened; the benchmark itself (timings) is not run here.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[2] / "benchmarks" / "perf"
sys.path.insert(0, str(PERF))

import callprofile as perf_profile  # noqa: E402
import measure  # noqa: E402
import peers  # noqa: E402
import run as bench  # noqa: E402

sys.path.remove(str(PERF))  # the benchmark's module names (run, peers) must not shadow anything else


@pytest.fixture(scope="module")
def srv():
    with bench.server(0.0) as s:
        yield s


def _post(port: int, content: str, conn: http.client.HTTPConnection | None = None) -> dict:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": content}]})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())


def test_server_counts_requests_and_resets(srv):
    srv.reset()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    answers = [_post(srv.port, text, conn)["choices"][0]["message"]["content"]
               for text in ("the food was good", "the food was bad", "good again")]
    stats = srv.stats()
    assert answers == ["positive", "negative", "positive"]
    assert stats["requests"] == 3
    assert stats["first_at"] is not None and stats["last_at"] >= stats["first_at"]
    assert stats["max_connections"] >= 1  # one keep-alive connection carried all three
    srv.reset()
    after = srv.stats()
    assert after["requests"] == 0 and after["first_at"] is None
    conn.close()


def test_server_answer_is_valid_openai_json_with_usage(srv):
    reply = _post(srv.port, "review 7: the food was good")
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"]["total_tokens"] == reply["usage"]["prompt_tokens"] + 1


def test_run_measured_counts_cpu_of_grandchildren(tmp_path):
    # The CPU is burnt in a grandchild: a harness that hands its work to a subprocess must still be charged.
    burn = "x = 0\nfor i in range(4_000_000): x += i"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}], check=True)"
    stats = measure.run_measured([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ),
                                 stdout=tmp_path / "o", stderr=tmp_path / "e", timeout_s=60)
    solo = subprocess.run([sys.executable, "-c", "import resource, subprocess, sys; "
                           f"subprocess.run([sys.executable, '-c', {burn!r}]); "
                           "r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime)"],
                          capture_output=True, text=True, check=True)
    grandchild_cpu = float(solo.stdout)
    assert stats.exit_code == 0 and not stats.timed_out
    assert stats.cpu_s >= 0.8 * grandchild_cpu
    assert stats.max_rss_mib > 1 and stats.tree_rss_mib >= stats.max_rss_mib


def test_run_measured_timeout_ends_the_whole_tree(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    start = time.monotonic()
    stats = measure.run_measured([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ),
                                 stdout=tmp_path / "o", stderr=tmp_path / "e", timeout_s=2)
    assert stats.timed_out
    assert time.monotonic() - start < 30
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # the kernel reaps the orphan through init shortly after the kill
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"grandchild {grandchild} survived the timeout")


def _frames(*spec: str) -> list[perf_profile.Frame]:
    """Frames leaf first from 'Class.method@path' strings."""
    out = []
    for item in spec:
        qual, _, path = item.partition("@")
        out.append((qual.rsplit(".", 1)[-1], path, qual))
    return out


LOOP = ("BaseEventLoop._run_once@/usr/lib/python3.11/asyncio/base_events.py", "run@/usr/lib/python3.11/asyncio/runners.py")


def test_layer_charges_generic_helpers_to_their_caller():
    frames = _frames("BaseModel.__init__@/venv/site-packages/pydantic/main.py",
                     "construct_type@/venv/site-packages/openai/_models.py",
                     "AsyncAPIClient._process_response@/venv/site-packages/openai/_base_client.py",
                     "Model._call@/src/evalkit/model.py", *LOOP)
    assert perf_profile.layer_of(frames) == ("openai SDK: response parsing (pydantic models)", "pydantic")
    put = _frames("ResponseCache.put@/src/evalkit/cache.py", "Model._call_with_retries@/src/evalkit/model.py", *LOOP)
    assert perf_profile.layer_of(put)[0].startswith("evalkit: sqlite cache write")
    h11 = _frames("validate@/venv/site-packages/h11/_util.py",
                  "AsyncHTTP11Connection._send_event@/venv/site-packages/httpcore2/_async/http11.py", *LOOP)
    assert perf_profile.layer_of(h11)[0] == "h11 (HTTP/1.1 parsing)"


def test_phase_follows_the_stack():
    stats = _frames("bincount@/venv/numpy/core.py", "paired_bootstrap_many@/src/evalkit/stats.py",
                    "ClassificationTask.summarize@/src/evalkit/tasks/classification.py",
                    "Runner.run@/src/evalkit/runner.py", *LOOP)
    call = _frames("h11_thing@/venv/site-packages/h11/_util.py", "Model._call@/src/evalkit/model.py", *LOOP)
    scoring = _frames("parse_label@/src/evalkit/metrics/classification.py",
                      "Runner._score.<locals>.score@/src/evalkit/runner.py", *LOOP)
    importing = _frames("<module>@/venv/site-packages/openai/__init__.py", "_find_and_load@<frozen importlib>",
                        "<module>@/bench/child.py")
    waiting = _frames("_worker@/usr/lib/python3.11/concurrent/futures/thread.py",
                      "Thread.run@/usr/lib/python3.11/threading.py",
                      "Thread._bootstrap@/usr/lib/python3.11/threading.py")
    assert perf_profile.phase_of(stats) == "statistics"
    assert perf_profile.phase_of(call) == "calls"
    assert perf_profile.phase_of(scoring) == "scoring"
    assert perf_profile.phase_of(importing) == "import"
    assert perf_profile.phase_of(waiting).startswith("other threads")


def test_parse_raw_reads_py_spy_collapsed_stacks(tmp_path):
    raw = tmp_path / "p.raw"
    raw.write_text("<module> (/b/child.py);main (/b/child.py);Runner.run (/s/evalkit/runner.py) 7\n"
                   "<module> (/b/child.py);ResponseCache.put (/s/evalkit/cache.py) 3\n", encoding="utf-8")
    stacks = perf_profile.parse_raw(raw)
    assert [count for _, count in stacks] == [7, 3]
    assert stacks[0][0][0] == ("run", "/s/evalkit/runner.py", "Runner.run")  # leaf first
    assert stacks[1][0][-1][2] == "<module>"


def test_peer_inputs_are_the_same_workload(tmp_path):
    w = peers.Workload(n=30, concurrency=4, latency=0.0, max_tokens=4)
    pf = peers.promptfoo_command(tmp_path / "pf", tmp_path / "pf", "http://127.0.0.1:1", w)
    with (tmp_path / "pf" / "tests.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items = [json.loads(line) for line in (tmp_path / "pf" / "data.jsonl").read_text().splitlines()]
    assert len(rows) == len(items) == 30
    assert [r["text"] for r in rows] == [i["text"] for i in items]
    assert [r["__expected"] for r in rows] == [f"equals:{i['label']}" for i in items]
    config = (tmp_path / "pf" / "promptfooconfig.yaml").read_text()
    assert "max_tokens: 4" in config and "--max-concurrency" in pf.argv and "4" in pf.argv
    lm = peers.lm_eval_command(tmp_path / "lm", tmp_path / "lm", "http://127.0.0.1:1", w)
    assert any("num_concurrent=4" in a for a in lm.argv)
    assert "max_gen_toks: 4" in (tmp_path / "lm" / "lm_tasks" / "perf.yaml").read_text()
    assert lm.argv[lm.argv.index("--system_instruction") + 1] == peers.SYSTEM
    bench.write_project(tmp_path / "ek", 30, "http://127.0.0.1:1", 4)
    suite = (tmp_path / "ek" / "suite.yaml").read_text()
    assert peers.SYSTEM in suite and "max_tokens: 4" in suite


def _run(r: int, wall: float, span: float, problem: str | None = None, requests: int = 100) -> dict:
    return {"round": r, "wall_s": wall, "server_span_s": span, "cpu_s": 1.0, "tree_rss_mib": 100.0,
            "requests": requests, "max_in_flight": 8, "max_connections": 8, "problem": problem,
            "load_start": 1.0, "load_end": 1.5}


def test_compare_table_ratios_and_failures():
    res = {"label": "compare", "n": 100, "concurrency": 10, "latency_s": 0.2, "ideal_s": 2.0, "rounds": 2,
           "loadavg_start": (1.0, 1.0, 1.0), "loadavg_end": (2.0, 2.0, 2.0),
           "runs": {"evalkit": [_run(0, 4.0, 2.2), _run(1, 5.0, 2.4)],
                    "lm-eval": [_run(0, 8.0, 2.0), _run(1, 5.0, 2.0)],
                    "promptfoo": [_run(0, 9.0, 3.0, problem="sent 99 requests, not 100", requests=99)]}}
    text = bench.compare_table(res)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "4.5 s (2.25 ×)" in rows["evalkit"]  # median wall of 4.0 and 5.0, over the 2.0 s ideal
    assert "2.3 s (1.15 ×)" in rows["evalkit"]
    # lm-eval against evalkit round by round: 8/4 = 2.0 and 5/5 = 1.0, median 1.5
    assert "1.50 ×" in rows["lm-eval 0.4.13"]
    assert "0/1" in rows["promptfoo 0.123.1"] and "failed" in rows["promptfoo 0.123.1"]
    assert "sent 99 requests, not 100" in text


def test_peer_install_is_idempotent_and_follows_the_pinned_spec(tmp_path):
    calls = []

    def steps(log: Path) -> None:
        calls.append(log)
        (tmp_path / "peer" / "bin").mkdir(parents=True)
        (tmp_path / "peer" / "bin" / "tool").write_text("#!/bin/sh\n")

    exe = tmp_path / "peer" / "bin" / "tool"
    assert peers._installed(tmp_path / "peer", "tool==1.0", exe, steps) == exe
    assert peers._installed(tmp_path / "peer", "tool==1.0", exe, steps) == exe
    assert len(calls) == 1  # the stamp matched: nothing reinstalled
    peers._installed(tmp_path / "peer", "tool==2.0", exe, steps)
    assert len(calls) == 2  # a new pin: the folder is emptied and installed again
    assert (tmp_path / "peer" / ".installed").read_text().strip() == "tool==2.0"


def test_failed_peer_install_is_redone_next_time(tmp_path):
    def broken(log: Path) -> None:
        (tmp_path / "peer" / "half-installed").write_text("x")
        raise RuntimeError("network went away")

    exe = tmp_path / "peer" / "tool"
    with pytest.raises(RuntimeError):
        peers._installed(tmp_path / "peer", "tool==1.0", exe, broken)
    assert not (tmp_path / "peer" / ".installed").exists()  # no stamp: the next call starts over

    def good(log: Path) -> None:
        assert not (tmp_path / "peer" / "half-installed").exists()  # emptied first
        exe.write_text("ok")

    assert peers._installed(tmp_path / "peer", "tool==1.0", exe, good) == exe
