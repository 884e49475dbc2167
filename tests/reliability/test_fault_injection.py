"""Fault injection: a run through both real SDKs against a server that fails a quarter of its requests.

The server draws, per request: 10% HTTP 429 (with a Retry-After), 5% HTTP 500, 5% timeouts (no answer for
longer than the client waits), 2% dropped connections and 2% malformed JSON bodies. Every fault is
retryable, so with a retry budget the run must end with the very scores of a fault-free run; with a small
budget it must end anyway, each sample scored or explicitly failed after exactly the budgeted tries.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from evalkit.config import load_config
from evalkit.retry import RetryPolicy
from evalkit.runner import RunOptions, RunOutcome, prepare
from evalkit.suite import load_suite

from .project import (KEY_ENV, MODELS, call_key, generation_key, read_jsonl, server, task_metrics,
                      write_project)

N = 300
FAULT_RATES = {"rate_limit": 0.10, "server_error": 0.05, "timeout": 0.05, "drop": 0.02, "malformed": 0.02}
RETRY_AFTER_S = 0.2
# Generous for a loopback call even on a loaded 2-core machine (server and client share one process and its
# GIL), so that the only timeouts are the injected ones.
TIMEOUT_S = 2.0
# Backoff far shorter than the Retry-After, so honouring the header is what makes the wait measurable.
FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=2.0)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-reliability-0000")


def run(root: Path, suite: Path, cache: str) -> RunOutcome:
    """One run through the real pipeline (prepare + Runner), with the fast retry policy."""
    options = RunOptions(models=MODELS, out_dir=root / "reports", cache_dir=root / cache, show_progress=False,
                         retry=FAST)
    runner = prepare(load_suite(str(suite)), load_config(root / "evalkit.toml"), options)
    return asyncio.run(runner.run())


def test_faulty_server_gives_the_scores_of_a_fault_free_run(tmp_path: Path) -> None:
    # Injected timeouts outlast the client's wait; 10 retries make 11 faults in a row (p = 0.24^11) unseen.
    with server(timeout_sleep_s=TIMEOUT_S + 1.0, rate_limit_retry_after=str(RETRY_AFTER_S), seed=7) as srv:
        suite = write_project(tmp_path, srv.url, n=N, concurrency=12, max_retries=10, timeout_s=TIMEOUT_S)
        clean = run(tmp_path, suite, "cache-clean")
        assert all(g.ok for g in clean.result.generations)

        srv.reset()
        srv.set_fault_rates(FAULT_RATES, seed=7)
        faulty = run(tmp_path, suite, "cache-faulty")  # a separate cache: every call goes to the server
        requests = srv.requests

    # The faults really happened, in about the planned proportions.
    kinds = Counter(r.fault for r in requests)
    total = len(requests)
    for kind, rate in FAULT_RATES.items():
        assert kinds[kind] >= 0.4 * rate * total, (kind, kinds)

    # Every sample of every model has exactly one generation, and every one succeeded.
    gens = read_jsonl(faulty.run_dir / "generations.jsonl")
    assert Counter((g["sample_id"], g["model"]) for g in gens) == {(f"s{i:05d}", m): 1 for i in range(N)
                                                                   for m in MODELS}
    assert [g["error"] for g in gens if g["error"]] == []
    assert max(g["retries"] for g in gens) <= 10

    # The server saw exactly the tries the harness accounts for: no hidden SDK retry, no lost or extra call.
    assert total == sum(g["retries"] + 1 for g in gens)
    per_call = Counter(call_key(r) for r in requests)
    assert per_call == {generation_key(g): g["retries"] + 1 for g in gens}
    assert faulty.calls == {m: sum(1 for r in requests if r.body["model"] == f"{m}-model") for m in MODELS}

    # Retry-After was honoured: after a 429 the same call came back no sooner than the header said.
    by_call = defaultdict(list)
    for r in requests:
        by_call[call_key(r)].append(r)
    waits = [nxt.received_at - r.received_at for reqs in by_call.values() for r, nxt in zip(reqs, reqs[1:])
             if r.fault == "rate_limit"]
    assert waits and min(waits) >= RETRY_AFTER_S * 0.95

    # Same scores, sample by sample and in every task and token/cost metric.
    assert read_jsonl(faulty.run_dir / "results.jsonl") == read_jsonl(clean.run_dir / "results.jsonl")
    assert task_metrics(faulty.run_dir / "results.json") == task_metrics(clean.run_dir / "results.json")
    assert task_metrics(clean.run_dir / "results.json")["mis"]["accuracy"]["value"] == 1.0


def test_a_small_retry_budget_ends_every_sample_scored_or_failed(tmp_path: Path) -> None:
    n = 120
    rates = {"server_error": 0.35, "rate_limit": 0.10, "bad_request": 0.05}
    with server(rate_limit_retry_after="0.01", seed=3) as srv:
        suite = write_project(tmp_path, srv.url, n=n, concurrency=8, max_retries=1)
        clean = run(tmp_path, suite, "cache-clean")
        srv.reset()
        srv.set_fault_rates(rates, seed=3)
        faulty = run(tmp_path, suite, "cache-faulty")
        requests = srv.requests

    gens = read_jsonl(faulty.run_dir / "generations.jsonl")
    assert len(gens) == 2 * n and len({(g["sample_id"], g["model"]) for g in gens}) == 2 * n
    failed = [g for g in gens if g["error"]]
    assert failed, "with 50% faults and one retry some calls must fail"
    faults_of = defaultdict(list)
    for r in requests:
        faults_of[call_key(r)].append(r.fault)
    for g in failed:
        tries = faults_of[generation_key(g)]
        if "not retryable" in g["error"]:  # a 400 is given up at once, never retried
            assert tries[-1] == "bad_request" and "HTTP 400" in g["error"]
        else:  # retryable faults: exactly the budget (1 try + 1 retry), then an explicit failure
            assert g["retries"] == 1 and len(tries) == 2 and None not in tries
            assert "gave up after 2 tries" in g["error"]
    assert len(requests) == sum(g["retries"] + 1 for g in gens) <= 2 * 2 * n

    # Failed samples are marked as such in the scores; every scored one has its fault-free score.
    clean_scores = {r["sample_id"]: r["scores"] for r in read_jsonl(clean.run_dir / "results.jsonl")}
    failed_keys = {(g["sample_id"], g["model"]) for g in failed}
    for r in read_jsonl(faulty.run_dir / "results.jsonl"):
        for model, score in r["scores"].items():
            if (r["sample_id"], model) in failed_keys:
                assert score["details"]["failed"] is True and score["value"] is None
            else:
                assert score == clean_scores[r["sample_id"]][model]
    metrics = task_metrics(faulty.run_dir / "results.json")
    for m in MODELS:
        n_failed = sum(1 for g in failed if g["model"] == m)
        assert metrics[m]["failed"]["value"] == n_failed
        assert metrics[m]["n"]["value"] == n - n_failed
