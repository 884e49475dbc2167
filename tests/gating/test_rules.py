"""The gate rule grammar: accepted shapes, normal forms, and errors that point at the character at fault."""

from __future__ import annotations

import pytest

from evalkit.errors import ConfigError
from evalkit.gating import MetricRef, RuleSyntaxError, parse_rule


@pytest.mark.parametrize("text, normal", [
    ("ft.f1 >= 0.75", "ft.f1 >= 0.75"),
    ("ft.f1 - base.f1 >= 0.10", "ft.f1 - base.f1 >= 0.1"),
    ("ft.legal_quality > base.legal_quality", "ft.legal_quality - base.legal_quality > 0"),
    ("ft.latency_p95_s <= 2.0", "ft.latency_p95_s <= 2"),
    ("ft.cost_per_1k_usd <= 0.5", "ft.cost_per_1k_usd <= 0.5"),
    ("ft.invalid_rate <= 0.02", "ft.invalid_rate <= 0.02"),
    ("0.5 >= ft.cost_per_1k_usd", "ft.cost_per_1k_usd <= 0.5"),
    ("- ft.f1 <= -0.75", "ft.f1 >= 0.75"),
    ("ft.f1 >= base.f1 - 0.02", "ft.f1 - base.f1 >= -0.02"),
    ("base.f1 <= ft.f1", "base.f1 - ft.f1 <= 0"),
    ("ft-lr1e-5.accuracy >= base.accuracy", "ft-lr1e-5.accuracy - base.accuracy >= 0"),
    ("mistral-small-3.1.accuracy >= 0.5", "mistral-small-3.1.accuracy >= 0.5"),
    ("ft.f1 >= ft@baseline.f1 - 0.01", "ft.f1 - ft@baseline.f1 >= -0.01"),
    ("`my model`.f1 > 1e-3", "my model.f1 > 0.001"),
])
def test_accepted_rules_normalise(text: str, normal: str) -> None:
    assert parse_rule(text).normalised() == normal


def test_comparison_fields() -> None:
    rule = parse_rule("ft.f1 >= ft@baseline.f1 - 0.01")
    assert rule.is_comparison and rule.left == MetricRef("ft", "f1")
    assert rule.right == MetricRef("ft", "f1", baseline=True) and rule.right.label == "ft@baseline"
    assert rule.bound == pytest.approx(-0.01) and rule.comparator == ">="


@pytest.mark.parametrize("text, position, fragment", [
    ("ft.f1 >== 0.75", 7, "'>==' is not a comparison"),
    ("ft.f1 = 0.75", 7, "'=' is not a comparison"),
    ("ft.f1 == 0.75", 7, "'==' is not a comparison"),
    ("ft.f1 0.75", 7, "expected '+', '-' or a comparison"),
    ("ft.f1 >=", 9, "expected a model metric or a number"),
    ("ft >= 0.5", 1, "expected MODEL.METRIC"),
    ("ft.f1-base.f1 >= 0", 6, "put spaces around"),
    ("ft.f1 >= 2*base.f1", 11, "unexpected character '*'"),
    ("ft.f1 >= 0.5 >= 0.2", 14, "exactly one comparison"),
    ("ft.f1 >= base.accuracy", 1, "same metric on both models"),
    ("ft.f1 + base.f1 >= 1", 1, "difference of two models"),
    ("ft.f1 >= ft.f1", 1, "reads no model metric"),
    ("0.5 >= 0.2", 1, "reads no model metric"),
    ("ft.1x >= 0.2", 4, "expected a metric name"),
])
def test_syntax_errors_name_the_rule_and_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(text)
    message = str(info.value)
    assert f"'{text}'" in message and f"position {position} at " in message and fragment in message
    # one line, showing the rule from the character at fault on
    rest = text[position - 1:]
    assert "\n" not in message and (f"at {rest!r}:" in message if rest.strip() else "at the end:" in message)


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_empty_or_non_string_rules(bad) -> None:
    with pytest.raises(ConfigError, match="non-empty string"):
        parse_rule(bad)
