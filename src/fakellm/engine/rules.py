"""Rules compiled for the hot path: conditions, matching, and why a rule missed.

Each `when` key becomes one `Condition` with precomputed needles (lower-cased
strings, compiled globs and regexes). Conditions run cheapest first. A condition
can also say, for a request it rejected, what the request had instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..config.schema import Config, RespondSpec, RuleSpec
from ..model import Message, Request
from .answers import Answer
from .apis import api_matches


class MatchContext:
    """One request as the conditions see it. Derived text is computed once, on first use.

    Conditions see only what the request carries (its messages; for the Responses API
    also the stored chain that `previous_response_id` names), never what other requests
    sent, so the same request gets the same answer however long the server has run.
    """

    __slots__ = ("request", "turn", "_all", "_last", "_system", "_results")

    def __init__(self, request: Request, turn: int):
        self.request = request
        self.turn = turn
        self._all: str | None = None
        self._last: str | None = None
        self._system: str | None = None
        self._results: list[str] | None = None

    @property
    def all_text(self) -> str:
        """Every message's text, lower-cased, joined (what `messages_contain` searches)."""
        if self._all is None:
            self._all = " ".join([m.text if not m.tool_results else _searchable(m)
                                  for m in self.request.messages]).lower()
        return self._all

    @property
    def last_text(self) -> str:
        if self._last is None:
            msgs = self.request.messages
            self._last = _searchable(msgs[-1]).lower() if msgs else ""
        return self._last

    @property
    def system_text(self) -> str:
        if self._system is None:
            self._system = " ".join(
                m.text for m in self.request.messages if m.role in ("system", "developer")
            ).lower()
        return self._system

    @property
    def previous_message(self) -> Message | None:
        msgs = self.request.messages
        return msgs[-2] if len(msgs) >= 2 else None

    @property
    def request_tool_results(self) -> list[str]:
        if self._results is None:
            self._results = [t.lower() for m in self.request.messages for t in m.tool_results]
        return self._results


def _searchable(message: Message) -> str:
    if message.tool_results:
        return " ".join([message.text, *message.tool_results]) if message.text else " ".join(message.tool_results)
    return message.text


def _q(text: str) -> str:
    """A needle as the explanation shows it: in double quotes, like YAML would write it."""
    return json.dumps(text, ensure_ascii=False)


