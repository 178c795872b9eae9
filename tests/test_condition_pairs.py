"""Every pair of `when` conditions, through the OpenAI SDK: a rule with two conditions
fires exactly when both hold, whatever the other one searches for.

Each condition has a distinctive needle and a switch that makes the request satisfy it
or not, independently of every other switch. For each pair the test sends the four
combinations of the two switches (all other switches off) and expects the rule to fire
only when both are on. A condition that reads another condition's needle (as
`system_contains` + `last_message_contains` once did) fails here.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from helpers import app_from, openai_client

# name -> (the `when` entry, as the config writes it)
CONDITIONS: dict[str, dict[str, Any]] = {
    "messages_contain": {"messages_contain": "alpha-mc"},
    "messages_match": {"messages_match": "bet[a]-m+"},
    "last_message_contains": {"last_message_contains": "gamma-lm"},
    "system_contains": {"system_contains": "delta-sc"},
    "previous_message_contains": {"previous_message_contains": "eps-pm"},
    "previous_message_role": {"previous_message_role": "tool"},
    "tool_result_contains": {"tool_result_contains": "zeta-tr"},
    "model_matches": {"model_matches": "gpt-pair-*"},
    "tools_include": {"tools_include": "pair_tool"},
    "header": {"header.x-pair": "yes"},
    "turn_in": {"turn_in": [4, 5]},
}


def request_for(on: set[str]) -> dict[str, Any]:
    """A chat request that satisfies exactly the conditions named in `on`.

    Turns: the base history has one assistant turn (2), a non-tool previous message adds
    one (3), and `turn_in` adds two more (4 or 5), so `turn_in: [4, 5]` depends on its
    switch alone.
    """
    def needle(name: str, text: str) -> str:
        return f" {text}" if name in on else ""

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse." + needle("system_contains", "delta-sc")},
        {"role": "user", "content": "hello" + needle("messages_contain", "alpha-mc")
                                    + needle("messages_match", "beta-mmm")},
    ]
    if "turn_in" in on:
        messages += [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "more"},
                     {"role": "assistant", "content": "again"}, {"role": "user", "content": "still more"}]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
    ]
    previous_text = needle("previous_message_contains", "eps-pm")
    tool_text = "result" + needle("tool_result_contains", "zeta-tr")
    if "previous_message_role" in on:  # the tool result is the message before the newest
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": tool_text + previous_text})
    else:
        messages.append({"role": "tool", "tool_call_id": "call_1", "content": tool_text})
        messages.append({"role": "assistant", "content": "noted" + previous_text})
    messages.append({"role": "user", "content": "last" + needle("last_message_contains", "gamma-lm")})
    tool_name = "pair_tool" if "tools_include" in on else "other_tool"
    return {
        "model": "gpt-pair-1" if "model_matches" in on else "gpt-other",
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": tool_name, "parameters": {"type": "object"}}}],
        "extra_headers": {"x-pair": "yes"} if "header" in on else {},
    }


def fired(when: dict[str, Any], on: set[str]) -> bool:
    app = app_from({"rules": [{"name": "under_test", "when": when, "respond": {"content": "fired"}}]})
    reply = openai_client(app).chat.completions.create(**request_for(on))
    return reply.choices[0].message.content == "fired"


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_each_switch_controls_its_condition_alone(name):
    """The switches are sound: each condition holds with its own switch on, and not with
    every other switch on."""
    others = set(CONDITIONS) - {name}
    assert fired(CONDITIONS[name], {name})
    assert fired(CONDITIONS[name], set(CONDITIONS))
    assert not fired(CONDITIONS[name], others)
    assert not fired(CONDITIONS[name], set())


@pytest.mark.parametrize("first,second", list(itertools.combinations(sorted(CONDITIONS), 2)))
def test_a_rule_with_two_conditions_fires_only_when_both_hold(first, second):
    app = app_from({"rules": [{"name": "pair", "when": {**CONDITIONS[first], **CONDITIONS[second]},
                               "respond": {"content": "fired"}}]})
    client = openai_client(app)
    outcomes = {}
    for on in (set(), {first}, {second}, {first, second}):
        reply = client.chat.completions.create(**request_for(on))
        outcomes[tuple(sorted(on))] = reply.choices[0].message.content == "fired"
    assert outcomes == {(): False, (first,): False, (second,): False, tuple(sorted((first, second))): True}
