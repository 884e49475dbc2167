"""Gate rules: a tiny grammar, parsed once into typed records with errors that point at the offending character.

Grammar (whitespace around `+` and `-` is required, because model names may contain `-`):

    rule    := expr COMP expr
    expr    := ["-"] term (("+" | "-") term)*
    term    := NUMBER | ref
    ref     := MODEL ["@baseline"] "." METRIC          e.g. ft.f1, ft-lr1e-5.accuracy, ft@baseline.f1
             | `MODEL` ["@baseline"] "." METRIC        backticks for a model name with spaces
    COMP    := ">=" | "<=" | ">" | "<"

A rule is normalised by moving every term to the left. Two shapes are allowed:

- a threshold: one metric of one model against a number (`ft.f1 >= 0.75`, `0.5 >= ft.cost_per_1k_usd`);
- a comparison: the difference of two models (or of a model and its baseline run) on the same metric against
  a number (`ft.f1 - base.f1 >= 0.10`, `ft.f1 >= base.f1`, `ft.f1 >= ft@baseline.f1 - 0.01`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from evalkit.errors import ConfigError

__all__ = ["BASELINE_SUFFIX", "Comparator", "MetricRef", "Rule", "RuleSyntaxError", "parse_rule"]

Comparator = Literal[">=", "<=", ">", "<"]
BASELINE_SUFFIX = "@baseline"

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_METRIC = re.compile(r"[A-Za-z_]\w*")
_WORD = re.compile(r"[\w.@\-]+")
_GLUED = re.compile(r"\.[A-Za-z_]\w*[-+]")
_QUOTED = re.compile(r"`([^`]+)`(@baseline)?\.([A-Za-z_]\w*)")
_COMPARATORS = (">=", "<=", ">", "<")
_NOT_COMPARATORS = ("==", "!=", "=>", "=<", "=")


class RuleSyntaxError(ConfigError):
    """A rule that does not parse; the one-line message quotes the rule and the text from the position at
    fault on (a caret line would break the one-line rule of user errors)."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        rest = text[position:]
        at = f" at {rest!r}" if rest.strip() else " at the end"
        super().__init__(f"invalid gate rule '{text}', position {position + 1}{at}: {problem}")


@dataclass(frozen=True)
class MetricRef:
    """One model's metric, in the run being gated or (with `baseline`) in the baseline run."""

    model: str
    metric: str
    baseline: bool = False

    @property
    def label(self) -> str:
        """How the rule language writes this model: `ft` or `ft@baseline`."""
        return self.model + (BASELINE_SUFFIX if self.baseline else "")

    def __str__(self) -> str:
        return f"{self.label}.{self.metric}"


@dataclass(frozen=True)
class Rule:
    """A parsed rule, normalised to `left COMP bound` or `left - right COMP bound`."""

    text: str
    """The rule as written (what reports and JUnit test cases are named after)."""
    left: MetricRef
    comparator: Comparator
    bound: float
    right: MetricRef | None = None
    """None for a threshold; the subtracted model for a comparison."""

    @property
    def is_comparison(self) -> bool:
        """True when the rule compares two models (decided on the CI of their paired difference)."""
        return self.right is not None

    @property
    def refs(self) -> tuple[MetricRef, ...]:
        """Every model metric the rule reads."""
        return (self.left,) if self.right is None else (self.left, self.right)

    def normalised(self) -> str:
        """The rule in canonical form, e.g. `ft.f1 - base.f1 >= 0.1`."""
        lhs = str(self.left) if self.right is None else f"{self.left} - {self.right}"
        return f"{lhs} {self.comparator} {self.bound:g}"


@dataclass(frozen=True)
class _Token:
    kind: Literal["num", "ref", "op", "cmp"]
    text: str
    pos: int
    value: float | MetricRef | None = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        for bad in _NOT_COMPARATORS:
            if text.startswith(bad, i) and not any(text.startswith(c, i) for c in _COMPARATORS):
                raise RuleSyntaxError(text, i, f"'{bad}' is not a comparison; use one of {', '.join(_COMPARATORS)}")
        cmp = next((c for c in _COMPARATORS if text.startswith(c, i)), None)
        if cmp is not None:
            if text.startswith(cmp + "=", i):
                raise RuleSyntaxError(text, i, f"'{cmp}=' is not a comparison; use one of {', '.join(_COMPARATORS)}")
            tokens.append(_Token("cmp", cmp, i))
            i += len(cmp)
            continue
        if text[i] in "+-" and (i + 1 >= len(text) or not (text[i + 1].isdigit() or text[i + 1] == ".")
                                or (tokens and tokens[-1].kind in ("num", "ref"))):
            tokens.append(_Token("op", text[i], i))
            i += 1
            continue
        if text[i] == "`":
            m = _QUOTED.match(text, i)
            if m is None:
                raise RuleSyntaxError(text, i, "expected `MODEL`.METRIC (a backtick-quoted model name, a dot "
                                               "and a metric name)")
            tokens.append(_Token("ref", m.group(0), i, MetricRef(m.group(1), m.group(3), bool(m.group(2)))))
            i = m.end()
            continue
        m = _WORD.match(text, i)
        if m is None:
            raise RuleSyntaxError(text, i, f"unexpected character '{text[i]}'")
        word = m.group(0)
        if _NUMBER.fullmatch(word):
            tokens.append(_Token("num", word, i, float(word)))
        else:
            tokens.append(_Token("ref", word, i, _parse_ref(text, i, word)))
        i = m.end()
    return tokens


