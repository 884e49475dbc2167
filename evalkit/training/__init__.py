"""LoRA fine-tuning of the embedded base model for a suite, and export to llama.cpp's GGUF LoRA format.

Needs the `train` extra (torch, transformers, peft, gguf, sentencepiece); importing this package does not.

- config: LoraTrainConfig, TrainResult (typed records)
- data: news_pairs (suite -> (prompt, completion) pairs), split, fingerprint
- encoding: tokenization as llama.cpp sees it (BOS + prompt, completion + EOS, loss on the completion)
- trainer: train_lora
- convert: PEFT adapter -> GGUF LoRA
- verify: llama.cpp vs PEFT agreement check
- manifest: adapters/<suite>/manifest.json and the loss-curve PNG
- cli: `python -m evalkit.training news`
"""

from evalkit.training.config import LoraTrainConfig, TrainLossPoint, TrainResult, ValidPoint
from evalkit.training.data import Pair, news_pairs, pairs_sha256, split_pairs

__all__ = ["LoraTrainConfig", "Pair", "TrainLossPoint", "TrainResult", "ValidPoint", "news_pairs", "pairs_sha256",
           "split_pairs", "train_lora"]


def __getattr__(name: str):  # lazy: the trainer imports torch
    if name == "train_lora":
        from evalkit.training.trainer import train_lora

        return train_lora
    raise AttributeError(name)
