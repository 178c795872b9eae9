"""The rule writer: recorded exchanges become ordinary fakellm rules, as YAML a person can edit.

Each rule's `when` names the turn, the model and a distinctive piece of the request's newest user
message or tool result: the shortest run of words that no other recorded request of that turn and
model contains, so a replay survives small changes elsewhere in the prompt and no rule answers
another's request. Exchanges with the same `when` become one rule whose `respond` is the sequence of
their different answers (a 429 and then the retry's answer); identical answers are written once.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import yaml

from ..config.schema import config_from_data
from ..engine.rules import MatchContext, compile_rules
from .exchange import Exchange
from .scrub import REDACTED, Scrubber

MIN_WORDS, MAX_WORDS, MAX_NEEDLE = 4, 12, 120
TIMING_KEYS = ("delay_ms", "ttft_ms", "chunk_delay_ms")
_WORD = re.compile(r"\S+")


def rules_of(exchanges: list[Exchange], scrubber: Scrubber) -> list[dict[str, Any]]:
    """The rules for `exchanges`, in an order where each request is answered by its own rule."""
    whens = [_when(ex, exchanges, scrubber) for ex in exchanges]
    _name_apis_where_needed(whens, exchanges)
    rules: list[dict[str, Any]] = []
    rule_of: list[int] = []  # exchange -> its rule's position in `rules`
    by_when: dict[str, int] = {}
    for ex, when in zip(exchanges, whens, strict=True):
        key = repr(sorted(when.items()))
        respond = scrubber.data(_respond(ex))
        if key not in by_when:
            by_when[key] = len(rules)
            rules.append({"name": "", "when": when, "respond": []})
        rule = rules[by_when[key]]
        if not any(_untimed(r) == _untimed(respond) for r in rule["respond"]):
            rule["respond"].append(respond)
        rule_of.append(by_when[key])
    order = _unshadowed(rules, rule_of, exchanges)
    out = [rules[i] for i in order]
    for n, rule in enumerate(out, 1):
        rule["name"] = _name(n, rule["when"])
    return out


def to_yaml(rules: list[dict[str, Any]], header: str, kept: list[Any] = ()) -> str:
    """The config text: `header` as comments, then `kept` rules as they were, then `rules`."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    body = yaml.dump({"rules": [*kept, *rules]}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return comment + body


def _when(ex: Exchange, exchanges: list[Exchange], scrubber: Scrubber) -> dict[str, Any]:
    when: dict[str, Any] = {"turn": ex.turn, "model_matches": _glob_literal(ex.request.model)}
    kind, text = ex.newest
    peers = [o for o in exchanges if o is not ex and o.turn == ex.turn and o.request.model == ex.request.model
             and o.newest != ex.newest]
    if kind == "tool_result":
        needle = distinctive(text, [t for o in peers for t in o.tool_results_text], scrubber.text)
        if needle:
            when["tool_result_contains"] = needle
    else:
        needle = distinctive(text, [o.all_text for o in peers], scrubber.text)
        if needle:
            when["messages_contain"] = needle
    when["_api"] = ex.request.api  # kept only where two APIs would share a `when` (see below)
    return when


def distinctive(text: str, others: list[str], scrub: Callable[[str], str]) -> str:
    """The shortest run of at least MIN_WORDS words of `text` (fewer if it has fewer) found in none of
    `others` (lower-cased texts) and holding no secret; else the longest secret-free start of it."""
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return ""
    for size in range(min(MIN_WORDS, len(spans)), min(MAX_WORDS, len(spans)) + 1):
        for i in range(len(spans) - size + 1):
            piece = text[spans[i][0]:spans[i + size - 1][1]]
            if len(piece) > MAX_NEEDLE or scrub(piece) != piece:
                continue
            lowered = piece.lower()
            if not any(lowered in other for other in others):
                return piece
    # Nothing distinctive (the same words recorded twice): the start of the text, short of any secret.
    start = scrub(text[:200]).split(REDACTED)[0]
    return start[: start.rfind(" ")] if len(text) > 200 and " " in start else start.strip()


def _name_apis_where_needed(whens: list[dict[str, Any]], exchanges: list[Exchange]) -> None:
    """Keep `api` in a `when` only where another API's request has the same `when`."""
    apis: dict[str, set[str]] = {}
    for when in whens:
        key = repr(sorted((k, v) for k, v in when.items() if k != "_api"))
        apis.setdefault(key, set()).add(when["_api"])
    for when in whens:
        api = when.pop("_api")
        key = repr(sorted(when.items()))
        if len(apis[key]) > 1:
            when["api"] = api


def _respond(ex: Exchange) -> dict[str, Any]:
    a = ex.answer
    out: dict[str, Any] = {}
    if a.error is not None:
        out["status"] = a.status
        out["error"] = a.error
    else:
        if a.status != 200:
            out["status"] = a.status
        if a.text is not None or not a.tool_calls:
            out["content"] = a.text or ""
        if a.thinking:
            out["thinking"] = a.thinking
        if a.tool_calls:
            out["tool_calls"] = [{k: v for k, v in call.items() if v is not None} for call in a.tool_calls]
        if a.finish_reason:
            out["finish_reason"] = a.finish_reason
        if a.usage:
            out["usage"] = a.usage
    out.update(ex.timing)
    return out


def _untimed(respond: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in respond.items() if k not in TIMING_KEYS}


def _unshadowed(rules: list[dict[str, Any]], rule_of: list[int], exchanges: list[Exchange]) -> list[int]:
    """The rules' order, checked with fakellm's own matcher: a rule that would answer an earlier rule's
    request moves behind it. (Distinctive needles make that rare: an answer recorded twice over.)"""
    order = list(range(len(rules)))
    for _ in range(len(rules)):
        compiled = compile_rules(config_from_data({"rules": [{"when": rules[i]["when"],
                                                             "respond": [{"content": ""}]} for i in order]}))
        moved = False
        for ex, own in zip(exchanges, rule_of, strict=True):
            ctx = MatchContext(ex.request, ex.turn)
            first = next((k for k, rule in enumerate(compiled) if rule.matches(ctx)), None)
            mine = order.index(own)
            if first is not None and first < mine:
                order.insert(first, order.pop(mine))
                moved = True
                break
        if not moved:
            break
    return order


def _name(n: int, when: dict[str, Any]) -> str:
    needle = when.get("messages_contain") or when.get("tool_result_contains") or ""
    short = needle if len(needle) <= 40 else needle[:40].rstrip() + "..."
    return f"recorded {n}: turn {when['turn']}" + (f", {short}" if short else "")


def _glob_literal(model: str) -> str:
    """`model_matches` is a glob: its special characters match themselves in brackets."""
    return re.sub(r"([*?\[])", r"[\1]", model)


class _Dumper(yaml.SafeDumper):
    """Readable YAML: text with line breaks as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value and not value.startswith((" ", "\t")) and all(c.isprintable() or c == "\n" for c in value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)
