"""One evalkit command in a fresh process, timed phase by phase (run by run.py, not meant to be used alone).

    python benchmarks/perf/child.py OUT.json -- run SUITE --models bench ...    # any `evalkit` arguments

Writes OUT.json: the exit code, wall time of the whole process (from interpreter start), of `import evalkit`,
of the call phase (Runner._generate), of scoring + statistics, of report rendering, and the peak RSS
(VmHWM). With `--null` a `bench-null` provider is registered: it answers in-process without any I/O, which
isolates evalkit's own per-sample overhead from the HTTP client's.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import inspect  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def rss_mb(field: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident set size of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def null_provider_class() -> type:
    """A provider that answers every request at once with the label its prompt implies (no network, no SDK).

    Built on first use, on whatever base class the measured tree has (`evalkit.providers.base.Provider`, an ABC
    whose subclasses call `super().__init__(spec)`, or an older protocol), so old commits can be measured too.
    """
    from evalkit.providers import base
    from evalkit.records import ProviderResponse, Usage

    parent = getattr(base, "Provider", object)

    class NullProvider(parent):  # type: ignore[misc, valid-type]
        def __init__(self, spec: object) -> None:
            try:
                super().__init__(spec)  # type: ignore[call-arg]
            except TypeError:  # a protocol or object: nothing to initialise
                pass
            self.spec = spec

        async def generate(self, request):  # type: ignore[no-untyped-def]
            text = request.prompt.messages[-1].content if request.prompt.messages else (request.prompt.text or "")
            return ProviderResponse(text="positive" if "good" in text else "negative",
                                    usage=Usage(prompt_tokens=len(text.split()), completion_tokens=1),
                                    finish_reason="stop")

        async def aclose(self) -> None:
            pass

    return NullProvider


def main() -> int:
    args = sys.argv[1:]
    out = Path(args.pop(0))
    null = "--null" in args[: args.index("--")]
    argv = args[args.index("--") + 1:]

    t_import = time.perf_counter()
    import evalkit.runner as runner_mod
    from evalkit.cli import main as cli_main
    from evalkit.providers import providers

    phases: dict[str, float] = {"import_s": time.perf_counter() - t_import}
    if null:
        providers.register("bench-null")(null_provider_class())

    marks: dict[str, tuple[float, float]] = {}
    missing: list[str] = []

    def mark(name: str) -> None:
        # CPU seconds beside wall seconds: on a shared, busy machine wall time includes waiting for a core.
        marks[name] = (time.perf_counter(), time.process_time())
        phases[f"rss_at_{name}_mb"] = rss_mb("VmRSS")

    def span(name: str, start: str, stop: str) -> None:
        if start in marks and stop in marks:
            phases[f"{name}_s"] = marks[stop][0] - marks[start][0]
            phases[f"{name}_cpu_s"] = marks[stop][1] - marks[start][1]

    def hook(owner: object, attr: str, start: str, stop: str) -> None:
        """Mark `start`/`stop` around owner.attr (a coroutine function or a plain one); a tree that has no
        such attribute (renamed since) only loses that phase's timing, noted in `missing_hooks`."""
        original = getattr(owner, attr, None)
        if original is None:
            missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        if inspect.iscoroutinefunction(original):
            async def timed(*a, **kw):  # type: ignore[no-untyped-def]
                mark(start)
                try:
                    return await original(*a, **kw)
                finally:
                    mark(stop)
        else:
            def timed(*a, **kw):  # type: ignore[no-untyped-def]
                mark(start)
                try:
                    return original(*a, **kw)
                finally:
                    mark(stop)
        setattr(owner, attr, timed)

    # Runners before the streaming rework call the models (_generate), then score (_score); since, one pass
    # (_process) answers and scores item by item: its span is reported as the call phase, scoring included.
    if hasattr(runner_mod.Runner, "_generate"):
        hook(runner_mod.Runner, "_generate", "generate", "generated")
        hook(runner_mod.Runner, "_score", "score", "scored")
    else:
        hook(runner_mod.Runner, "_process", "generate", "generated")
    hook(runner_mod, "write_report", "report", "reported")
    import evalkit.report as report_pkg  # `evalkit report` imports write_report from here

    if getattr(report_pkg, "write_report", None) is not None and hasattr(runner_mod, "write_report"):
        report_pkg.write_report = runner_mod.write_report
    else:
        hook(report_pkg, "write_report", "report", "reported")

    mark("main")
    try:
        code = cli_main(argv)
    except SystemExit as exc:  # argparse and some commands exit instead of returning
        code = exc.code if isinstance(exc.code, int) else 1
    mark("end")
    end = marks["end"][0]
    span("command", "main", "end")
    span("setup", "main", "generate")  # config, data, prompts, providers, run directory
    span("generate", "generate", "generated")  # the calls (or cache hits)
    span("score", "score", "scored")  # per-sample scoring
    span("summarize", "scored" if "scored" in marks else "generated", "report")  # statistics, operational metrics
    span("report", "report", "reported")  # report.html, summary.md, results.json
    result = {"exit_code": code, "process_s": end - T0, "process_cpu_s": time.process_time(), **phases,
              "peak_rss_mb": rss_mb(), "missing_hooks": missing}
    out.write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
