"""Study tasks: what a rater is asked and how a packet labels its parts (`--task NAME`).

A study task is presentation only; the packet machinery is the same for every task, so another suite (e.g. a
tone-of-voice study) reuses the packet as is with its own task: a built-in name below, or a YAML file with the
same fields.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from evalkit.errors import ConfigError
from evalkit.records import Record

__all__ = ["BUILTIN_TASKS", "StudyTask", "load_study_task"]


class StudyTask(Record):
    """The words and options of one kind of blind comparison."""

    name: str
    title: str
    """Page title, e.g. `Which translation is more accurate?`."""
    instructions: str
    """Shown above the items; no model may be named here."""
    source_label: str = "Source"
    candidate_label: str = "Answer"
    """Candidates are shown as `<label> 1` and `<label> 2`."""
    show_reference: bool = False
    """Show the sample's reference (e.g. a gold answer) to the rater."""


BUILTIN_TASKS: dict[str, StudyTask] = {
    "translation": StudyTask(
        name="translation",
        title="Which translation is more accurate?",
        instructions=("Each item shows a source text and two translations of it, in random order. Choose the "
                      "more accurate translation, paying particular attention to the legal terminology, or "
                      "choose a tie when neither is better. A comment is optional."),
        source_label="Source text",
        candidate_label="Translation",
    ),
    "preference": StudyTask(
        name="preference",
        title="Which answer is better?",
        instructions=("Each item shows a request and two answers to it, in random order. Choose the better "
                      "answer, or a tie when neither is better. A comment is optional."),
        source_label="Request",
        candidate_label="Answer",
    ),
    "tone": StudyTask(
        name="tone",
        title="Which reply better matches the tone of voice?",
        instructions=("Each item shows a message and two replies to it, in random order. Choose the reply whose "
                      "tone better matches the brand's tone of voice, or a tie when neither does better. A "
                      "comment is optional."),
        source_label="Message",
        candidate_label="Reply",
    ),
}


def load_study_task(name_or_path: str) -> StudyTask:
    """A built-in study task by name, or one from a YAML file; ConfigError naming the file and field."""
    if name_or_path in BUILTIN_TASKS:
        return BUILTIN_TASKS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        import difflib

        close = difflib.get_close_matches(name_or_path, BUILTIN_TASKS, n=2)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ConfigError(f"--task: unknown study task {name_or_path!r}: not one of {sorted(BUILTIN_TASKS)} and "
                          f"not a YAML file.{hint}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a study task file must be a YAML mapping, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    try:
        return StudyTask.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        raise ConfigError(f"{path}: field {field}: {e['msg']} (allowed fields: "
                          f"{', '.join(StudyTask.model_fields)})") from None
