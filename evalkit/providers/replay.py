"""The `replay` provider: predictions made elsewhere, read from a JSONL file and scored without a model call.

Each line of `spec.path` is `{"id": "<sample id>", "output": "<the model's answer>"}`. Answers are exact: each
comes from the file as it is now, keyed by the sample id, never from the cache, another model, another file
or another sample with the same input. Ids the run needs but the file lacks are a data error before any work
starts (`check_sample_ids`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from evalkit.errors import ConfigError, DataError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.providers.base import Provider
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["ReplayProvider", "load_predictions"]

_MISSING_SHOWN = 5


def load_predictions(path: Path) -> dict[str, str]:
    """Read a predictions JSONL file into {id: output}; DataError naming the file and line on any defect."""
    outputs: dict[str, str] = {}
    first_line: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON ({exc.msg}); expected an object like "
                                f'{{"id": "...", "output": "..."}}') from exc
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object with keys 'id' and 'output', "
                                f"got {type(row).__name__}")
            missing = [k for k in ("id", "output") if k not in row]
            if missing:
                raise DataError(f"{where}: missing key {', '.join(repr(k) for k in missing)}; expected keys "
                                f"'id' and 'output', got {sorted(row)}")
            sample_id, output = row["id"], row["output"]
            if not isinstance(sample_id, (str, int)) or isinstance(sample_id, bool):
                raise DataError(f"{where}: 'id' must be a string, got {type(sample_id).__name__}")
            if not isinstance(output, str):
                raise DataError(f"{where}: 'output' must be a string, got {type(output).__name__}")
            sample_id = str(sample_id)
            if sample_id in outputs:
                raise DataError(f"{where}: duplicated id {sample_id!r} (first seen on line {first_line[sample_id]})")
            outputs[sample_id] = output
            first_line[sample_id] = lineno
    return outputs


class ReplayProvider(Provider):
    """Serves the stored output of each sample; usage is unknown."""

    cacheable = False
    """The file is read afresh every run: a rewritten predictions file must never be answered from the cache."""
    offline = True

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        if not spec.path:
            raise ConfigError(f"model '{spec.name}' ({spec.model}): provider 'replay' needs `path`, "
                              "a JSONL file of {\"id\": ..., \"output\": ...} lines")
        self.path = Path(spec.path).expanduser()
        if not self.path.is_file():
            raise ConfigError(f"model '{spec.name}' ({spec.model}): predictions file {self.path} does not exist")
        self._outputs = load_predictions(self.path)
        self._sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()

    def cache_identity(self, request: Request) -> Mapping[str, str]:
        """The predictions file's content and the sample id: an answer belongs to one sample of one file."""
        return {"predictions_sha256": self._sha256, "sample_id": request.sample_id}

    def check_sample_ids(self, sample_ids: Iterable[str]) -> None:
        """DataError naming the file and the first missing ids when the file lacks a prediction the run needs."""
        missing = [sid for sid in dict.fromkeys(sample_ids) if sid not in self._outputs]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:_MISSING_SHOWN])
            more = f" and {len(missing) - _MISSING_SHOWN} more" if len(missing) > _MISSING_SHOWN else ""
            raise DataError(f"{self.path}: no prediction for {len(missing)} sample id(s) of the run (model "
                            f"'{self.spec.name}'): {shown}{more}; every sample needs one line "
                            f'{{"id": ..., "output": ...}}')

    async def generate(self, request: Request) -> ProviderResponse:
        """The stored output for `request.sample_id`; a non-retryable ProviderError when there is none."""
        try:
            text = self._outputs[request.sample_id]
        except KeyError:
            raise ProviderError(f"model '{self.spec.name}': no prediction for sample id {request.sample_id!r} "
                                f"in {self.path}", retryable=False) from None
        return ProviderResponse(text=text, usage=Usage(), finish_reason=None)

    async def aclose(self) -> None:
        """Nothing to release."""
