"""evalkit: evaluate fine-tuned language models against their base, side by side.

The public API is what `__all__` lists; everything else may change between releases.
"""

from evalkit.errors import ConfigError, DataError, EvalkitError, ProviderError
from evalkit.model_spec import ModelSpec, Price
from evalkit.providers import providers
from evalkit.records import (Comparison, Generation, Message, MetricValue, ModelScore, Prompt, Request, RunResult,
                             Sample, SampleResult, TaskSummary)
from evalkit.tasks import ScoringContext, SummaryContext, Task, tasks
from evalkit.version import __version__

__all__ = [
    "Comparison", "ConfigError", "DataError", "EvalkitError", "Generation", "Message", "MetricValue", "ModelScore",
    "ModelSpec", "Price", "Prompt", "ProviderError", "Request", "RunResult", "Sample", "SampleResult",
    "ScoringContext", "SummaryContext", "Task", "TaskSummary", "__version__", "providers", "tasks",
]
