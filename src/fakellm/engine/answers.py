"""A rule's `respond` compiled once: everything about its reply that no request changes.

The engine turns an `Answer` and a request into a `Reply`. Work that depends only
on the config (tool-call arguments as JSON text, lower-cased header names, the
error object, token counts of fixed text) happens here, at config load, instead
of on every request.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..config.schema import RespondSpec
from ..model import STOP, TOOL_CALLS, ErrorInfo


class Answer:
    """One `respond` entry of a rule (or the fallback's, with `spec` None)."""

    __slots__ = ("spec", "status", "error", "content", "json", "tool_calls", "auto_tool", "shaped", "thinking",
                 "finish_reason", "finish_override", "headers", "usage", "embedding", "template", "_fixed_tokens")

    def __init__(self, spec: RespondSpec | None, rule_name: str | None = None):
        self.spec = spec
        if spec is None:
            self.status, self.error, self.content, self.thinking = 200, None, None, None
            self.json = None
            self.tool_calls: tuple[tuple[str, str | None, str], ...] = ()
            self.auto_tool = False
            self.finish_reason = STOP
            self.finish_override = None
            self.headers: dict[str, str] = {}
            self.usage: tuple[tuple[str, int], ...] = ()
            self.embedding = None
            self.template = None
        else:
            self.status = spec.status
            self.error = _error(spec, rule_name) if spec.status >= 400 else None
            self.content = spec.content
            self.json = spec.json_
            if spec.json_ is not None:
                self.content = json.dumps(spec.json_, ensure_ascii=False, separators=(",", ":"))
            # (name, arguments as JSON text or None to generate them, id or ""): fresh ToolCall objects are
            # made per reply, because the server fills in the ids it sends.
            self.auto_tool = spec.tool_calls == "auto"
            self.tool_calls = () if self.auto_tool else tuple(
                (tc.name, _arguments_text(tc.arguments), tc.id or "") for tc in spec.tool_calls or ()
            )
            self.thinking = spec.thinking
            self.finish_reason = TOOL_CALLS if self.tool_calls or self.auto_tool else STOP
            self.finish_override = spec.finish_reason  # wins over stop sequences and max_tokens too
            self.headers = {k.lower(): str(v) for k, v in spec.headers.items()}
            self.usage = tuple(spec.usage.model_dump(exclude_none=True).items()) if spec.usage is not None else ()
            self.embedding = spec.embedding
            # A compiled Jinja2 template that renders the content per request (engine/templates.py).
            self.template = _compiled(spec.template) if spec.template is not None else None
        # Whether the request's schemas and tool choice can change this answer (engine/shaping.py): only
        # then is the reply shaped, and an answer with fixed text and no schema in sight skips it.
        self.shaped = self.auto_tool or any(arguments is None for _, arguments, _ in self.tool_calls)
        # counter -> tokens of the tool calls, and of the thinking text
        self._fixed_tokens: dict[Callable[[str], int], tuple[int, int]] = {}

    def fixed_tokens(self, count: Callable[[str], int], with_thinking: bool) -> int:
        """Output tokens of the parts no request limit cuts: tool calls, and thinking when it is on."""
        if not self.tool_calls and self.thinking is None:
            return 0
        known = self._fixed_tokens.get(count)
        if known is None:
            calls = sum(count(name) + count(arguments) for name, arguments, _ in self.tool_calls)
            known = self._fixed_tokens[count] = (calls, count(self.thinking) if self.thinking else 0)
        return known[0] + known[1] if with_thinking else known[0]


def _compiled(source: str) -> Any:
    from .templates import compile_template  # Jinja2 is imported only by configs that use templates

    return compile_template(source)


def _arguments_text(arguments: dict | str | None) -> str | None:
    if arguments is None or isinstance(arguments, str):
        return arguments
    return json.dumps(arguments)


def _error(spec: RespondSpec, rule_name: str | None) -> ErrorInfo:
    err = spec.error
    if isinstance(err, str) or err is None:
        return ErrorInfo(message=err or f"fakellm rule {rule_name!r} answered with status {spec.status}")
    return ErrorInfo(message=err.message, type=err.type, code=None if err.code is None else str(err.code),
                     param=err.param)


FALLBACK = Answer(None)
