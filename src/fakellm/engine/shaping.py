"""What a request's schemas and tool choice make of an answer.

Real APIs keep some promises whatever the model would rather say: a forced tool (`tool_choice`
naming a function or `required`, Anthropic's `any`/`tool`, Gemini's mode ANY) gives a call and
no text; a JSON schema (`response_format`, `text.format`, `output_config.format`,
`responseSchema`) gives text valid against it. fakellm keeps them too, so that code relying on
them (instructor, pydantic-ai, `chat.completions.parse`) works against any rule and against the
fallback. A rule's call of the forced tool is kept and whatever else it says is set aside, with
a journal note. Arguments a rule leaves out, and the text of an answer that gives none, are made
from the request's schemas (engine/schemas.py): the same schema gives the same value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ..model import Request, ToolCall
from .answers import Answer
from .schemas import SchemaUnsupported, instance_for, validation_errors


class ShapeError(Exception):
    """An answer the request's schemas rule out: the engine sends it as an error, not as a reply."""


@dataclass(slots=True)
class Shaped:
    content: str | None
    calls: list[ToolCall]
    notes: tuple[str, ...]


def needs_shaping(request: Request, answer: Answer) -> bool:
    """Whether `shape` can change anything: most requests and answers skip it."""
    return answer.shaped or request.output is not None or (
        request.tool_choice is not None and request.tool_choice.forces_call)


def shape(request: Request, answer: Answer, content: str | None, rule: str | None, echo: Callable[[], str]) -> Shaped:
    """The answer's text (`content`: fixed, or rendered from its template) and tool calls as the request's
    tool choice and schemas demand.

    `echo` gives the fallback text, for a JSON object when the request asks for one and nothing says
    what it holds. Raises ShapeError for what cannot be answered.
    """
    notes: list[str] = []
    schemas = request.tool_schemas or {}
    calls: list[tuple[str, str | None, str]] = list(answer.tool_calls)
    who = f"rule {rule!r}" if rule is not None else "the fallback"
    if answer.auto_tool:
        name = _chosen_tool(request)
        if name is None:
            raise ShapeError(f"{who} answers `tool_calls: auto`, but the request offers no function tools")
        calls = [(name, None, "")]

    choice = request.tool_choice
    if choice is not None and choice.forces_call and schemas:
        forced = choice.name if choice.mode == "tool" else None
        if forced is not None:
            kept = [c for c in calls if c[0] == forced]
            if len(kept) < len(calls):
                notes.append(f"{who}'s calls of {_names(c[0] for c in calls if c[0] != forced)} were set aside: "
                             f"the request forces a call of {forced!r}")
            calls = kept
        if not calls:
            calls = [(forced or choice.name or next(iter(schemas)), None, "")]
        if content is not None:
            if rule is not None:
                notes.append(f"{who}'s text was set aside: the request forces a tool call "
                             f"({'of ' + repr(forced) if forced else 'any tool'}), and then the API sends no text")
            content = None

    made = [ToolCall(name, _arguments(name, schemas.get(name)) if arguments is None else arguments, call_id)
            for name, arguments, call_id in calls]

    fmt = request.output
    if fmt is not None and not made:
        if content is None:
            if fmt.schema is None:  # any JSON object: one that follows a schema the prompt gives, if it gives one
                content = _dump(_prompted_instance(request) or {"response": echo()})
            else:
                content = _dump(_instance(fmt.schema, fmt.name, "a reply"))
        elif answer.json is not None and fmt.schema is not None:
            errors = validation_errors(fmt.schema, answer.json)
            if errors:
                named = f" {fmt.name!r}" if fmt.name else ""
                problem = (f"{who}'s respond.json does not match the request's schema{named}: "
                           + "; ".join(errors))
                if fmt.strict:
                    raise ShapeError(problem + " (the request asks for a strict schema)")
                notes.append(problem + " (sent anyway: the schema is not strict)")
    return Shaped(content, made, tuple(notes))


_SCHEMA_KEYS = ("properties", "$defs", "anyOf", "oneOf", "items")
_MAX_PROMPT_SCAN = 200_000  # characters of instructions searched for a schema
_MAX_TRIES = 64  # JSON texts tried


def _prompted_instance(request: Request) -> Any:
    """JSON mode with the schema in the instructions (instructor's JSON mode, and many apps, put it in
    the system prompt): an instance of the last JSON Schema found there, or None."""
    decoder = json.JSONDecoder()
    for message in reversed(request.messages):
        if message.role not in ("system", "developer") or "{" not in message.text:
            continue
        text = message.text[:_MAX_PROMPT_SCAN]
        at, tries = text.find("{"), 0
        while at >= 0 and tries < _MAX_TRIES:
            tries += 1
            try:
                value, end = decoder.raw_decode(text, at)
            except ValueError:
                at = text.find("{", at + 1)
                continue
            if isinstance(value, dict) and any(key in value for key in _SCHEMA_KEYS):
                try:
                    return instance_for(value, str(value.get("title", "")))
                except SchemaUnsupported:
                    return None
            at = text.find("{", end)
    return None


def _chosen_tool(request: Request) -> str | None:
    """The tool `tool_calls: auto` calls: the one the request's tool choice names, else the first it offers."""
    choice = request.tool_choice
    if choice is not None and choice.name:
        return choice.name
    schemas = request.tool_schemas
    return next(iter(schemas)) if schemas else None


def _arguments(name: str, schema: Any) -> str:
    if schema is None:  # a tool the request does not offer (the rule names it): nothing to go by
        return "{}"
    return _dump(_instance(schema, name, f"arguments for tool {name!r}"))


def _instance(schema: Any, seed: str, what: str) -> Any:
    try:
        return instance_for(schema, seed)
    except SchemaUnsupported as e:
        raise ShapeError(f"fakellm cannot make {what} valid against the request's schema: {e}") from None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _names(names: Any) -> str:
    return ", ".join(repr(n) for n in dict.fromkeys(names))
