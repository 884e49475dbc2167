"""CI regression gates: rules over a run's results (and an earlier run's), with exit codes for CI.

    from evalkit.gating import run_gate
    report, files = run_gate(Path("reports/news-20250101-100000"), baseline_dir=Path("reports/release-1"))
    sys.exit(report.exit_code)   # 0 all rules hold, 1 a rule failed, 3 too many failed calls

Rules: evalkit.gating._rules (grammar); settings: evalkit.gating._spec; decisions: evalkit.gating._evaluate;
outputs: evalkit.gating._output. docs/ci-gates.md is the user guide.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import ConfigError

if TYPE_CHECKING:
    from evalkit.gating._evaluate import GateReport
    from evalkit.gating._output import GateFiles
    from evalkit.gating._spec import LoadedGates

# Public names live in private modules and are imported on first use: `evalkit --help` must not pay for
# numpy, the task registry and the report renderers that a gate needs.
_LAZY = {
    "RunData": "_data", "did_you_mean": "_data",
    "EXIT_FAIL": "_evaluate", "EXIT_OK": "_evaluate", "EXIT_RUN_FAILURES": "_evaluate", "EXIT_USAGE": "_evaluate",
    "POLICY": "_evaluate", "FailedCalls": "_evaluate", "GateReport": "_evaluate", "RuleOutcome": "_evaluate",
    "evaluate_gate": "_evaluate",
    "GateFiles": "_output", "render_junit": "_output", "render_markdown": "_output", "render_text": "_output",
    "write_gate_files": "_output",
    "MetricRef": "_rules", "Rule": "_rules", "RuleSyntaxError": "_rules", "parse_rule": "_rules",
    "BaselineSpec": "_spec", "GateSpec": "_spec", "LoadedGates": "_spec", "SourcedRule": "_spec",
    "gate_spec": "_spec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"evalkit.gating.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'evalkit.gating' has no attribute {name!r}")


__all__ = [
    "EXIT_FAIL", "EXIT_OK", "EXIT_RUN_FAILURES", "EXIT_USAGE", "POLICY",
    "BaselineSpec", "FailedCalls", "GateFiles", "GateReport", "GateSpec", "LoadedGates", "MetricRef", "Rule",
    "RuleOutcome", "RuleSyntaxError", "RunData", "SourcedRule",
    "check_rule_models", "evaluate_gate", "gate_spec", "load_gates", "parse_rule", "render_junit",
    "render_markdown", "render_text", "run_gate", "write_gate_files",
]


def load_gates(suite_gates: object, suite_path: Path | None, config_path: Path | None = None,
               rules_file: Path | None = None) -> LoadedGates:
    """The gates for a run of a suite: the suite's, the project config's (`--config` or ./evalkit.toml), or
    only `rules_file`'s."""
    from evalkit.config import load_config
    from evalkit.gating._spec import gate_spec

    config = load_config(config_path)
    return gate_spec(suite_gates, suite_path, config.gates, config.path, rules_file)


def check_rule_models(gates: LoadedGates, models: Sequence[str], baseline: bool) -> None:
    """Before a run: every model a rule names must be among `--models` (metrics are checked after the run)."""
    from evalkit.user_errors import did_you_mean

    for sr in gates.rules:
        for ref in sr.rule.refs:
            if ref.baseline and not baseline:
                raise ConfigError(f"{sr.source}: rule '{sr.rule.text}': '{ref.label}' reads the baseline run; "
                                  "pass --baseline RUN_DIR")
            if ref.model not in models:
                hint = did_you_mean(ref.model, list(models), cutoff=0.5)
                raise ConfigError(f"{sr.source}: rule '{sr.rule.text}': unknown model '{ref.model}'; the run's "
                                  f"models are {', '.join(models)}.{hint}")


def run_gate(run_dir: Path, *, baseline_dir: Path | None = None, rules_file: Path | None = None,
             config_path: Path | None = None, junit: Path | None = None,
             markdown: Path | None = None) -> tuple[GateReport, GateFiles]:
    """Check a finished run directory and write the gate's JUnit XML, Markdown and JSON files.

    ConfigError/DataError (exit 2) for unusable rules or run directories; otherwise the report's exit_code.
    """
    from evalkit.gating._data import RunData
    from evalkit.gating._evaluate import evaluate_gate
    from evalkit.gating._output import write_gate_files

    data = RunData.load(run_dir)
    baseline = RunData.load(baseline_dir, "--baseline run") if baseline_dir is not None else None
    suite = data.suite
    gates = load_gates(suite.gates, suite.path if suite.gates else None, config_path, rules_file)
    report = evaluate_gate(gates.spec, gates.rules, data, baseline)
    return report, write_gate_files(report, junit, markdown)
