"""LoRA fine-tuning of the base GGUF on (prompt, completion) pairs, seeded and deterministic, on CPU."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.training.base_model import LoadedBase, load_base
from evalkit.training.config import LoraTrainConfig, TrainLossPoint, TrainResult, ValidPoint
from evalkit.training.data import Pair, split_pairs
from evalkit.training.encoding import IGNORE_INDEX, EncodedPair, collate, encode_pair

__all__ = ["completion_loss", "train_lora", "train_lora_on"]

log = logging.getLogger(__name__)


def train_lora(pairs: Sequence[Pair], base_gguf: Path, out_dir: Path, config: LoraTrainConfig) -> TrainResult:
    """Train a LoRA adapter on the pairs and save it (PEFT format) under ``out_dir / "peft"``.

    Loads the base GGUF in transformers, holds out ``config.valid_fraction`` of the pairs (stratified by
    completion), and runs ``config.steps`` AdamW steps. Convert the result with evalkit.training.convert.
    """
    result, _ = train_lora_on(load_base(base_gguf), pairs, out_dir, config)
    return result


def train_lora_on(base: LoadedBase, pairs: Sequence[Pair], out_dir: Path,
                  config: LoraTrainConfig) -> tuple[TrainResult, Any]:
    """Like train_lora on an already loaded base; returns the result and the trained PEFT model (in eval mode).

    The base model is modified in place (LoRA layers are injected), so load a fresh one for another run.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    if len(pairs) < 2:
        raise ValueError("need at least two pairs")
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    # Same seed, same data, same machine -> same adapter: seed every RNG that training touches.
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    train_idx, valid_idx = split_pairs(pairs, config.valid_fraction, config.seed)
    tok = base.tokenizer
    encoded = [encode_pair(tok, p, c, config.max_length) for p, c in pairs]
    train_set = [encoded[i] for i in train_idx]
    valid_set = [encoded[i] for i in valid_idx]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
                      use_rslora=False)  # llama.cpp scales by alpha / r: rsLoRA's alpha / sqrt(r) would not match
    model = get_peft_model(base.model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    log.info("LoRA r=%d alpha=%g on %s: %d trainable parameters; %d train / %d valid pairs",
             config.rank, config.alpha, ",".join(config.target_modules), n_trainable, len(train_set), len(valid_set))

    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    batches = _batch_order(len(train_set), config.batch_size, config.steps, config.seed)

    train_curve: list[TrainLossPoint] = []
    valid_curve: list[ValidPoint] = []
    start = time.perf_counter()
    model.train()
    for step, batch_idx in enumerate(batches, 1):
        batch = collate([train_set[i] for i in batch_idx], pad_id)
        loss = completion_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        loss_value = loss.item()
        train_curve.append(TrainLossPoint(step=step, loss=loss_value, learning_rate=lr))
        log.info("step %d/%d train_loss %.4f lr %.2e", step, config.steps, loss_value, lr)
        if valid_set and (step % config.eval_every == 0 or step == config.steps):
            point = _validate(model, valid_set, pad_id, step, config.batch_size)
            valid_curve.append(point)
            log.info("step %d valid_loss %.4f first_token_acc %.3f", step, point.loss, point.first_token_accuracy)
            model.train()
    train_seconds = time.perf_counter() - start
    model.eval()

    peft_dir = Path(out_dir) / "peft"
    model.save_pretrained(peft_dir, save_embedding_layers=False)  # LoRA matrices only; vocab untouched
    result = TrainResult(peft_dir=peft_dir, config=config, n_train=len(train_set), n_valid=len(valid_set),
                         train_loss=tuple(train_curve), valid=tuple(valid_curve), train_seconds=train_seconds,
                         load_seconds=base.load_seconds, trainable_parameters=n_trainable,
                         valid_indices=tuple(valid_idx))
    return result, model


def completion_loss(model: Any, batch: dict[str, Any], reduction: str = "mean") -> Any:
    """Cross-entropy on completion tokens only, computing the vocabulary projection only where it is needed.

    Gemma's vocabulary has 262k entries: projecting every prompt position would dominate the step time, so the
    decoder runs on the whole sequence and the LM head only on the positions that predict a completion token.
    """
    import torch

    hidden = _decoder(model)(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]  # position t predicts token t+1
    keep = labels != IGNORE_INDEX
    logits = _project(model, hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits, labels[keep], reduction=reduction)


def _decoder(model: Any) -> Any:
    """The decoder stack (embeddings + layers + final norm) under a PEFT or plain causal-LM model."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.model


def _project(model: Any, hidden: Any) -> Any:
    """LM head plus Gemma's optional final logit soft-capping, as the causal-LM forward does it."""
    import torch

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    logits = causal_lm.lm_head(hidden)
    cap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def _validate(model: Any, valid_set: Sequence[EncodedPair], pad_id: int, step: int, batch_size: int) -> ValidPoint:
    """Mean completion-token loss and first-completion-token accuracy on the held-out pairs (no dropout)."""
    import torch

    model.eval()
    total_loss, total_tokens, first_hits = 0.0, 0, 0
    with torch.no_grad():
        for lo in range(0, len(valid_set), batch_size):
            chunk = valid_set[lo:lo + batch_size]
            batch = collate(chunk, pad_id)
            hidden = _decoder(model)(input_ids=batch["input_ids"],
                                     attention_mask=batch["attention_mask"]).last_hidden_state
            labels = batch["labels"][:, 1:]
            keep = labels != IGNORE_INDEX
            logits = _project(model, hidden[:, :-1][keep])
            total_loss += float(torch.nn.functional.cross_entropy(logits, labels[keep], reduction="sum"))
            total_tokens += int(keep.sum())
            # The first kept position of each row predicts the first completion token.
            starts = torch.tensor([0, *keep.sum(dim=1).cumsum(0)[:-1].tolist()])
            first_hits += int((logits[starts].argmax(-1) == labels[keep][starts]).sum())
    return ValidPoint(step=step, loss=total_loss / total_tokens, first_token_accuracy=first_hits / len(valid_set))


def _batch_order(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Batches of indices for every step: seeded reshuffle each epoch, the last partial batch of an epoch kept."""
    rng = random.Random(seed)
    out: list[list[int]] = []
    while len(out) < steps:
        order = list(range(n))
        rng.shuffle(order)
        for lo in range(0, n, batch_size):
            out.append(order[lo:lo + batch_size])
            if len(out) == steps:
                break
    return out


def _lr_lambda(config: LoraTrainConfig) -> Any:
    """Multiplier of the peak learning rate: linear warm-up, then linear decay to 10% at the last step."""
    warm, total = config.warmup_steps, config.steps

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total - warm)
        return max(0.1, 1.0 - 0.9 * min(1.0, progress))

    return factor
