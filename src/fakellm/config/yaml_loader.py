"""Config text -> plain data and the position of every value, within bounds.

PyYAML on its own expands aliases in full (a few hundred bytes of "billion laughs" become a
billion values), recurses once per nesting level (a deep document is a RecursionError), and
raises plain exceptions for characters and values it cannot read. Here each of those is a
reported problem with its line and column, found before the document is built:

- aliases may add at most MAX_ALIAS_VALUES values to the document in all, and may not
  refer to a node that contains them (a recursive document);
- nesting stops at MAX_DEPTH levels;
- bytes that are not UTF-8, control characters, and values that cannot be built (a
  5,000-digit integer, a 13th month) are problems like any other.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

from .problems import ConfigError, Problem, position_of

try:  # libyaml reads the text about three times faster; the events and positions are the same
    from yaml.cyaml import CParser

    _PARSER: tuple[type, ...] = (CParser,)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    _PARSER = (Reader, Scanner, Parser)

# A config nests about eight levels (rules, a rule, respond, tool_calls, a call, arguments, ...);
# the rest is room for deep tool-call arguments.
MAX_DEPTH = 100
# Values that aliases may add to a document, in all: plenty for anchors that share a `respond`
# block between rules, and a few tenths of a second of validation at most.
MAX_ALIAS_VALUES = 100_000

# What YAML does not allow in a stream: C0 and C1 controls (but tab, LF, CR and NEL), surrogates,
# U+FFFE and U+FFFF (PyYAML's own test, done here first to say where and what).
_NOT_ALLOWED = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


class _Refused(yaml.MarkedYAMLError):
    """A document fakellm will not build; reported like a YAML error, at the mark."""

    def __init__(self, message: str, mark: Any):
        super().__init__(problem=message, problem_mark=mark)


class _Bounded:
    """Composer and constructor hooks that keep a document within bounds (see the module docstring)."""

    def _start_bounds(self) -> None:
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._alias_values = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self._open_anchors:
                raise _Refused(f"alias *{event.anchor} refers to a value that contains it; "
                               f"a config cannot be recursive", event.start_mark)
            node = super().compose_node(parent, index)
            self._alias_values += _expanded_size(node, self._sizes, MAX_ALIAS_VALUES - self._alias_values)
            if self._alias_values > MAX_ALIAS_VALUES:
                raise _Refused(f"aliases expand to more than {MAX_ALIAS_VALUES:,} values; fakellm does not "
                               f"expand more (write the values out, or share fewer of them)", event.start_mark)
            return node
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"the config nests more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = event.anchor
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as e:  # int("9" * 5000), date(2026, 13, 1), `!!int ""` (an IndexError), ...
            raise ConstructorError(None, None, f"cannot read this value ({type(e).__name__}: {e})",
                                   node.start_mark) from None
        if type(value) is int and not -(2**63) <= value < 2**64:  # what JSON (orjson) can carry
            raise _Refused(f"the integer {value} does not fit in 64 bits", node.start_mark)
        return value


class _Loader(_Bounded, Composer, *_PARSER, SafeConstructor, Resolver):
    def __init__(self, text: str):
        _PARSER[0].__init__(self, text)  # CParser, or Reader (then Scanner and Parser, which take nothing)
        for part in _PARSER[1:]:
            part.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._start_bounds()


def _expanded_size(node: Any, sizes: dict[int, int], budget: int) -> int:
    """How many values `node` stands for with its aliases expanded, counting at most past `budget`.

    Iterative and memoized by node: a node shared by many aliases is walked once.
    """
    if id(node) in sizes:
        return sizes[id(node)]
    stack = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in sizes:
            continue
        children = _children(current)
        if children_done:
            total = 1
            for child in children:
                total += sizes[id(child)]
                if total > budget:
                    break
            sizes[id(current)] = min(total, budget + 1)
        else:
            stack.append((current, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(node)]


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def decode(raw: bytes, source: str) -> str:
    """Config bytes as text: UTF-8 (a byte order mark is allowed), else a problem at the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = len(raw[raw.rfind(b"\n", 0, e.start) + 1:e.start].decode("utf-8", "replace")) + 1
        raise ConfigError([Problem(source, line, col, f"the config is not UTF-8 text: byte 0x{raw[e.start]:02x} "
                                                      f"cannot be read (save the file as UTF-8)")]) from None


def load_yaml(text: str, source: str) -> tuple[Any, dict[tuple, tuple[int, int]]]:
    """The document's data (None when empty) and where each value and key stands, by path."""
    bad = _NOT_ALLOWED.search(text)
    if bad is not None:
        line, col = position_of(text, bad.start())
        code = ord(bad.group())
        raise ConfigError([Problem(source, line, col, f"the character U+{code:04X} is not allowed in a config "
                                                      f"(inside a double-quoted string, write it as \\u{code:04x})")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        marks: dict[tuple, tuple[int, int]] = {}
        problems: list[Problem] = []
        _collect_marks(loader, node, (), marks, problems, source)
        if problems:
            raise ConfigError(problems)
        data = loader.construct_document(node)
    except _Refused as e:
        mark = e.problem_mark
        raise ConfigError([Problem(source, mark.line + 1, mark.column + 1, e.problem)]) from None
    except yaml.MarkedYAMLError as e:
        raise ConfigError([_syntax_problem(e, source)]) from None
    except yaml.YAMLError as e:
        raise ConfigError([Problem(source, None, None, f"invalid YAML: {e}")]) from None
    finally:
        loader.dispose()
    return data, marks


# Contexts that start where the mistake is (a bracket or quote left open, a key without its colon): the
# parser notices only later, often at the end of the file, so the problem is shown at the context's start.
_OPENERS = ("while parsing a flow sequence", "while parsing a flow mapping", "while scanning a quoted scalar",
            "while scanning a simple key")


def _syntax_problem(e: yaml.MarkedYAMLError, source: str) -> Problem:
    """The parser's own words, with its context ("while parsing a flow mapping (line 3, column 11): did
    not find expected ',' or '}' (line 5, column 1)"), placed at the line the mistake is on."""
    problem, context = e.problem or e.context, e.context if e.problem else None
    at, context_at = e.problem_mark, e.context_mark if e.problem else None
    same_place = at is not None and context_at is not None and _where(at) == _where(context_at)
    text = f"{problem} ({_where(at)})" if context and at is not None and not same_place else str(problem)
    if context:
        text = f"{context}{f' ({_where(context_at)})' if context_at is not None else ''}: {text}"
    place = context_at if context and context_at is not None and context.startswith(_OPENERS) else at or context_at
    if context and context.startswith(_OPENERS[:2]):
        text += " (is a [ or { left open?)"
    elif context and context.startswith("while scanning a quoted scalar"):
        text += " (is a quote left open?)"
    line, col = (place.line + 1, place.column + 1) if place is not None else (None, None)
    return Problem(source, line, col, f"invalid YAML: {text}")


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _collect_marks(loader: Any, node: Any, path: tuple, marks: dict, problems: list[Problem], source: str) -> None:
    """Record the line/column of every key and value, keyed by its path; a repeated key is a problem
    (a silent overwrite hides typos). The walk is bounded: nesting and aliases were bounded while composing."""
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                problems.append(Problem(source, line, col, f"duplicate key {key!r}"))
            seen.add(key)
            marks[path + (("key", key),)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(loader, value_node, path + (key,), marks, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_marks(loader, item, path + (i,), marks, problems, source)
