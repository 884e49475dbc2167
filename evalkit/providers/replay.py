"""The `replay` provider: predictions made elsewhere, read from a JSONL file and scored without a model call.

Each line of `spec.path` is `{"id": "<sample id>", "output": "<the model's answer>"}`.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.errors import ConfigError, DataError, ProviderError
from evalkit.model_spec import ModelSpec
from evalkit.records import ProviderResponse, Request, Usage

__all__ = ["ReplayProvider", "load_predictions"]


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


class ReplayProvider:
    """Serves the stored output of each sample; usage is unknown."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        if not spec.path:
            raise ConfigError(f"model '{spec.name}' ({spec.model}): provider 'replay' needs `path`, "
                              "a JSONL file of {\"id\": ..., \"output\": ...} lines")
        self.path = Path(spec.path).expanduser()
        if not self.path.is_file():
            raise ConfigError(f"model '{spec.name}' ({spec.model}): predictions file {self.path} does not exist")
        self._outputs = load_predictions(self.path)

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
