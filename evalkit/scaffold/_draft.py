"""From a data profile to a suite draft: which task the references call for, the two prompt profiles (the base
model gets instructions, the fine-tuned model the bare input, as it was trained), generation settings, and the
commented YAML text of the suite file.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit.scaffold._data import DataProfile

MAX_LABELS = 20
"""At most this many distinct references for the classification task."""
MIN_PER_LABEL = 3
"""...and each label used this many times on average: otherwise the references are free text."""
MAX_LABEL_CHARS = 40

DEFAULT_JUDGE = "additive_rubric"
"""The single-answer judge a reference-match suite gets (0-5, reference shown; judges/additive_rubric.yaml)."""


@dataclass(frozen=True)
class TaskChoice:
    """The task picked from the references, and why (printed by `evalkit init`, written in the suite)."""

    task: str
    task_args: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class SuiteDraft:
    """Everything the suite file will say."""

    name: str
    description: str
    choice: TaskChoice
    data: dict[str, Any]
    generation: dict[str, Any]
    prompts: dict[str, dict[str, Any]]
    comments: dict[str, list[str]] = field(default_factory=dict)
    """Comment lines written above each top-level key."""


def _is_label(text: str) -> bool:
    return len(text) <= MAX_LABEL_CHARS and "\n" not in text and len(text.split()) <= 4 and bool(text.strip())


def choose_task(references: Sequence[str]) -> TaskChoice:
    """`classification` when the references are a small set of short labels, each used several times;
    otherwise `reference_match` with a reference-guided judge."""
    counts = Counter(r.strip() for r in references)
    n, k = len(references), len(counts)
    if 2 <= k <= MAX_LABELS and n >= MIN_PER_LABEL * k and all(_is_label(label) for label in counts):
        labels = [label for label, _ in counts.most_common()]
        args: dict[str, Any] = {"labels": labels}
        if k == 2:
            args["positive_label"] = labels[-1]  # the rarer class: usually the one a team wants to catch
        shown = ", ".join(f"{label} ({c})" for label, c in counts.most_common())
        return TaskChoice("classification", args,
                          f"the {n} references are {k} labels, each used {n // k} times on average: {shown}")
    why = (f"{k} distinct references among {n}" if k > MAX_LABELS or n < MIN_PER_LABEL * k
           else "the references are sentences rather than short labels")
    return TaskChoice("reference_match", {"match": ["exact", "normalized"], "judge": DEFAULT_JUDGE},
                      f"free-text references ({why}): exact and normalised match, and a 0-5 judge that sees the "
                      "reference")


def _generation(choice: TaskChoice, references: Sequence[str]) -> dict[str, Any]:
    if choice.task == "classification":
        longest = max(len(label) for label in choice.task_args["labels"])
        return {"temperature": 0.0, "max_tokens": max(8, math.ceil(longest / 2) + 4), "stop": ["\n"]}
    # About 3 characters per token; room for answers twice as long as the longest reference.
    longest = max(len(r) for r in references)
    return {"temperature": 0.0, "max_tokens": int(min(2048, max(64, math.ceil(longest / 3) * 2)))}


def _extra_instructions(profile: DataProfile, choice: TaskChoice) -> str | None:
    """What the base model must be told beyond the data's own system message (None: nothing)."""
    if choice.task == "classification":
        return f"Answer with exactly one of these labels and nothing else: {', '.join(choice.task_args['labels'])}."
    return None if profile.system else "Answer the user's message."


