"""Which items a run draws, in which order and in which batches, and when it may stop (`--until-decided`).

The default schedule draws every sample in data order as one stream and never stops. A sequential run
(issue 16, evalkit.sequential) gives the draw order as sample ids, a batch size N and a StopRule: the runner
draws N items, stores their generations and results, asks the rule, and draws the next N only when it says
go on. The summary and the report then cover the items drawn (results.jsonl holds exactly those, and the
first len(results) lines of samples.jsonl are their samples).

No call of a batch starts before the rule has decided on the previous one, so every stored call belongs to an
item the summary covers; the price is that each batch waits for its slowest item.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalkit.records import SampleResult

if TYPE_CHECKING:
    from evalkit.sequential import SequentialResult

__all__ = ["ItemSchedule", "StopRule"]


class StopRule(ABC):
    """Asked after each batch of items is stored: stop drawing, or go on."""

    @abstractmethod
    def after_batch(self, results: Sequence[SampleResult]) -> bool:
        """The batch just stored (results in draw order); True stops the run after it (e.g.
        `evalkit.sequential.SequentialMonitor.update_results`)."""

    def result(self) -> SequentialResult | None:
        """What the rule saw and decided, once the stream has ended: the runner stores it as sequential.json
        in the run directory (before the summary and report, which show it). None (the default): nothing."""
        return None


@dataclass(frozen=True)
class ItemSchedule:
    """The items of a run and the looks at them (see the module docstring)."""

    order: tuple[str, ...] | None = None
    """Sample ids in draw order (each once, all in the data); None: every sample, in data order."""
    batch_size: int | None = None
    """Items per batch; None: one batch of every item."""
    stop: StopRule | None = None
    """Asked after each batch; None: never stop."""

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.stop is not None and self.batch_size is None:
            raise ValueError("a stop rule needs a batch_size: it is asked after each batch")
        if self.order is not None and len(set(self.order)) != len(self.order):
            raise ValueError("order must name each sample id once")
