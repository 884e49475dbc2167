"""Numerical check that the converted GGUF adapter in llama.cpp behaves like the PEFT adapter in transformers.

A wrong conversion (a transposed matrix, a missed permutation, a wrong scale) does not fail to load: it silently
gives a different model. So we compare, prompt by prompt, (1) the greedy completions and (2) the log-probability
margin between two competing first tokens (e.g. ``news`` vs ``not``), with and without the adapter. The
margins are the sensitive part: labels can agree by luck, margins within a few tenths of a nat cannot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

__all__ = ["AgreementReport", "PromptCheck", "check_agreement", "llama_cpp_greedy", "peft_greedy"]


class PromptCheck(BaseModel):
    """One prompt seen by both runtimes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str
    split: str
    """`train` or `valid` (held out from training)."""
    peft: str
    llama_cpp: str
    base_llama_cpp: str
    same_tokens: bool
    """Both runtimes tokenize the prompt (with BOS) to the same ids: training saw what inference sees."""
    peft_margin: float
    """log p(first token of choice 0) - log p(first token of choice 1) after the prompt, PEFT model."""
    llama_cpp_margin: float
    base_llama_cpp_margin: float
    base_peft_margin: float
    """The PEFT model's margin with the adapter disabled: the control for runtime noise (quantized matmuls)."""


class AgreementReport(BaseModel):
    """Summary of the PEFT vs llama.cpp comparison (stored in the manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    tokenization_equal: int
    """Prompts that transformers' tokenizer (as used for training) and llama.cpp tokenize identically."""
    completions_equal: int
    """Prompts whose greedy llama.cpp completion with the adapter equals the PEFT model's."""
    base_differs: int
    """Prompts whose completion from the base model alone differs from the adapter's."""
    max_abs_margin_diff: float
    mean_abs_margin_diff: float
    max_abs_base_margin_diff: float
    """Max |PEFT - llama.cpp| margin without the adapter: the size of differences not due to the conversion."""
    mean_abs_margin_shift: float
    """Mean |margin with adapter - margin without| in llama.cpp: how much the adapter moves the decision."""
    choices: tuple[str, str]
    checks: tuple[PromptCheck, ...]

    @property
    def ok(self) -> bool:
        """Completions and tokenizations agree everywhere, and the margins agree within the larger of a quarter
        of the adapter's mean shift and 1.5x the runtimes' own difference without the adapter (the control)."""
        tolerance = max(0.25 * self.mean_abs_margin_shift, 1.5 * self.max_abs_base_margin_diff)
        return (self.completions_equal == self.n and self.tokenization_equal == self.n
                and self.max_abs_margin_diff <= tolerance)

    @property
    def conclusive(self) -> bool:
        """The adapter moves margins well beyond the runtimes' noise, so a wrong conversion could not pass `ok`.

        An adapter that barely changes the model can agree with its PEFT original even when converted wrong."""
        return self.mean_abs_margin_shift > 4 * self.max_abs_base_margin_diff


def peft_greedy(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 8) -> tuple[str, Any]:
    """Greedy completion (stopped at EOS or a newline) and the first-token log-probabilities, in transformers."""
    import torch

    ids = [tokenizer.bos_token_id, *tokenizer.encode(prompt, add_special_tokens=False)]
    first_logprobs = None
    out: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=torch.tensor([ids + out])).logits[0, -1].float()
            if first_logprobs is None:
                first_logprobs = torch.log_softmax(logits, -1)
            nxt = int(logits.argmax())
            if nxt == tokenizer.eos_token_id:
                break
            out.append(nxt)
            if "\n" in tokenizer.decode(out):
                break
    return tokenizer.decode(out).split("\n")[0], first_logprobs


def llama_cpp_greedy(llm: Any, prompt: str, max_tokens: int = 8) -> tuple[str, Any]:
    """Greedy completion as the harness asks for it, and the first-token log-probabilities, in llama.cpp."""
    import numpy as np

    text = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stop=["\n"])["choices"][0]["text"]
    tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
    llm.reset()
    llm.eval(tokens)
    # Without logits_all, llama-cpp-python no longer copies logits to `scores`; read the last token's directly.
    logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
    logprobs = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
    return text, logprobs


def check_agreement(peft_model: Any, tokenizer: Any, base_gguf: str | Path, adapter_gguf: str | Path,
                    prompts: Sequence[tuple[str, str]], choices: tuple[str, str]) -> AgreementReport:
    """Compare PEFT (transformers) and base+adapter (llama.cpp) on (prompt, split) items.

    ``choices`` are two completions whose first tokens differ (e.g. the two labels); their first-token
    log-probability margin is compared across runtimes.
    """
    from llama_cpp import Llama

    first = [tokenizer.encode(c, add_special_tokens=False)[0] for c in choices]
    if first[0] == first[1]:
        raise ValueError(f"choices {choices} start with the same token; margins would be 0")
    tuned = Llama(model_path=str(base_gguf), lora_path=str(adapter_gguf), n_ctx=512, verbose=False,
                  logits_all=False)
    base = Llama(model_path=str(base_gguf), n_ctx=512, verbose=False, logits_all=False)
    checks: list[PromptCheck] = []
    try:
        for k, (prompt, split) in enumerate(prompts, 1):
            p_text, p_lp = peft_greedy(peft_model, tokenizer, prompt)
            t_text, t_lp = llama_cpp_greedy(tuned, prompt)
            b_text, b_lp = llama_cpp_greedy(base, prompt)
            with peft_model.disable_adapter():
                _, pb_lp = peft_greedy(peft_model, tokenizer, prompt, max_new_tokens=1)
            hf_ids = [tokenizer.bos_token_id, *tokenizer.encode(prompt, add_special_tokens=False)]
            same = hf_ids == list(tuned.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))
            checks.append(PromptCheck(
                prompt=prompt, split=split, peft=p_text, llama_cpp=t_text, base_llama_cpp=b_text, same_tokens=same,
                peft_margin=float(p_lp[first[0]] - p_lp[first[1]]),
                llama_cpp_margin=float(t_lp[first[0]] - t_lp[first[1]]),
                base_llama_cpp_margin=float(b_lp[first[0]] - b_lp[first[1]]),
                base_peft_margin=float(pb_lp[first[0]] - pb_lp[first[1]])))
            c = checks[-1]
            log.info("check %d/%d [%s] peft=%r llama.cpp=%r base=%r margins %.2f/%.2f", k, len(prompts), split,
                     c.peft, c.llama_cpp, c.base_llama_cpp, c.peft_margin, c.llama_cpp_margin)
    finally:
        tuned.close()
        base.close()
    diffs = [abs(c.peft_margin - c.llama_cpp_margin) for c in checks]
    shifts = [abs(c.llama_cpp_margin - c.base_llama_cpp_margin) for c in checks]
    return AgreementReport(
        n=len(checks), tokenization_equal=sum(c.same_tokens for c in checks),
        completions_equal=sum(c.peft.strip() == c.llama_cpp.strip() for c in checks),
        base_differs=sum(c.base_llama_cpp.strip() != c.llama_cpp.strip() for c in checks),
        max_abs_margin_diff=max(diffs), mean_abs_margin_diff=sum(diffs) / len(diffs),
        max_abs_base_margin_diff=max(abs(c.base_peft_margin - c.base_llama_cpp_margin) for c in checks),
        mean_abs_margin_shift=sum(shifts) / len(shifts), choices=choices, checks=tuple(checks))
