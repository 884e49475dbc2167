"""The typed records of a sequential evaluation: what was planned, what each comparison's confidence sequence
looked like at every look, and what it decided. Frozen pydantic models, so results.json can store them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from evalkit.records import Record

__all__ = [
    "BoundVerdict",
    "ComparisonOutcome",
    "ComparisonSpec",
    "Decision",
    "DecisionKind",
    "Look",
    "SequenceState",
    "SequentialPlan",
    "SequentialResult",
    "Side",
    "StopReason",
    "Target",
]

DecisionKind = Literal["above", "below", "equivalent", "undecided"]
Side = Literal["above", "below", "undecided"]
StopReason = Literal["decided", "exhausted", "running"]
Target = Literal["distribution", "suite"]


class ComparisonSpec(Record):
    """One paired comparison the run may stop on: `model - reference` on a per-item metric."""

    key: str
    """Unique name of the comparison within a plan, e.g. `ft-base/accuracy`."""
    model: str
    reference: str
    metric: str
    value_low: float = 0.0
    """Smallest per-item value either model can get (0 for 0/1 correctness, 0 for a 0..3 judge score)."""
    value_high: float = 1.0
    """Largest per-item value either model can get; the per-item difference lies in +-(value_high - value_low)."""
    bounds: tuple[float, ...] = ()
    """Gate bounds on the difference besides zero (`ft.accuracy - base.accuracy >= 0.05` gives 0.05): the
    comparison is decided only once its sequence lies wholly above or below each of them."""
    margin: float | None = Field(default=None, gt=0)
    """This comparison's equivalence margin, in the unit of the difference; None: the plan's `margin`."""

    @model_validator(mode="after")
    def _check(self) -> ComparisonSpec:
        if not self.value_high > self.value_low:
            raise ValueError(f"value_high must be greater than value_low. Got value_low={self.value_low}, "
                             f"value_high={self.value_high}")
        span = self.value_high - self.value_low
        outside = [b for b in self.bounds if not -span < b < span]
        if outside:
            raise ValueError(f"bounds must lie strictly inside +-{span:g} (the range of a difference). "
                             f"Got {outside}")
        if self.margin is not None and self.margin >= span:
            raise ValueError(f"margin {self.margin:g} must be smaller than the range of the difference ({span:g})")
        return self

    @property
    def span(self) -> float:
        """value_high - value_low: the per-item difference lies in [-span, +span]."""
        return self.value_high - self.value_low


class SequentialPlan(Record):
    """Everything that fixes a sequential run's statistics before any item is drawn."""

    comparisons: tuple[ComparisonSpec, ...]
    batch_size: int = Field(default=50, ge=1)
    """Items drawn between two looks."""
    seed: int = 0
    """Seed of the item order (evalkit.sequential.draw_order)."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Per comparison: the probability that its sequence ever misses the true difference, at any look."""
    margin: float | None = Field(default=None, gt=0)
    """Equivalence margin of every comparison without its own: a sequence wholly inside [-margin, +margin]
    decides "no difference larger than margin". None: only above/below decisions."""

    def margin_of(self, spec: ComparisonSpec) -> float | None:
        """The equivalence margin that applies to `spec`: its own, else the plan's."""
        return spec.margin if spec.margin is not None else self.margin
    items_total: int | None = Field(default=None, ge=1)
    """Items available (the suite's size, after any limit): the run stops when they are all drawn. None: not
    known in advance (then no savings are reported and the target must be `distribution`)."""
    target: Target = "distribution"
    """What the sequence covers. `distribution`: the mean difference on the task the suite's items sample
    (items as i.i.d. draws; what the report's paired intervals estimate too). `suite`: the mean difference over
    exactly these `items_total` items (sampling without replacement; narrower, and exact once all are drawn,
    but it says nothing beyond this suite)."""

    @model_validator(mode="after")
    def _check(self) -> SequentialPlan:
        keys = [c.key for c in self.comparisons]
        if not keys:
            raise ValueError("a plan needs at least one comparison")
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"comparison keys must be unique. Got repeats of {repeated}")
        if self.target == "suite" and self.items_total is None:
            raise ValueError("target 'suite' needs items_total (the number of items in the suite)")
        if self.margin is not None:
            too_wide = [c.key for c in self.comparisons if c.margin is None and self.margin >= c.span]
            if too_wide:
                raise ValueError(f"margin {self.margin:g} must be smaller than the range of the difference "
                                 f"of {too_wide}")
        return self


class Look(Record):
    """A comparison's confidence sequence after one batch."""

    drawn: int
    """Items drawn so far (including those without a value for this comparison)."""
    n: int
    """Items with a value for this comparison so far (the sequence's sample size)."""
    estimate: float | None
    """Mean per-item difference so far (None before the first value)."""
    low: float
    high: float
    """The anytime-valid interval, intersected with every earlier look's."""


class BoundVerdict(Record):
    """Where a comparison's sequence lies relative to one bound, and from which look on."""

    bound: float
    side: Side
    n: int | None = None
    """Items (`Look.n`) at the first look that settled it; None while undecided."""


class Decision(Record):
    """What a comparison's sequence decided, and when."""

    kind: DecisionKind
    """above/below: wholly above/below zero (and every gate bound settled); equivalent: wholly inside
    [-margin, +margin]; undecided: neither yet."""
    look: int | None = None
    """0-based index of the look that decided it."""
    n: int | None = None
    """Items with a value at that look."""
    drawn: int | None = None
    """Items drawn at that look."""
    bounds: tuple[BoundVerdict, ...] = ()
    """Zero first, then each gate bound of the comparison."""

    @property
    def decided(self) -> bool:
        """True once the comparison needs no more items."""
        return self.kind != "undecided"


class SequenceState(Record):
    """A comparison's confidence sequence over all looks so far."""

    key: str
    looks: tuple[Look, ...] = ()
    skipped: int = 0
    """Drawn items without a value for this comparison (a failed call or judgment); they are left out."""


class ComparisonOutcome(Record):
    """One comparison's specification, sequence and decision."""

    spec: ComparisonSpec
    sequence: SequenceState
    decision: Decision


class SequentialResult(Record):
    """A whole sequential run's statistics, for results.json and the report."""

    method: str
    """The confidence sequence used, e.g. `predictable-plugin-empirical-bernstein (wor)`."""
    plan: SequentialPlan
    comparisons: tuple[ComparisonOutcome, ...]
    items_drawn: int
    """Items drawn (and so generated and scored) before the run stopped."""
    items_total: int | None
    """Items available (the plan's items_total)."""
    stopped: StopReason
    """decided: every comparison decided; exhausted: the items ran out first; running: neither yet."""

    @property
    def items_saved(self) -> int | None:
        """Items never drawn thanks to the early stop (None when the plan does not know items_total)."""
        return None if self.items_total is None else self.items_total - self.items_drawn
