"""Gate settings: which rules to check and how many failed calls a run may have, from a suite, the project
config or a rules file. Every rule is parsed here, so a typo fails before any model is called (exit 2).

Accepted shapes, in a suite file (`gates:`), in `evalkit.toml` (`[gates]`) or in a `--rules` file:

    gates: ["ft.f1 >= 0.75", "ft.f1 >= base.f1"]          # a list of rules
    gates: {rules: [...], max_failed: 0, max_failed_rate: 0.02, baseline: {tolerance: 0.01}}

A `--rules` file is YAML (`.yaml`/`.yml`), TOML (`.toml`, a `[gates]` table or top-level keys) or plain text
with one rule per line (`#` starts a comment).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.errors import ConfigError
from evalkit.gating._rules import Rule, parse_rule
from evalkit.user_errors import validation_error
from evalkit.yaml_file import parse_yaml

__all__ = ["BaselineSpec", "GateSpec", "SourcedRule", "gate_spec", "load_rules_file"]


class BaselineSpec(BaseModel):
    """How `--baseline RUN_DIR` compares the run with an earlier one: no metric may get worse beyond tolerance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: list[str] | None = None
    """Models compared with their namesake in the baseline run (default: every model both runs have)."""
    metrics: list[str] | None = None
    """Metrics compared (default: every task metric with a direction, counts excluded)."""
    tolerance: float = Field(default=0.0, ge=0)
    """How much worse a metric may get, in its own unit (0.01 = one percentage point for a fraction)."""
    tolerances: dict[str, float] = Field(default_factory=dict)
    """Per-metric tolerances that override `tolerance` (e.g. `{latency_p95_s: 0.2}`)."""


class GateSpec(BaseModel):
    """Everything a gate checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[str] = Field(default_factory=list)
    """Rules such as `ft.f1 >= 0.75`, `ft.f1 - base.f1 >= 0.10` (grammar: evalkit.gating._rules)."""
    max_failed: int | None = Field(default=0, ge=0)
    """Failed calls (after retries) allowed per model; more makes the gate exit 3. None: no count limit."""
    max_failed_rate: float | None = Field(default=None, ge=0, le=1)
    """Share of failed calls allowed per model; more makes the gate exit 3. None: no rate limit."""
    baseline: BaselineSpec = Field(default_factory=BaselineSpec)


@dataclass(frozen=True)
class SourcedRule:
    """A parsed rule and where it was written (for messages and the report)."""

    rule: Rule
    source: str
    """`path:line` or `path` of the file that holds the rule."""


@dataclass(frozen=True)
class LoadedGates:
    """Gate settings and the parsed rules, with their sources."""

    spec: GateSpec
    rules: tuple[SourcedRule, ...]
    sources: tuple[str, ...]
    """Files the settings came from, in order of precedence (later wins)."""


def _as_mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        return {"rules": raw}
    if isinstance(raw, Mapping):
        return dict(raw)
    raise ConfigError(f"{where}: gates must be a list of rules or a mapping with `rules` and settings "
                      f"(max_failed, max_failed_rate, baseline), got {type(raw).__name__}")


def _line_of(path: Path | None, needle: str) -> str:
    """`path:line` of the first line holding `needle`, else `path` (so errors point at the rule)."""
    if path is None:
        return "(no file)"
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return f"{path}:{i}"
    except OSError:
        pass
    return str(path)


def _parse(raw: Any, path: Path | None, field: str) -> tuple[GateSpec, list[SourcedRule], dict[str, Any]]:
    where = f"{path or '(no file)'}: {field}"
    mapping = _as_mapping(raw, where)
    try:
        spec = GateSpec.model_validate(mapping)
    except ValidationError as exc:
        raise validation_error(exc, where=where, model=GateSpec,
                               allowed="rules (list of rules), max_failed (int >= 0), max_failed_rate (0..1), "
                                       "baseline (models, metrics, tolerance, tolerances)") from None
    rules = []
    for i, text in enumerate(spec.rules):
        at = _line_of(path, text.strip()) if text.strip() else str(path)
        try:
            rules.append(SourcedRule(parse_rule(text), at))
        except ConfigError as exc:
            raise ConfigError(f"{at}: {field}.rules[{i}]: {exc}") from None
    return spec, rules, mapping


def gate_spec(suite_gates: Any, suite_path: Path | None, config_gates: Any, config_path: Path | None,
              rules_file: Path | None = None) -> LoadedGates:
    """The gates of a run: the suite's and the project config's (rules of both; config settings win), or
    only those of `rules_file` when one is given."""
    if rules_file is not None:
        raw, field = load_rules_file(rules_file)
        spec, rules, _ = _parse(raw, rules_file, field)
        return LoadedGates(spec, tuple(rules), (str(rules_file),))
    s_spec, s_rules, s_raw = _parse(suite_gates, suite_path, "gates")
    c_spec, c_rules, c_raw = _parse(config_gates, config_path, "[gates]")
    merged = {**s_spec.model_dump(exclude={"rules"}, exclude_unset=True),
              **{k: v for k, v in c_raw.items() if k != "rules"}}
    spec = GateSpec.model_validate({**merged, "rules": [r for r in s_spec.rules + c_spec.rules]})
    sources = tuple(str(p) for p, raw in ((suite_path, suite_gates), (config_path, config_gates)) if raw and p)
    return LoadedGates(spec, tuple(s_rules + c_rules), sources)


def load_rules_file(path: Path) -> tuple[Any, str]:
    """The raw gates of a `--rules` file and the field name used in messages."""
    if not path.is_file():
        raise ConfigError(f"--rules: file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        raw = parse_yaml(text, str(path))
        if isinstance(raw, Mapping) and "gates" in raw:
            return raw["gates"], "gates"
        return raw, "gates"
    if suffix == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        return (raw["gates"], "[gates]") if "gates" in raw else (raw, "(top level)")
    rules = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [r for r in rules if r], "rules"
