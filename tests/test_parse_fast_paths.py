"""The parsers' fast paths give exactly what the general checks give, for every message shape they take."""

from __future__ import annotations

import itertools

import pytest

from fakellm.engine import engine, tokens
from fakellm.model import Message, Request, ToolCall
from fakellm.providers.anthropic import messages as anthropic
from fakellm.providers.base import InvalidRequest
from fakellm.providers.openai.chat import OpenAIChat, _plain_message

ROLES = ["system", "developer", "user", "assistant", "tool", "function", "robot", None, 3]
CONTENTS = ["hi", "", None, [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], 7]
EXTRAS = [{}, {"name": "bob"}, {"tool_call_id": "call_1"}, {"tool_calls": None},
          {"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
          {"tool_calls": []}]


def _general(raw: object) -> Message | str:
    try:
        return OpenAIChat._message(raw, 0)
    except InvalidRequest as e:
        return f"error: {e.message}"


def test_openai_plain_messages_are_parsed_as_the_general_checks_parse_them():
    taken = 0
    for role, content, extra in itertools.product(ROLES, CONTENTS, EXTRAS):
        raw = {"role": role, "content": content, **extra}
        fast = _plain_message(raw)
        if fast is None:
            continue
        taken += 1
        assert fast == _general(raw), raw
    assert taken >= 20  # user, system, developer, assistant without calls and tool messages with text
    assert _plain_message(["not", "a", "dict"]) is None


def test_openai_general_path_still_rejects_what_it_rejected():
    assert _general({"role": "robot", "content": "x"}).startswith("error: messages[0].role")
    assert _general({"role": "user"}).startswith("error: Missing required parameter: 'messages[0].content'")
    assert _general({"role": "assistant", "content": None,
                     "tool_calls": [{"function": {"arguments": "{}"}}]}) == \
        "error: messages[0].tool_calls[0].function.name: Field required"
    assert _general({"role": "assistant", "content": None, "tool_calls": [
        {"id": 5, "function": {"name": "f", "arguments": "{}"}}]}) == \
        Message("assistant", "", [ToolCall("f", "{}", "5")])


@pytest.mark.parametrize("blocks, expected", [
    ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], Message("user", "a b")),
    ([{"type": "tool_result", "tool_use_id": "t1", "content": "42"}], Message("user", "", [], ["42"])),
    ([{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "x"}]}],
     Message("user", "", [], ["x"])),
    ([{"type": "tool_result", "tool_use_id": "t1"}], Message("user", "", [], [""])),
    ([{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
     Message("user", "", [ToolCall("f", '{"a": 1}', "toolu_1")])),
    ([{"type": "image", "source": {"type": "base64"}}], Message("user", "")),
])
def test_anthropic_blocks(blocks, expected):
    assert anthropic.parse_messages([{"role": "user", "content": blocks}]) == [expected]


@pytest.mark.parametrize("blocks, message", [
    (["x"], "messages.0.content.0: each content block must be an object with a 'type'"),
    ([{"type": "text"}], "messages.0.content.0.text: Field required"),
    ([{"type": "text", "text": "ok"}, {"type": "tool_use"}], "messages.0.content.1.name: Field required"),
    ([{"type": "tool_use", "name": "f", "input": []}], "messages.0.content.0.input: Input should be a valid dictionary"),
    ([{"type": "tool_result", "content": "x"}], "messages.0.content.0.tool_use_id: Field required"),
    ([{"type": "tool_result", "tool_use_id": "t", "content": 5}],
     "messages.0.content.0.content: Input should be a string or a list of content blocks"),
    ([{"type": "image"}], "messages.0.content.0.source: Field required"),
])
def test_anthropic_block_errors_name_the_block(blocks, message):
    with pytest.raises(InvalidRequest) as e:
        anthropic.parse_messages([{"role": "user", "content": blocks}])
    assert e.value.message == message


def test_the_inlined_token_count_is_tokens_count():
    texts = ["", "a", "abc", "abcd", "abcde", "x" * 401, "é✓😀"]
    for text, result, name, arguments in itertools.product(texts, texts, texts, texts):
        messages = [Message("user", text), Message("tool", "", [], [result, text]),
                    Message("assistant", text, [ToolCall(name, arguments), ToolCall(arguments, name)])]
        request = Request("anthropic.messages", "m", messages, {}, {})
        expected = sum(tokens.count(t) for t in (text, result, text, text, name, arguments, arguments, name))
        assert engine.input_tokens(request, tokens.count) == expected
        assert engine.input_tokens(request, lambda t: tokens.count(t)) == expected  # the general loop
