"""evalkit: evaluate fine-tuned language models against their base, side by side.

The public API is what `__all__` lists; everything else may change between releases.

- Running: `run(suite, models, ...)` (or `await arun(...)`) returns a `RunOutcome` (run directory, results,
  call counts, `metric()` and `comparison()` lookups).
- Extending: subclass `Provider` (implement `generate`) or `Task` (implement `score` and `summarize`) and
  register it in `providers` / `tasks`, or through the entry-point groups `evalkit.providers` /
  `evalkit.tasks`. The records they exchange are exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit.errors import ConfigError, DataError, EvalkitError, MissingDependencyError, ProviderError
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers import Provider, StreamChunk, providers
from evalkit.records import (Comparison, ConfusionMatrix, Generation, GenerationParams, Judgment, Message, MetricValue,
                             ModelScore, Prompt, ProviderResponse, Request, RunResult, Sample, SampleResult, Table,
                             TaskSummary, Usage)
from evalkit.tasks import (ItemMetric, RunPolicy, ScoringContext, SummaryContext, Task, check_results, scored_items,
                           tasks)
from evalkit.version import __version__

if TYPE_CHECKING:
    from evalkit.api import arun, run
    from evalkit.runner import RunOutcome

__all__ = [
    "Comparison", "ConfigError", "ConfusionMatrix", "DataError", "EvalkitError", "Generation", "GenerationParams",
    "ItemMetric", "Judgment", "Message", "MetricValue", "MissingDependencyError", "ModelScore", "ModelSpec", "Price",
    "Prompt", "Provider", "ProviderError", "ProviderResponse", "Request", "RunOutcome", "RunPolicy", "RunResult",
    "Sample", "SampleResult", "ScoringContext", "StreamChunk", "SummaryContext", "Table", "Task", "TaskSummary", "Usage",
    "__version__", "arun", "check_results", "providers", "run", "scored_items", "tasks",
]

_LAZY = {"run": "evalkit.api", "arun": "evalkit.api", "RunOutcome": "evalkit.runner"}


def __getattr__(name: str) -> Any:
    # Running pulls in the runner, the report and their libraries: imported on first use, so a plugin that
    # only needs the records and base classes stays quick to import.
    if name in _LAZY:
        from importlib import import_module

        return vars(import_module(_LAZY[name]))[name]
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
