"""Turning (prompt, completion) pairs into token tensors exactly as llama.cpp will see them at inference.

llama.cpp tokenizes a completion prompt with BOS prepended (the Gemma GGUF says add_bos_token=true) and then
generates the completion token by token until EOS. So a training example is
``[BOS] + tokens(prompt) + tokens(completion) + [EOS]`` with the loss on the completion and EOS only.
Prompt and completion are tokenized separately, because at inference the model generates the completion after
the prompt's last token; tokenizing the concatenation could merge tokens across that boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["IGNORE_INDEX", "EncodedPair", "collate", "encode_pair"]

IGNORE_INDEX = -100
"""Label value that cross-entropy skips: prompt and padding positions."""


@dataclass(frozen=True)
class EncodedPair:
    """One tokenized pair: the full token sequence and where the completion starts."""

    input_ids: tuple[int, ...]
    n_prompt: int
    """Tokens before the completion (BOS included); labels are the tokens from this index on."""


def encode_pair(tokenizer: Any, prompt: str, completion: str, max_length: int) -> EncodedPair:
    """Tokenize one pair: prompt WITH BOS, completion WITHOUT BOS followed by EOS.

    When the pair is longer than max_length, prompt tokens right after BOS are dropped (the end of the prompt,
    next to the completion, matters most); a completion that alone does not fit is an error.
    """
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    if bos is None or eos is None:
        raise ValueError("the tokenizer has no BOS or EOS token id")
    prompt_ids = [bos, *tokenizer.encode(prompt, add_special_tokens=False)]
    completion_ids = [*tokenizer.encode(completion, add_special_tokens=False), eos]
    overflow = len(prompt_ids) + len(completion_ids) - max_length
    if overflow > 0:
        if overflow > len(prompt_ids) - 1:
            raise ValueError(f"completion of {len(completion_ids)} tokens does not fit max_length={max_length}")
        prompt_ids = [bos, *prompt_ids[1 + overflow:]]
    return EncodedPair(input_ids=tuple(prompt_ids + completion_ids), n_prompt=len(prompt_ids))


def collate(batch: Sequence[EncodedPair], pad_id: int) -> dict[str, Any]:
    """Right-padded `input_ids`, `attention_mask` and `labels` tensors (labels: IGNORE_INDEX off-completion)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, enc in enumerate(batch):
        n = len(enc.input_ids)
        ids = torch.tensor(enc.input_ids, dtype=torch.long)
        input_ids[row, :n] = ids
        attention_mask[row, :n] = 1
        labels[row, enc.n_prompt:n] = ids[enc.n_prompt:]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