def _quote(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return _q(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True, slots=True)
class Condition:
    """One `when` key: `label` is how the config wrote it."""

    label: str
    cost: int
    holds: Callable[[MatchContext], bool]
    explain: Callable[[MatchContext], str]


def _conditions(when: Any) -> list[Condition]:
    """The rule's `when` as conditions, cheapest first.

    Each condition is built by its own function, so each closes over its own
    needle (a shared local would leave every lambda with the last one).
    """
    if when is None:
        return []
    out: list[Condition] = []
    for key, build in _BUILDERS:
        value = getattr(when, key)
        if value is not None:
            out.append(build(value))
    out.extend(_header_is(name, value) for name, value in when.headers.items())
    out.sort(key=lambda cond: cond.cost)
    return out


def _api(wanted: str) -> Condition:
    return Condition(f"api {wanted}", 0, lambda c: api_matches(wanted, c.request.api),
                     lambda c: f"request is {c.request.api}")


def _turn(turn: int) -> Condition:
    return Condition(f"turn {turn}", 0, lambda c: c.turn == turn, lambda c: f"request is turn {c.turn}")


def _turn_in(bounds: tuple[int, int]) -> Condition:
    low, high = bounds
    return Condition(f"turn_in [{low}, {high}]", 0, lambda c: low <= c.turn <= high,
                     lambda c: f"request is turn {c.turn}")


def _header_is(name: str, value: str) -> Condition:
    return Condition(
        f"header.{name} {_q(value)}", 1,
        lambda c: c.request.headers.get(name) == value,
        lambda c: f"header {name} is {_q(c.request.headers[name])}" if name in c.request.headers else f"no {name} header",
    )


def _model_matches(glob: str) -> Condition:
    # As in fakellm 0.3.5: `*` matches any run of characters, everything else itself.
    regex = re.compile("^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$")
    return Condition(f"model_matches {_q(glob)}", 1, lambda c: regex.match(c.request.model) is not None,
                     lambda c: f"model is {_q(c.request.model)}")


def _tools_include(tool: str) -> Condition:
    return Condition(
        f"tools_include {_q(tool)}", 1,
        lambda c: tool in c.request.tools,
        lambda c: f"tools are {', '.join(c.request.tools)}" if c.request.tools else "the request has no tools",
    )


def _previous_message_role(role: str) -> Condition:
    return Condition(
        f"previous_message_role {_q(role)}", 1,
        lambda c: _role_is(c.previous_message, role),
        lambda c: (f"previous message is a {c.previous_message.role} message" if c.previous_message
                   else "there is no previous message"),
    )


def _previous_message_contains(text: str) -> Condition:
    needle = text.lower()
    return Condition(
        f"previous_message_contains {_q(text)}", 2,
        lambda c: c.previous_message is not None and needle in _searchable(c.previous_message).lower(),
        lambda c: (f"previous message is {_quote(_searchable(c.previous_message))}" if c.previous_message
                   else "there is no previous message"),
    )


def _last_message_contains(text: str) -> Condition:
    needle = text.lower()
    return Condition(f"last_message_contains {_q(text)}", 2, lambda c: needle in c.last_text,
                     lambda c: f"last message is {_quote(c.last_text)}")


def _system_contains(text: str) -> Condition:
    needle = text.lower()
    return Condition(
        f"system_contains {_q(text)}", 2,
        lambda c: needle in c.system_text,
        lambda c: f"system prompt is {_quote(c.system_text)}" if c.system_text else "there is no system prompt",
    )


def _messages_contain(text: str) -> Condition:
    needle = text.lower()
    return Condition(f"messages_contain {_q(text)}", 3, lambda c: needle in c.all_text,
                     lambda c: f"not found in the {_count(len(c.request.messages), 'message')}")


def _messages_match(expression: str) -> Condition:
    pattern = re.compile(expression, re.IGNORECASE)
    return Condition(f"messages_match {_q(expression)}", 4, lambda c: pattern.search(c.all_text) is not None,
                     lambda c: f"no match in the {_count(len(c.request.messages), 'message')}")


def _tool_result_contains(text: str) -> Condition:
    needle = text.lower()
    return Condition(f"tool_result_contains {_q(text)}", 4,
                     lambda c: any(needle in t for t in c.request_tool_results), _explain_tool_results)


# `when` keys in the order the config lists them (headers are a mapping, built apart).
_BUILDERS: tuple[tuple[str, Callable[[Any], Condition]], ...] = (
    ("api", _api),
    ("turn", _turn),
    ("turn_in", _turn_in),
    ("model_matches", _model_matches),
    ("tools_include", _tools_include),
    ("previous_message_role", _previous_message_role),
    ("previous_message_contains", _previous_message_contains),
    ("last_message_contains", _last_message_contains),
    ("system_contains", _system_contains),
    ("messages_contain", _messages_contain),
    ("messages_match", _messages_match),
    ("tool_result_contains", _tool_result_contains),
)


def _role_is(message: Message | None, role: str) -> bool:
    if message is None:
        return False
    # A message made only of tool results is a "tool" message whatever the
    # provider calls it (Anthropic sends them as role "user").
    return message.role == role or (role == "tool" and message.is_tool_result)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _explain_tool_results(c: MatchContext) -> str:
    n = len(c.request_tool_results)
    if n == 0:
        return "the request carries no tool results"
    return f"not found in the {_count(n, 'tool result')} the request carries"


class CompiledRule:
    """A rule ready for the hot path: `matches(ctx)` tests its conditions, cheapest first."""

    __slots__ = ("index", "name", "conditions", "responds", "answers", "times", "cycle", "probability", "spec",
                 "matches", "counted")

    def __init__(self, index: int, name: str, conditions: list[Condition], responds: list[RespondSpec],
                 times: int | None, cycle: bool, spec: RuleSpec):
        self.index = index
        self.name = name
        self.conditions = conditions
        self.responds = responds
        self.answers = [Answer(r, name) for r in responds]
        self.times = times
        self.cycle = cycle
        self.probability = spec.probability
        self.spec = spec
        self.matches: Callable[[MatchContext], bool] = _all_hold(conditions)
        # Whether its hits need counting: a sequence picks its answer by the count, `times` stops at it.
        self.counted = times is not None or len(self.answers) > 1

    def respond_for(self, hit: int) -> Answer:
        """The answer for the `hit`-th match (0-based) within a conversation."""
        answers = self.answers
        n = len(answers)
        if hit < n:
            return answers[hit]
        return answers[hit % n] if self.cycle else answers[-1]


def _all_hold(conditions: list[Condition]) -> Callable[[MatchContext], bool]:
    """One callable for a rule's conditions; one condition (the usual rule) is called directly."""
    if not conditions:
        return lambda ctx: True
    if len(conditions) == 1:
        return conditions[0].holds
    checks = tuple(cond.holds for cond in conditions)

    def all_hold(ctx: MatchContext) -> bool:
        for holds in checks:
            if not holds(ctx):
                return False
        return True

    return all_hold


def compile_rules(config: Config) -> list[CompiledRule]:
    return [
        CompiledRule(
            index=i,
            name=spec.name if spec.name is not None else f"rule-{i}",
            conditions=_conditions(spec.when),
            responds=list(spec.respond),
            times=spec.times,
            cycle=spec.cycle,
            spec=spec,
        )
        for i, spec in enumerate(config.rules)
    ]


@dataclass(slots=True)
class ConditionReport:
    label: str
    held: bool
    detail: str  # what the request had, when the condition did not hold

    def __str__(self) -> str:
        return f"{self.label}: ok" if self.held else f"{self.label}: {self.detail}"


@dataclass(slots=True)
class MissExplanation:
    """Why no rule fired: the closest rule, condition by condition."""

    closest_rule: str | None
    conditions: list[ConditionReport]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "closest_rule": self.closest_rule,
            "conditions": [{"condition": r.label, "held": r.held, "detail": r.detail} for r in self.conditions],
            "note": self.note,
            "summary": str(self),
        }

    def __str__(self) -> str:
        if self.closest_rule is None:
            return self.note or "no rules are configured"
        failed = [str(r) for r in self.conditions if not r.held]
        reasons = failed or [str(r) for r in self.conditions]
        if self.note:
            reasons.append(self.note)
        return f"closest rule {_q(self.closest_rule)}: " + "; ".join(reasons or ["no conditions"])


