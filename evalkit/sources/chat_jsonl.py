"""Fine-tuning files in Mistral's chat format (`{"messages": [...], "tools": [...]}` per line) as evaluation data.

The last assistant message of each line is the reference (`Sample.target`); the messages before it are the
prompt, kept in the sample field `messages` and sent as they are by the prompt style `messages`. So a team can
evaluate base and fine-tuned models on the very `*_eval.jsonl` they held out from fine-tuning.

Every line is validated the way Mistral's fine-tuning guide describes (a line that would be refused for
fine-tuning is skipped, never half-used). A skipped line is reported with its line number and reason; a file
with no valid line is an error. The rules, in the order they are checked:

- the line is a JSON object with a non-empty list `messages`; `tools`, when present, is a list of function
  definitions with distinct names;
- every message is an object with a `role` among system, user, assistant, tool;
- system, user and tool messages have non-empty text `content` (a string, or a list of text chunks);
- an assistant message has non-empty `content` or non-empty `tool_calls` (an empty assistant message is refused);
  its optional `weight` is 0 or 1;
- every tool call has an `id` of 9 letters or digits (Mistral's format), unique in the conversation, a function
  `name` among the line's `tools` and `arguments` that are a JSON object (or a string holding one);
- every tool message has a `tool_call_id` answering an earlier, not yet answered tool call, and every tool call
  is answered before the conversation goes on (a tool call in the last message is the reference: no answer);
- the last message is an assistant message (the reference), and at least one user message precedes it.

In the prompt, tool calls and tool results are written as text (`[TOOL_CALLS] [...]`, `[TOOL_RESULTS] id: ...`,
the markers of Mistral's own chat template), since evalkit's chat messages carry text only. A reference that is
a tool call becomes the canonical JSON of its calls (`[{"name": ..., "arguments": {...}}]`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.records import Message, Sample

__all__ = ["ChatData", "SkippedLine", "history_messages", "load_chat_jsonl", "parse_chat_line", "tool_calls_text"]

ROLES = ("system", "user", "assistant", "tool")
_TOOL_CALL_ID = re.compile(r"^[A-Za-z0-9]{9}$")


@dataclass(frozen=True)
class SkippedLine:
    """A line left out of the data, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ChatData:
    """The valid lines of a chat-format file as samples, and the skipped ones."""

    samples: tuple[Sample, ...]
    skipped: tuple[SkippedLine, ...]
    n_lines: int
    """Non-blank lines read."""


class _Invalid(ValueError):
    """One validation failure of one line (the message is the reason shown to the user)."""


