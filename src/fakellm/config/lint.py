"""Warnings for configs that are valid but cannot do what they say (`fakellm check`), each at the
line and column of what it is about (when the config came from text)."""

from __future__ import annotations

import itertools

from .schema import Config, Problem, RuleSpec

_TURNLESS = ("turn", "turn_in")

# Endpoints whose requests offer no tools and carry no chat history: every
# request is turn 1 (when turns are counted from messages).
_SINGLE_SHOT_APIS = frozenset({"openai.embeddings", "openai.completions"})


def _name(rule: RuleSpec, i: int) -> str:
    return repr(rule.name) if rule.name is not None else f"rules[{i}]"


def _conditions(rule: RuleSpec) -> dict[str, object]:
    """A rule's conditions as comparable items (turns handled separately)."""
    if rule.when is None:
        return {}
    data = rule.when.model_dump(exclude_none=True, exclude={"headers", *_TURNLESS})
    for name, value in rule.when.headers.items():
        data[f"header.{name}"] = value
    return data


def _turns(rule: RuleSpec) -> tuple[int, float]:
    """The inclusive range of turns a rule accepts."""
    when = rule.when
    low, high = 1, float("inf")
    if when is not None and when.turn_in is not None:
        low, high = when.turn_in
    if when is not None and when.turn is not None:
        low, high = max(low, when.turn), min(high, when.turn)
    return low, high


def lint(config: Config) -> list[Problem]:
    out: list[Problem] = []
    rules = config.rules

    def warn(message: str, *path: object) -> None:
        # The deepest part of the path the text has a position for (a single respond mapping has no index),
        # at its key when it has one.
        places = [place for n in range(len(path), 0, -1) for place in ((*path[:n - 1], ("key", path[n - 1])), path[:n])]
        line, col = next((config.marks[p] for p in places if p in config.marks), (None, None))
        out.append(Problem(config.source, line, col, message))

    impossible: set[int] = set()  # rules already reported as never firing

    for i, rule in enumerate(rules):
        when = rule.when
        low, high = _turns(rule)
        if low > high:
            warn(f"rule {_name(rule, i)} can never fire: turn {when.turn} is outside turn_in {when.turn_in}",
                 "rules", i, "when")
            continue
        if when is not None and when.api in _SINGLE_SHOT_APIS:
            if when.tools_include is not None:
                warn(f"rule {_name(rule, i)} can never fire: {when.api} requests offer no tools "
                     f"(tools_include {when.tools_include!r})", "rules", i, "when")
                impossible.add(i)
                continue
            if config.defaults.turns == "messages" and low > 1:
                warn(f"rule {_name(rule, i)} can never fire: {when.api} requests carry no chat history, "
                     f"so they are always turn 1", "rules", i, "when")
                impossible.add(i)
                continue
            if config.defaults.turns == "messages":
                high = 1
        if when is not None and config.defaults.turns == "messages" and high == 1:
            if when.previous_message_role in ("assistant", "tool"):
                warn(f"rule {_name(rule, i)} can never fire: on turn 1 no {when.previous_message_role} "
                     f"message comes before the last one (turn = 1 + assistant messages)", "rules", i, "when")
                impossible.add(i)
            elif when.tool_result_contains is not None:
                warn(f"rule {_name(rule, i)} contradicts itself: it waits for a tool result on turn 1, but a "
                     f"turn-1 request carries none (turn = 1 + assistant messages); it could only match a "
                     f"tool result left over from an earlier run of the same conversation", "rules", i, "when")
        for k, respond in enumerate(rule.respond):
            if respond.error is not None and respond.status < 400:
                warn(f"rule {_name(rule, i)} respond[{k}]: `error` is only sent with a status >= 400",
                     "rules", i, "respond", k, "error")

    first_named: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.name is None:
            continue
        if rule.name in first_named:
            first = first_named[rule.name]
            where = config.marks.get(("rules", first, "name"))
            warn(f"rule name {rule.name!r} is used twice (rules[{first}]{f', line {where[0]}' if where else ''} and "
                 f"rules[{i}]): the journal, the stats and assert_called(rule=...) cannot tell them apart",
                 "rules", i, "name")
        else:
            first_named[rule.name] = i

    hiders = _Hiders()
    for j, later in enumerate(rules):
        conds = frozenset(_conditions(later).items())
        low, high = _turns(later)
        if low > high or j in impossible:
            continue  # already reported above: it can never fire at all
        i = hiders.first_hiding(conds, low, high)
        if i is not None:
            warn(f"rule {_name(later, j)} can never fire: rule {_name(rules[i], i)} comes first "
                 f"and matches everything it matches", "rules", j)
        chancy = later.probability is not None and later.probability < 1
        if later.times is None and not chancy:  # a limited or sometimes-skipped rule hides nothing
            hiders.add(j, conds, low, high)
    return sorted(out, key=lambda p: (p.line or 0, p.col or 0))


class _Hiders:
    """The rules so far that match every request they match (no `times`, no `probability`), indexed
    by their conditions: checking each rule against every earlier one would take minutes for a
    config of thousands of rules."""

    def __init__(self) -> None:
        self._by_conditions: dict[frozenset, _TurnRanges] = {}

    def add(self, index: int, conds: frozenset, low: int, high: float) -> None:
        self._by_conditions.setdefault(conds, _TurnRanges()).add(index, low, high)

    def first_hiding(self, conds: frozenset, low: int, high: float) -> int | None:
        """The first rule whose conditions are among `conds` and whose turns cover low..high."""
        if 2 ** len(conds) <= len(self._by_conditions):
            items = sorted(conds, key=repr)
            keys = (frozenset(c) for r in range(len(items) + 1) for c in itertools.combinations(items, r))
        else:
            keys = (key for key in self._by_conditions if key <= conds)
        found = [ranges.first_covering(low, high) for key in keys if (ranges := self._by_conditions.get(key))]
        return min((i for i in found if i is not None), default=None)


class _TurnRanges:
    """Rules (by index) with the turns each accepts: single turns by turn, ranges in order. A range
    that an earlier one covers is left out: the earlier rule is the one to name."""

    def __init__(self) -> None:
        self._single: dict[int, int] = {}
        self._ranges: list[tuple[int, int, float]] = []

    def add(self, index: int, low: int, high: float) -> None:
        if self._covering_range(low, high) is not None:
            return
        if low == high:
            self._single.setdefault(low, index)
        else:
            self._ranges.append((index, low, high))

    def first_covering(self, low: int, high: float) -> int | None:
        found = [i for i in (self._single.get(low) if low == high else None, self._covering_range(low, high))
                 if i is not None]
        return min(found, default=None)

    def _covering_range(self, low: int, high: float) -> int | None:
        for index, r_low, r_high in self._ranges:
            if r_low <= low and high <= r_high:
                return index
        return None
