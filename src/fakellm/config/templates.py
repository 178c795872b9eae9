"""`respond.template`: the template language, and what a config load checks of a template.

A template is Jinja2 in an immutable sandbox: attributes starting with `_` and Python's internal
attributes are out of reach, lists and dicts given as data cannot be changed, and there is no
loader, so a template cannot read a file. Output is plain text (no HTML escaping), and a misspelt
variable is an error rather than an empty string. The engine renders (engine/templates.py); this
module defines the environment both use, so a template checked here compiles the same there.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .problems import did_you_mean

__all__ = ["DATA_NAMES", "MAX_OUTPUT_CHARS", "MAX_RANGE_ITEMS", "TemplateEnvironment", "environment",
           "template_problem"]

# What a template sees of the request (engine/templates.py builds them).
DATA_NAMES = ("model", "messages", "last_user_message", "turn", "conversation_id", "tool_results", "headers",
              "request")

# A rendering that grows past this many characters fails instead of filling memory.
MAX_OUTPUT_CHARS = 1024 * 1024
# All `range()` calls of one rendering together, so that nested loops cannot run for hours.
MAX_RANGE_ITEMS = 100_000
# Integers a template computes stay below this many bits (`10 ** 1000000000` would run for minutes).
_MAX_INT_BITS = 64 * 1024


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*`, `**` and `+`, string methods and padding filters checked so that one
    expression cannot build a huge value."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and _is_int(left) and _is_int(right) and right > 0:
            if max(abs(left).bit_length() - 1, 1) * right > _MAX_INT_BITS:
                raise SecurityError(f"{left} ** {right} is too large for a template")
        elif op == "*":
            _check_product(left, right)
        elif op == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, type(left)):
            if len(left) + len(right) > MAX_OUTPUT_CHARS:
                raise SecurityError(f"the sum would be longer than {MAX_OUTPUT_CHARS} items")
        return _BINOPS[op](left, right)


    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's own parameter names
        if isinstance(getattr(__obj, "__self__", None), str):  # 'x'.rjust(10 ** 9), 'x'.zfill(...)
            _check_sizes(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


_BINOPS = {"*": operator.mul, "**": operator.pow, "+": operator.add}
# Filters whose numbers are widths of the text they make.
_PADDING_FILTERS = ("center", "indent", "wordwrap", "truncate")


def _check_sizes(args: tuple, kwargs: dict[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if _is_int(value) and value > MAX_OUTPUT_CHARS:
            raise SecurityError(f"{value} is larger than a template's output may be ({MAX_OUTPUT_CHARS})")


def _size_checked(filter_: Any) -> Any:
    @functools.wraps(filter_)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_sizes(args, kwargs)
        return filter_(*args, **kwargs)

    return checked


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
            raise SecurityError("the product is too large for a template")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and _is_int(times) and len(seq) * times > MAX_OUTPUT_CHARS:
            raise SecurityError(f"repeating {len(seq)} items {times} times would exceed {MAX_OUTPUT_CHARS}")


@functools.cache
def environment() -> TemplateEnvironment:
    """The one environment templates are parsed and compiled in (built once, never changed after)."""
    env = TemplateEnvironment(autoescape=False, undefined=StrictUndefined, loader=None, keep_trailing_newline=True)
    # lipsum(n) writes n paragraphs: an easy way to fill memory, and no use in a reply.
    env.globals.pop("lipsum", None)
    for name in _PADDING_FILTERS:
        env.filters[name] = _size_checked(env.filters[name])
    return env


_FILE_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def template_problem(source: str) -> str | None:
    """What is wrong with a template, or None: its syntax, a file it would read, a variable that
    is not among the data (it would fail every request, as undefined variables are errors)."""
    env = environment()
    try:
        ast = env.parse(source)
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as e:
        return f"invalid template: {e.message}{_at_line(source, e.lineno)}"
    for node in ast.find_all(_FILE_NODES):
        keyword = type(node).__name__.lower().replace("fromimport", "from ... import")
        return (f"templates cannot use {{% {keyword} %}}{_at_line(source, node.lineno)}: they have no files "
                f"to read; write the text into the template")
    unknown = sorted(undeclared - set(DATA_NAMES))
    if unknown:
        names = ", ".join(f"{name!r}{did_you_mean(name, [*DATA_NAMES, *env.globals])}" for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        return f"unknown variable{plural} {names} in the template; known: {', '.join(DATA_NAMES)}"
    return None


def _at_line(source: str, lineno: int) -> str:
    lines = source.splitlines()
    if 1 <= lineno <= len(lines):
        return f" (line {lineno} of the template: {lines[lineno - 1].strip()!r})"
    return f" (line {lineno} of the template)"