def _prompts(profile: DataProfile, choice: TaskChoice) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The `default` profile (base model: instructions, then the input) and the `ft` profile (the fine-tuned
    model: what its training lines held before the reference, which for most fine-tunes is the bare input)."""
    extra = _extra_instructions(profile, choice)
    instructions = "\n".join(p for p in (profile.system, extra) if p)
    todo = ["The base instruction is a placeholder: write what your base model needs to do the task."] \
        if choice.task != "classification" and not profile.system else []
    base_comment = ("`default` is for the base model (and any model without a profile of its own): the "
                    "instructions as a system message, then the input. A base model that is not instruction-tuned "
                    "may need a few examples in its template.")
    if profile.multi_turn:
        # The conversation up to its reference is the input; `messages` sends it as the data holds it.
        base = {"style": "messages", **({"system": extra} if extra else {})}
        return ({"default": base, "ft": {"style": "messages"}},
                [("Multi-turn lines: both profiles send the conversation up to its reference as the data holds it "
                 "(style `messages`, the data's own system messages included). `default` (the base model, and any "
                 "model without a profile of its own) adds the instructions as a first system message; `ft` (a "
                 "model named ft, or with prompt = \"ft\") gets the conversation alone."), *todo])
    ft_comment = ("`ft` is for the fine-tuned model (a model named ft, or with prompt = \"ft\"): the bare input, "
                  "as a fine-tuned model is used - fine-tuning taught it the instructions.")
    if profile.system:
        ft_comment += (" Your data's lines carry a system message: if your fine-tune was trained with it and "
                       "needs it, make `ft` `{style: messages}` to send each line exactly as the data holds it.")
    return ({"default": {"style": "chat", "system": instructions, "template": "{{ input }}"},
             "ft": {"style": "chat", "template": "{{ input }}"}}, [base_comment, ft_comment, *todo])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "suite"


def default_name(path: Path) -> str:
    """The suite name for a data file: its stem, without a trailing split name (`tone_eval.jsonl` -> `tone`)."""
    stem = re.sub(r"[-_. ](eval|valid|validation|test|dev)$", "", path.stem, flags=re.IGNORECASE)
    return _slug(stem or path.stem)


def _data_path(source: Path, suite_dir: Path) -> str:
    """The data path as the suite writes it: relative to the suite when both sit in the working directory
    (the project moves as a whole), else absolute."""
    cwd = Path.cwd().resolve()
    src, here = source.resolve(), suite_dir.resolve()
    if src.is_relative_to(cwd) and here.is_relative_to(cwd):
        return Path(os.path.relpath(src, here)).as_posix()
    return src.as_posix()


def build_draft(profile: DataProfile, suite_dir: Path, name: str, data_file: Path | None = None) -> SuiteDraft:
    """The draft of a suite in `suite_dir` over `profile`; `data_file` is the clean copy of the valid rows,
    when one was written."""
    references = [s.target or "" for s in profile.samples]
    choice = choose_task(references)
    source = data_file or profile.path
    rel = _data_path(source, suite_dir)
    comments: dict[str, list[str]] = {}
    if profile.format == "chat":
        data: dict[str, Any] = {"source": "chat_jsonl", "path": rel}
        comments["data"] = [("Mistral's chat fine-tuning format: the last assistant message of each line is the "
                            "reference; invalid lines are skipped (and listed in the report), as the fine-tuning "
                            "guide would refuse them.")]
    else:
        fields = {"id": "id", "input": "input", "target": "target"} if data_file else dict(profile.fields)
        data = {"source": "jsonl" if (data_file or profile.format == "jsonl") else "csv", "path": rel,
                "fields": fields}
        comments["data"] = ([(f"The valid rows of {profile.path.name} ({len(profile.samples)} of {profile.n_lines}), "
                             "written by `evalkit init`.")] if data_file else
                            [f"{profile.path.name}: `fields` maps the sample's id, input and reference to columns."])
    prompts, comments["prompts"] = _prompts(profile, choice)
    task_comment = [f"Chosen by `evalkit init`: {choice.reason}."]
    if choice.task == "classification":
        task_comment += [("labels: the classes as the references spell them; an answer matching none counts as "
                         "invalid (wrong).")]
        if "positive_label" in choice.task_args:
            task_comment.append("positive_label: the class whose precision, recall and F1 are reported.")
    else:
        task_comment += [("judge: a reference-guided 0-5 rubric (judges/additive_rubric.yaml); set judge_vars."
                         "criteria to your own five criteria, or remove `judge` for matching only. Offline the "
                         "judge is the embedded 270M model: a pipeline demonstration, not a verdict.")]
    comments["task"] = task_comment
    comments["generation"] = ["Greedy decoding; max_tokens from the longest reference."]
    return SuiteDraft(name=name, description=f"Drafted by evalkit init from {profile.path.name}: "
                                             f"{len(profile.samples)} items.",
                      choice=choice, data=data, generation=_generation(choice, references), prompts=prompts,
                      comments=comments)


def _dump(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def render_suite(draft: SuiteDraft, command: str) -> str:
    """The suite file's text: each section preceded by its comments; `command` is the run command shown."""
    out = ["# Suite drafted by `evalkit init` - edit it freely. Run it with:", f"#   {command}",
           "# Models: `base` is the embedded Gemma 3 270M; define `ft` (your fine-tuned model) and a fairer base in",
           "# evalkit.toml, e.g. [models.ft] provider = \"mistral\", model = \"ft:open-mistral-7b:...\" (README).",
           ""]
    out.append(_dump({"name": draft.name, "description": draft.description}).rstrip())
    sections = [("task", {"task": draft.choice.task, "task_args": draft.choice.task_args}),
                ("data", {"data": draft.data}), ("generation", {"generation": draft.generation}),
                ("prompts", {"prompts": draft.prompts})]
    for key, obj in sections:
        out.append("")
        for paragraph in draft.comments.get(key, []):
            out += [f"# {line}" for line in textwrap.wrap(paragraph, width=108)]
        out.append(_dump(obj).rstrip())
    return "\n".join(out) + "\n"


def clean_rows(profile: DataProfile) -> str:
    """The valid rows as JSONL `{"id", "input", "target"}` (for a table that had lines to skip)."""
    return "".join(json.dumps({"id": s.id, "input": s.input, "target": s.target}, ensure_ascii=False) + "\n"
                   for s in profile.samples)
