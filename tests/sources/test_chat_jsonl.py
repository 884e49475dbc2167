"""Chat-format fine-tuning files as data: a table of bad lines and the reason each one is skipped for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.loaders import load_data
from evalkit.prompts import render_prompt
from evalkit.sources.chat_jsonl import load_chat_jsonl, parse_chat_line
from evalkit.suite import DataSpec, PromptSpec

U = {"role": "user", "content": "How are you?"}
A = {"role": "assistant", "content": "Ah, my dear friend, as well as one can be."}
TOOLS = [{"type": "function", "function": {"name": "generate_anagram", "description": "Anagram of a word",
                                           "parameters": {"type": "object", "properties": {"word": {"type": "string"}}}}}]


def call(call_id: str = "TX92Jm8Zi", name: str = "generate_anagram", arguments: str = '{"word": "listen"}') -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_turn(calls: list[dict], content: str | None = None) -> dict:
    msg = {"role": "assistant", "tool_calls": calls}
    if content is not None:
        msg["content"] = content
    return msg


def answer(call_id: str = "TX92Jm8Zi", content: str = '{"anagram": "silent"}') -> dict:
    return {"role": "tool", "content": content, "tool_call_id": call_id}


# The function-calling example of Mistral's fine-tuning guide, which must load.
GUIDE_TOOLS_LINE = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant with access to functions."},
        {"role": "user", "content": "Can you help me generate an anagram of the word 'listen'?"},
        tool_turn([call()]), answer(),
        {"role": "assistant", "content": "The anagram of the word 'listen' is 'silent'."},
        {"role": "user", "content": "That's amazing! Can you generate an anagram for the word 'race'?"},
        tool_turn([call("3XhQnxLsT", arguments='{"word": "race"}')]),
    ],
    "tools": TOOLS,
}

BAD_LINES = [
    ('{"messages": [', "invalid JSON (Expecting value at column 15)"),
    ("[1, 2]", "expected a JSON object, got list"),
    ({"text": "hi"}, "needs a non-empty list 'messages' (keys: text)"),
    ({"messages": []}, "needs a non-empty list 'messages'"),
    ({"messages": [U, "hello"]}, "message 2: must be an object, got 'hello'"),
    ({"messages": [U, {"role": "bot", "content": "x"}]}, "message 2: unknown role 'bot' (allowed: system, user, "
                                                         "assistant, tool)"),
    ({"messages": [{"content": "x"}, A]}, "message 1: unknown role null"),
    # The guide's two reasons a line is skipped:
    ({"messages": [U, {"role": "assistant", "content": ""}, U, A]},
     "message 2 (assistant): empty assistant message (no content and no tool calls)"),
    ({"messages": [U, A, U]}, "the last message is from 'user', not the assistant: there is no reference answer"),
    ({"messages": [U, {"role": "assistant", "content": "   "}]}, "message 2 (assistant): empty assistant message"),
    ({"messages": [{"role": "user", "content": ""}, A]}, "message 1 (user): empty content"),
    ({"messages": [{"role": "user", "content": 42}, A]}, "message 1 (user): 'content' must be a string or a list of "
                                                         "text chunks, got 42"),
    ({"messages": [{"role": "system", "content": "Be brief."}, A]},
     "no user message before the last assistant message: there is no prompt"),
    ({"messages": [U, {**A, "weight": 2}]}, "message 2 (assistant): 'weight' must be 0 or 1, got 2"),
    # Tool calls and their ids.
    ({"messages": [U, tool_turn([{"type": "function", "function": {"name": "generate_anagram"}}]), answer(), A],
      "tools": TOOLS}, "message 2 (assistant): tool call 1: has no 'id'"),
    ({"messages": [U, tool_turn([call("call_1")]), answer("call_1"), A], "tools": TOOLS},
     "message 2 (assistant): tool call 1: id 'call_1' is not 9 letters or digits (Mistral's tool-call id format)"),
    ({"messages": [U, tool_turn([call(), call()]), answer(), answer(), A], "tools": TOOLS},
     "message 2 (assistant): tool call 2: id 'TX92Jm8Zi' is used by an earlier tool call"),
    ({"messages": [U, tool_turn([call()]), answer("WRONGid12"), A], "tools": TOOLS},
     "message 3 (tool): tool_call_id 'WRONGid12' answers no earlier tool call"),
    ({"messages": [U, tool_turn([call()]), answer(), answer(), A], "tools": TOOLS},
     "message 4 (tool): tool_call_id 'TX92Jm8Zi' answers an earlier tool call that was already answered"),
    ({"messages": [U, tool_turn([call()]), {"role": "tool", "content": "x"}, A], "tools": TOOLS},
     "message 3 (tool): has no 'tool_call_id'"),
    ({"messages": [U, tool_turn([call()]), A], "tools": TOOLS},
     "message 2 (assistant): tool call 'TX92Jm8Zi' is never answered by a tool message before message 3 (assistant)"),
    ({"messages": [U, tool_turn([call()]), answer(), A]},
     "message 2 (assistant): tool call 1: calls 'generate_anagram' but the line has no 'tools' list defining it"),
    ({"messages": [U, tool_turn([call(name="reverse")]), answer(), A], "tools": TOOLS},
     "message 2 (assistant): tool call 1: calls 'reverse', which 'tools' does not define (defined: generate_anagram)"),
    ({"messages": [U, tool_turn([call(arguments="{word: listen}")]), answer(), A], "tools": TOOLS},
     "message 2 (assistant): tool call 1: 'arguments' is not valid JSON ('{word: listen}')"),
    ({"messages": [U, tool_turn([call(arguments='["listen"]')]), answer(), A], "tools": TOOLS},
     "message 2 (assistant): tool call 1: 'arguments' must be a JSON object, got [\"listen\"]"),
    ({"messages": [U, A], "tools": {"name": "x"}}, "'tools' must be a list of function definitions"),
    ({"messages": [U, A], "tools": [TOOLS[0], TOOLS[0]]}, "tools[2]: the function name 'generate_anagram' is "
                                                           "defined twice"),
]


def _line(obj) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj)


@pytest.mark.parametrize(("obj", "reason"), BAD_LINES)
def test_each_bad_line_is_skipped_with_its_line_number_and_reason(tmp_path: Path, obj, reason: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"messages": [U, A]}) + "\n\n" + _line(obj) + "\n", encoding="utf-8")
    data = load_chat_jsonl(path)
    assert len(data.samples) == 1 and data.n_lines == 2
    (skipped,) = data.skipped
    assert skipped.line == 3, "blank lines still count in line numbers"
    assert str(skipped).startswith(f"line 3: {reason}"), str(skipped)


def test_the_guides_function_calling_example_loads() -> None:
    s = parse_chat_line(GUIDE_TOOLS_LINE, 1)
    assert s.id == "line-1" and s.input == "That's amazing! Can you generate an anagram for the word 'race'?"
    assert s.target == '[{"arguments": {"word": "race"}, "name": "generate_anagram"}]'
    assert s.fields["reference_is_tool_call"] is True and s.fields["tools"] == ["generate_anagram"]
    roles = [m["role"] for m in s.fields["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert s.fields["messages"][2]["content"].startswith('[TOOL_CALLS] [{"arguments": {"word": "listen"}')
    assert s.fields["messages"][3]["content"] == '[TOOL_RESULTS] TX92Jm8Zi: {"anagram": "silent"}'


def test_multi_turn_reference_is_the_last_assistant_message_and_ids_are_kept(tmp_path: Path) -> None:
    rows = [{"id": "dumbledore-1", "messages": [U, A, {"role": "user", "content": "I'm concerned about Harry."},
                                                {"role": "assistant", "content": [{"type": "text", "text": "Worry "},
                                                                                  {"type": "text", "text": "not."}]}]},
            {"id": "dumbledore-1", "messages": [U, A]}]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = load_chat_jsonl(path)
    (s,) = data.samples
    assert (s.id, s.input, s.target) == ("dumbledore-1", "I'm concerned about Harry.", "Worry not.")
    assert [m["role"] for m in s.fields["messages"]] == ["user", "assistant", "user"]
    assert [str(x) for x in data.skipped] == ["line 2: id 'dumbledore-1' repeats line 1"]


def test_a_file_without_valid_lines_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"messages": [U]}) + "\nnot json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"eval.jsonl: no valid line in Mistral's chat fine-tuning format \(2 non-blank "
                                        r"line\(s\)\): line 1: the last message is from 'user'.*; line 2: invalid JSON"):
        load_chat_jsonl(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no valid line .*\(0 non-blank line\(s\)\)$"):
        load_chat_jsonl(empty)


def test_loader_warnings_and_messages_prompt_style(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"messages": [U, A]}) + "\n" + json.dumps({"messages": [U]}) + "\n", encoding="utf-8")
    loaded = load_data(DataSpec(source="chat_jsonl", path="eval.jsonl"), tmp_path)
    assert [s.id for s in loaded.samples] == ["line-1"]
    assert loaded.warnings == ("eval.jsonl line 2: the last message is from 'user', not the assistant: there is no "
                               "reference answer (skipped)",)
    prompt = render_prompt(PromptSpec(style="messages", system="Reply as {{ 'Dumbledore' }}."), loaded.samples[0], {},
                           where="suite: prompts.default")
    assert [(m.role, m.content) for m in prompt.messages] == [("system", "Reply as Dumbledore."),
                                                              ("user", "How are you?")]
    with pytest.raises(DataError, match="prompt style 'messages' needs samples with a 'messages' field"):
        from evalkit.records import Sample

        render_prompt(PromptSpec(style="messages"), Sample(id="x", input="q"), {}, where="suite: prompts.default")
    with pytest.raises(ValueError, match="template: required for style 'chat'"):
        PromptSpec(style="chat")
