"""Whole-process measurement of one command: wall time, CPU of its process tree, peak RSS, load average.

The command runs in a new session (so a timeout can end its whole tree); `os.wait4` gives the kernel's
accounting of the finished process and every descendant it reaped (user + sys CPU, and the peak RSS of the
largest single process), and a sampler thread adds the peak of the tree's summed RSS (every 50 ms, from
/proc), which is what matters for a harness that runs several processes at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class ProcStats:
    """What one finished command cost."""

    exit_code: int | None
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mib: float
    """The largest single process of the tree (the kernel's ru_maxrss)."""
    tree_rss_mib: float
    """The largest sum of the tree's resident sets seen by the 50 ms sampler."""
    load_start: float
    load_end: float
    timed_out: bool = False

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds of the process tree."""
        return self.user_s + self.sys_s

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (cpu_s included)."""
        return {**asdict(self), "cpu_s": self.cpu_s}


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                out.extend(int(x) for x in fh.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _tree_rss_kib(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * PAGE_KIB
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        todo.extend(_children(pid))
    return total


def run_measured(argv: list[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
                 timeout_s: float) -> ProcStats:
    """Run `argv` to completion (or kill its tree after `timeout_s`) and return what it cost."""
    load_start = os.getloadavg()[0]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], _tree_rss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timed_out = False

        def kill() -> None:
            nonlocal timed_out
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill()  # interrupted (Ctrl-C): the command's whole session goes with the benchmark
            os.waitpid(proc.pid, 0)
            raise
        finally:
            timer.cancel()
            wall = time.perf_counter() - start
            done.set()
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        # Whatever the command left behind in its session (a daemon, a stuck worker) ends with it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return ProcStats(exit_code=proc.returncode, wall_s=wall, user_s=usage.ru_utime, sys_s=usage.ru_stime,
                     max_rss_mib=usage.ru_maxrss / 1024, tree_rss_mib=max(peak[0], usage.ru_maxrss) / 1024,
                     load_start=load_start, load_end=os.getloadavg()[0], timed_out=timed_out)
