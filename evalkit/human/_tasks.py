"""Study tasks: what a rater is asked and how a packet labels its parts (`--task NAME`).

A study task is presentation only; the packet machinery is the same for every task, so another suite (e.g. a
tone-of-voice study) reuses the packet as is with its own task: a built-in name below, or a YAML file with the
same fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from evalkit.user_errors import unknown_name, validation_error
from evalkit.yaml_file import read_yaml_mapping
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
        raise unknown_name("study task", name_or_path, BUILTIN_TASKS, where="--task",
                           hint="(It is not a YAML file either.)")
    raw = read_yaml_mapping(path, "a study task file")
    raw.setdefault("name", path.stem)
    try:
        return StudyTask.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, where=str(path), model=StudyTask) from None