def _text(content: Any, where: str) -> str:
    """Message content as text: a string, or the text of a list of `{"type": "text", "text": ...}` chunks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(c, Mapping) and c.get("type") == "text"
                                         and isinstance(c.get("text"), str) for c in content):
        return "".join(c["text"] for c in content)
    raise _Invalid(f"{where}: 'content' must be a string or a list of text chunks, got {_short(content)}")


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise _Invalid(f"{where}: 'arguments' is not valid JSON ({_short(raw)})") from None
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: 'arguments' must be a JSON object, got {_short(raw)}")
    return raw


def _tool_names(tools: Any) -> set[str] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _Invalid(f"'tools' must be a list of function definitions, got {_short(tools)}")
    names: set[str] = set()
    for i, tool in enumerate(tools, 1):
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(name, str) or not name:
            raise _Invalid(f"tools[{i}]: needs a 'function' with a non-empty 'name'")
        if name in names:
            raise _Invalid(f"tools[{i}]: the function name {name!r} is defined twice")
        names.add(name)
    return names


def _tool_calls(msg: Mapping[str, Any], where: str, tools: set[str] | None,
                seen_ids: set[str]) -> list[dict[str, Any]]:
    """The validated tool calls of an assistant message as `{"id", "name", "arguments"}`."""
    raw = msg.get("tool_calls")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Invalid(f"{where}: 'tool_calls' must be a list, got {_short(raw)}")
    calls = []
    for j, call in enumerate(raw, 1):
        at = f"{where}: tool call {j}"
        if not isinstance(call, Mapping):
            raise _Invalid(f"{at}: must be an object, got {_short(call)}")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise _Invalid(f"{at}: has no 'id'")
        if not _TOOL_CALL_ID.match(call_id):
            raise _Invalid(f"{at}: id {call_id!r} is not 9 letters or digits (Mistral's tool-call id format)")
        if call_id in seen_ids:
            raise _Invalid(f"{at}: id {call_id!r} is used by an earlier tool call")
        seen_ids.add(call_id)
        fn = call.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(name, str) or not name:
            raise _Invalid(f"{at}: needs a 'function' with a non-empty 'name'")
        if tools is None:
            raise _Invalid(f"{at}: calls {name!r} but the line has no 'tools' list defining it")
        if name not in tools:
            raise _Invalid(f"{at}: calls {name!r}, which 'tools' does not define (defined: {', '.join(sorted(tools))})")
        calls.append({"id": call_id, "name": name, "arguments": _arguments(fn.get("arguments"), at)})
    return calls


def tool_calls_text(calls: Sequence[Mapping[str, Any]]) -> str:
    """Canonical JSON of tool calls (name and arguments, keys sorted): a reference that compares exactly."""
    return json.dumps([{"name": c["name"], "arguments": c["arguments"]} for c in calls], sort_keys=True,
                      ensure_ascii=False, separators=(", ", ": "))


def parse_chat_line(obj: Any, lineno: int) -> Sample:
    """One line's object as a Sample; raises ValueError with the reason when the line must be skipped."""
    if not isinstance(obj, Mapping):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Invalid("needs a non-empty list 'messages'" + ("" if "messages" in obj else
                                                               f" (keys: {', '.join(map(str, obj)) or 'none'})"))
    tools = _tool_names(obj.get("tools"))
    history: list[dict[str, str]] = []
    pending: dict[str, int] = {}  # tool-call id -> message number, until a tool message answers it
    seen_ids: set[str] = set()
    last_calls: list[dict[str, Any]] = []
    last_text = ""
    for i, msg in enumerate(messages, 1):
        if not isinstance(msg, Mapping):
            raise _Invalid(f"message {i}: must be an object, got {_short(msg)}")
        role = msg.get("role")
        if role not in ROLES:
            raise _Invalid(f"message {i}: unknown role {_short(role)} (allowed: {', '.join(ROLES)})")
        where = f"message {i} ({role})"
        if role != "tool" and pending:
            waiting = min(pending.items(), key=lambda kv: kv[1])
            raise _Invalid(f"message {waiting[1]} (assistant): tool call {waiting[0]!r} is never answered by a tool "
                           f"message before {where}")
        content = msg.get("content")
        if role == "assistant":
            text = "" if content is None else _text(content, where)
            calls = _tool_calls(msg, where, tools, seen_ids)
            if not text.strip() and not calls:
                raise _Invalid(f"{where}: empty assistant message (no content and no tool calls)")
            weight = msg.get("weight", 1)
            if weight not in (0, 1) or isinstance(weight, bool):
                raise _Invalid(f"{where}: 'weight' must be 0 or 1, got {_short(weight)}")
            if i < len(messages):
                pending.update({c["id"]: i for c in calls})
                calls_text = f"[TOOL_CALLS] {tool_calls_text(calls)}" if calls else ""
                history.append({"role": "assistant", "content": "\n".join(t for t in (text, calls_text) if t)})
            last_calls, last_text = calls, text
            continue
        text = _text(content, where) if content is not None else ""
        if not text.strip():
            raise _Invalid(f"{where}: empty content")
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _Invalid(f"{where}: has no 'tool_call_id'")
            if call_id not in pending:
                known = ("an earlier tool call that was already answered" if call_id in seen_ids
                         else "no earlier tool call")
                raise _Invalid(f"{where}: tool_call_id {call_id!r} answers {known}")
            del pending[call_id]
            history.append({"role": "user", "content": f"[TOOL_RESULTS] {call_id}: {text}"})
            continue
        history.append({"role": role, "content": text})
    last = messages[-1]
    if last.get("role") != "assistant":
        raise _Invalid(f"the last message is from {last.get('role')!r}, not the assistant: there is no reference "
                       f"answer")
    if not any(m["role"] == "user" for m in history):
        raise _Invalid("no user message before the last assistant message: there is no prompt")
    target = tool_calls_text(last_calls) if last_calls else last_text
    user_turns = [m["content"] for m in history if m["role"] == "user"]
    sample_id = obj.get("id")
    fields: dict[str, Any] = {"messages": history, "line": lineno}
    if last_calls:
        fields["reference_is_tool_call"] = True
    if tools is not None:
        fields["tools"] = sorted(tools)
    return Sample(id=str(sample_id) if isinstance(sample_id, (str, int)) and str(sample_id) else f"line-{lineno}",
                  input=user_turns[-1], target=target, fields=fields)


def load_chat_jsonl(path: Path) -> ChatData:
    """Every valid line of a chat-format JSONL file as a Sample; DataError when no line is valid."""
    samples: list[Sample] = []
    skipped: list[SkippedLine] = []
    ids: dict[str, int] = {}
    n = 0
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                n += 1
                try:
                    obj = json.loads(line.strip())
                except json.JSONDecodeError as exc:
                    skipped.append(SkippedLine(lineno, f"invalid JSON ({exc.msg} at column {exc.colno})"))
                    continue
                try:
                    sample = parse_chat_line(obj, lineno)
                except _Invalid as exc:
                    skipped.append(SkippedLine(lineno, str(exc)))
                    continue
                if sample.id in ids:
                    skipped.append(SkippedLine(lineno, f"id {sample.id!r} repeats line {ids[sample.id]}"))
                    continue
                ids[sample.id] = lineno
                samples.append(sample)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not samples:
        shown = "; ".join(str(s) for s in skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        raise DataError(f"{path}: no valid line in Mistral's chat fine-tuning format "
                        f"({n} non-blank line(s)){': ' + shown if shown else ''}")
    return ChatData(samples=tuple(samples), skipped=tuple(skipped), n_lines=n)


def history_messages(sample: Sample, *, where: str) -> tuple[Message, ...]:
    """The chat history a `messages`-style prompt sends: the sample's `messages` field as Messages."""
    raw = sample.fields.get("messages")
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: prompt style 'messages' needs samples with a 'messages' field (chat-format "
                        f"data: data.source chat_jsonl); sample {sample.id!r} has none")
    try:
        return tuple(Message(role=m["role"], content=m["content"]) for m in raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: sample {sample.id!r}: field 'messages' must hold {{role, content}} objects "
                        f"({exc})") from None