def _parse_ref(text: str, pos: int, word: str) -> MetricRef:
    """MODEL[@baseline].METRIC, split at the last dot (metric names never hold one, model names may)."""
    model, dot, metric = word.rpartition(".")
    hint = " (put spaces around '+' and '-': `ft.f1 - base.f1`)" if "-" in word and "." in model else ""
    glued = _GLUED.search(model)
    if glued:  # `ft.f1-base.f1`: a metric glued to an operator, not a model named `ft.f1-base`
        raise RuleSyntaxError(text, pos + glued.end() - 1, "put spaces around '+' and '-' (`ft.f1 - base.f1`); "
                                                           "quote a model name holding such text in backticks")
    if not dot or not model:
        raise RuleSyntaxError(text, pos, f"expected MODEL.METRIC (e.g. ft.f1) or a number, got '{word}'{hint}")
    if not _METRIC.fullmatch(metric):
        raise RuleSyntaxError(text, pos + len(model) + 1,
                              f"expected a metric name (letters, digits, '_') after '.', got '{metric}'{hint}")
    baseline = model.endswith(BASELINE_SUFFIX)
    if baseline:
        model = model[: -len(BASELINE_SUFFIX)]
    if not model or "@" in model:
        raise RuleSyntaxError(text, pos, f"expected MODEL or MODEL{BASELINE_SUFFIX} before '.{metric}', "
                                         f"got '{word[: -len(metric) - 1]}'")
    return MetricRef(model, metric, baseline)


def _side(text: str, tokens: list[_Token], end: int) -> tuple[dict[MetricRef, float], float]:
    """Coefficients of each ref and the constant of one side of the comparison (which ends at `end`)."""
    coefs: dict[MetricRef, float] = {}
    constant = 0.0
    sign = 1.0
    expect_term = True
    for tok in tokens:
        if expect_term:
            if tok.kind == "op":
                if tok is not tokens[0] or tok.text != "-":
                    raise RuleSyntaxError(text, tok.pos, f"expected a model metric or a number, got '{tok.text}'")
                sign = -1.0
                continue
            if tok.kind == "num":
                constant += sign * float(tok.value)  # type: ignore[arg-type]
            else:
                ref = tok.value
                assert isinstance(ref, MetricRef)
                coefs[ref] = coefs.get(ref, 0.0) + sign
            expect_term = False
        else:
            if tok.kind != "op":
                raise RuleSyntaxError(text, tok.pos, f"expected '+', '-' or a comparison, got '{tok.text}'")
            sign = 1.0 if tok.text == "+" else -1.0
            expect_term = True
    if expect_term:
        at = tokens[-1].pos + len(tokens[-1].text) if tokens else end
        raise RuleSyntaxError(text, min(at, len(text)), "expected a model metric or a number")
    return coefs, constant


def parse_rule(text: str) -> Rule:
    """Parse one rule; RuleSyntaxError (a ConfigError) quoting the rule and the position at fault.

    >>> parse_rule("ft.f1 - base.f1 >= 0.10").normalised()
    'ft.f1 - base.f1 >= 0.1'
    >>> parse_rule("0.5 >= ft.cost_per_1k_usd").normalised()
    'ft.cost_per_1k_usd <= 0.5'
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a gate rule must be a non-empty string like 'ft.f1 >= 0.75', got {text!r}")
    text = text.strip()
    tokens = _tokenize(text)
    cmps = [t for t in tokens if t.kind == "cmp"]
    if not cmps:
        _side(text, tokens, len(text))  # two terms without an operator between them are the likelier slip
        raise RuleSyntaxError(text, len(text), f"expected a comparison ({', '.join(_COMPARATORS)})")
    if len(cmps) > 1:
        raise RuleSyntaxError(text, cmps[1].pos, "a rule has exactly one comparison")
    split = tokens.index(cmps[0])
    if split == 0:
        raise RuleSyntaxError(text, cmps[0].pos, "expected a model metric or a number before the comparison")
    left, lconst = _side(text, tokens[:split], cmps[0].pos)
    right, rconst = _side(text, tokens[split + 1:], len(text))
    coefs = dict(left)
    for ref, c in right.items():
        coefs[ref] = coefs.get(ref, 0.0) - c
    coefs = {r: c for r, c in coefs.items() if c != 0}
    bound = rconst - lconst
    comparator: Comparator = cmps[0].text  # type: ignore[assignment]
    shape = ("a rule compares one model's metric with a number (ft.f1 >= 0.75) or the difference of two models "
             "on the same metric with a number (ft.f1 - base.f1 >= 0.1)")
    if not coefs:
        raise RuleSyntaxError(text, 0, f"the rule reads no model metric; {shape}")
    if any(abs(c) != 1 for c in coefs.values()):
        raise RuleSyntaxError(text, 0, f"each model metric may appear once, without a factor; {shape}")
    positive = [r for r, c in coefs.items() if c > 0]
    negative = [r for r, c in coefs.items() if c < 0]
    if len(coefs) == 1:
        ref = next(iter(coefs))
        if coefs[ref] < 0:  # -x OP b  <=>  x FLIP(OP) -b
            return Rule(text=text, left=ref, comparator=_flip(comparator), bound=-bound)
        return Rule(text=text, left=ref, comparator=comparator, bound=bound)
    if len(coefs) == 2 and len(positive) == 1 and len(negative) == 1:
        a, b = positive[0], negative[0]
        if a.metric != b.metric:
            raise RuleSyntaxError(text, 0, f"a comparison must use the same metric on both models, got "
                                           f"'{a.metric}' and '{b.metric}'")
        if a.label == b.label:
            raise RuleSyntaxError(text, 0, f"a comparison needs two different models, got '{a.label}' twice")
        return Rule(text=text, left=a, comparator=comparator, bound=bound, right=b)
    raise RuleSyntaxError(text, 0, shape)


def _flip(c: Comparator) -> Comparator:
    return {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[c]  # type: ignore[return-value]