def explain_miss(rules: list[CompiledRule], ctx: MatchContext, exhausted: dict[int, int]) -> MissExplanation:
    """Pick the rule with the most conditions holding and report each of its conditions.

    `exhausted` maps a rule index to its `times` limit for rules that would have
    matched but had already answered that many times in this conversation.
    """
    if not rules:
        return MissExplanation(None, [], "no rules are configured")
    best: tuple[tuple[bool, int, int, int], CompiledRule] | None = None
    for rule in rules:
        failing = [cond.cost for cond in rule.conditions if not cond.holds(ctx)]
        held = len(rule.conditions) - len(failing)
        # A rule that matched but had used up its `times` explains the miss best; then most
        # conditions holding wins; on a tie, the one with fewest failing, then the one whose first
        # failing condition is the costliest: a turn-2 rule whose tool result differs is closer to
        # a turn-2 request than a turn-1 rule is.
        key = (rule.index in exhausted, held, -len(failing), min(failing, default=99))
        if best is None or key > best[0]:
            best = (key, rule)
    assert best is not None
    rule = best[1]
    reports = [
        ConditionReport(cond.label, ok, "" if ok else cond.explain(ctx))
        for cond in rule.conditions
        for ok in (cond.holds(ctx),)
    ]
    note = ""
    if rule.index in exhausted:
        note = f"it already answered {exhausted[rule.index]} times in this conversation (times: {exhausted[rule.index]})"
    return MissExplanation(rule.name, reports, note)
