"""Warnings for configs that are valid but cannot do what they say (`fakellm check`)."""

from __future__ import annotations

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

    def warn(message: str) -> None:
        out.append(Problem(config.source, None, None, message))

    impossible: set[int] = set()  # rules already reported as never firing

    for i, rule in enumerate(rules):
        when = rule.when
        low, high = _turns(rule)
        if low > high:
            warn(f"rule {_name(rule, i)} can never fire: turn {when.turn} is outside turn_in {when.turn_in}")
            continue
        if when is not None and when.api in _SINGLE_SHOT_APIS:
            if when.tools_include is not None:
                warn(f"rule {_name(rule, i)} can never fire: {when.api} requests offer no tools "
                     f"(tools_include {when.tools_include!r})")
                impossible.add(i)
                continue
            if config.defaults.turns == "messages" and low > 1:
                warn(f"rule {_name(rule, i)} can never fire: {when.api} requests carry no chat history, "
                     f"so they are always turn 1")
                impossible.add(i)
                continue
            if config.defaults.turns == "messages":
                high = 1
        if when is not None and config.defaults.turns == "messages" and high == 1:
            if when.previous_message_role in ("assistant", "tool"):
                warn(f"rule {_name(rule, i)} can never fire: on turn 1 no {when.previous_message_role} "
                     f"message comes before the last one (turn = 1 + assistant messages)")
                impossible.add(i)
            elif when.tool_result_contains is not None:
                warn(f"rule {_name(rule, i)} contradicts itself: it waits for a tool result on turn 1, but a "
                     f"turn-1 request carries none (turn = 1 + assistant messages); it could only match a "
                     f"tool result left over from an earlier run of the same conversation")
        for k, respond in enumerate(rule.respond):
            if respond.error is not None and respond.status < 400:
                warn(f"rule {_name(rule, i)} respond[{k}]: `error` is only sent with a status >= 400")

    for j, later in enumerate(rules):
        later_conds = _conditions(later)
        later_low, later_high = _turns(later)
        if later_low > later_high or j in impossible:
            continue  # already reported above: it can never fire at all
        for i in range(j):
            earlier = rules[i]
            chancy = earlier.probability is not None and earlier.probability < 1
            if earlier.times is not None or chancy or i in impossible or _turns(earlier)[0] > _turns(earlier)[1]:
                continue  # a limited, sometimes-skipped or impossible rule hides nothing
            conds = _conditions(earlier)
            low, high = _turns(earlier)
            if low <= later_low and later_high <= high and all(later_conds.get(k) == v for k, v in conds.items()):
                warn(f"rule {_name(later, j)} can never fire: rule {_name(earlier, i)} comes first "
                     f"and matches everything it matches")
                break
    return out
