"""Rendering `respond.template` with a request as data, within limits.

The environment and the checks made at config load are config/templates.py's. Here: the data a
template sees (plain dicts, lists and strings, nothing of fakellm's own objects), and rendering
that turns every failure into a `TemplateFailed` with a one-line message, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SecurityError

from ..config.templates import MAX_OUTPUT_CHARS, MAX_RANGE_ITEMS, environment
from ..model import Request

__all__ = ["TemplateFailed", "compile_template", "render", "template_data"]


class TemplateFailed(Exception):
    """A template could not be rendered for this request; the message says why (and where)."""


def compile_template(source: str) -> Template:
    """Compile once, at config load (the config checked the syntax already)."""
    return environment().from_string(source)


def template_data(request: Request, turn: int, conversation_id: str, tool_results: list[str]) -> dict[str, Any]:
    """The names a template sees (config.templates.DATA_NAMES)."""
    messages = [
        {
            "role": m.role,
            "content": m.text,
            "tool_calls": [{"name": c.name, "arguments": _arguments(c.arguments)} for c in m.tool_calls],
            "tool_results": list(m.tool_results),
        }
        for m in request.messages
    ]
    last_user = next((m.text for m in reversed(request.messages) if m.role == "user" and m.text), "")
    # The sandbox is immutable: the body and headers cannot be changed by a template, so they are
    # given as they are.
    return {
        "model": request.model,
        "messages": messages,
        "last_user_message": last_user,
        "turn": turn,
        "conversation_id": conversation_id,
        "tool_results": list(tool_results),
        "headers": request.headers,
        "request": request.body,
        "range": _RangeBudget().range,
    }


def _arguments(text: str) -> Any:
    """A call's arguments as data (`call.arguments.city`), or the text when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class _RangeBudget:
    """`range` for one rendering: every call draws on one allowance, so nested loops stay short."""

    def __init__(self) -> None:
        self.left = MAX_RANGE_ITEMS

    def range(self, *args: int) -> range:
        items = range(*args)
        self.left -= len(items)
        if self.left < 0:
            raise SecurityError(f"the template's ranges together go past {MAX_RANGE_ITEMS} items")
        return items


def render(template: Template, data: dict[str, Any]) -> str:
    """The template's text for `data`. Raises TemplateFailed for any error, or for output longer
    than MAX_OUTPUT_CHARS (checked as it is produced, so a runaway loop stops there)."""
    parts: list[str] = []
    size = 0
    try:
        for part in template.generate(data):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateFailed(f"the output is longer than {MAX_OUTPUT_CHARS} characters")
            parts.append(part)
    except TemplateFailed:
        raise
    except Exception as e:  # whatever a template does wrong is its author's to read, not a crash
        raise TemplateFailed(_describe(e)) from None
    return "".join(parts)


def _describe(error: Exception) -> str:
    """`line 2: 'usr' is undefined`: the template's line (Jinja puts it in the traceback), the error."""
    message = str(error) or type(error).__name__
    if not error.__class__.__module__.startswith("jinja2"):
        message = f"{type(error).__name__}: {message}"  # ZeroDivisionError, TypeError: say which
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"line {line}: {message}" if line is not None else message
