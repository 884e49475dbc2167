"""Typed records of a LoRA training run: its configuration, its loss curve, and its result."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoraTrainConfig", "TrainLossPoint", "TrainResult", "ValidPoint"]


class LoraTrainConfig(BaseModel):
    """Hyperparameters of one LoRA run; everything that changes the adapter is here (and in the manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: int = Field(default=8, ge=1)
    """LoRA rank r."""
    alpha: float = Field(default=16.0, gt=0)
    """LoRA alpha; the update is scaled by alpha / rank (PEFT and llama.cpp agree on this)."""
    dropout: float = Field(default=0.05, ge=0, lt=1)
    """Dropout on the LoRA input during training (inference has none)."""
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    """Linear layers that get an adapter; see evalkit.training.convert for the ones llama.cpp can load."""
    learning_rate: float = Field(default=1e-3, gt=0)
    """Peak AdamW learning rate (linear warm-up, then linear decay to 10% of it)."""
    warmup_steps: int = Field(default=10, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    steps: int = Field(default=160, ge=1)
    """Optimizer steps (one batch each)."""
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=96, ge=8)
    """Longest prompt+completion in tokens; longer pairs are truncated from the left of the prompt."""
    valid_fraction: float = Field(default=0.1, ge=0, lt=1)
    """Share of the pairs held out for validation (stratified by completion)."""
    eval_every: int = Field(default=20, ge=1)
    """Validation loss is computed every this many steps, and after the last one."""
    seed: int = 0
    num_threads: int | None = Field(default=None, ge=1)
    """torch intra-op threads; None keeps torch's default (all cores)."""


class TrainLossPoint(BaseModel):
    """Mean training loss of one optimizer step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    loss: float
    learning_rate: float


class ValidPoint(BaseModel):
    """Validation measurements after a step: token loss on completions and first-token label accuracy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    loss: float
    """Mean cross-entropy per completion token (EOS included)."""
    first_token_accuracy: float | None = None
    """Share of held-out pairs whose first completion token is the argmax (the label decision for classes
    whose names start with different tokens, such as `news_related` / `not_news_related`)."""


class TrainResult(BaseModel):
    """What train_lora produced: the PEFT adapter directory, the split and the loss curve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    peft_dir: Path
    """Directory with the PEFT adapter (adapter_config.json + adapter_model.safetensors)."""
    config: LoraTrainConfig
    n_train: int
    n_valid: int
    train_loss: tuple[TrainLossPoint, ...]
    valid: tuple[ValidPoint, ...]
    train_seconds: float
    """Wall-clock time of the optimisation loop (model loading excluded)."""
    load_seconds: float
    """Wall-clock time to load and de-quantize the base GGUF in transformers."""
    trainable_parameters: int
    valid_indices: tuple[int, ...]
    """Indices into the input pairs of the held-out pairs, so callers can check generalisation on them."""

    @property
    def final_train_loss(self) -> float:
        """Mean train loss over the last 10 steps (one step's loss is noisy)."""
        tail = self.train_loss[-10:]
        return sum(p.loss for p in tail) / len(tail)

    @property
    def final_valid_loss(self) -> float | None:
        """Validation loss after the last step, when there is a validation split."""
        return self.valid[-1].loss if self.valid else None
