"""Config: YAML (or a dict) -> validated spec -> compiled rules.

Validation happens once, at load time, with pydantic. Every problem is reported
at once as `file:line:col: message`, with a "did you mean" for misspelled keys.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .problems import ConfigError, Problem
from .problems import did_you_mean as _did_you_mean
from .yaml_loader import decode, load_yaml

__all__ = ["Config", "ConfigError", "ConfigSpec", "Problem", "check_apis", "config_from_data", "load_config",
           "parse_config", "parse_config_bytes"]

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024

# Upper bounds of numbers. Past them a value is a typo, and it would overflow what it reaches: a
# C integer (the journal's size), a client's 32-bit field (token counts), JSON's exact integers, a timer.
INT32 = 2**31 - 1
JSON_INT = 2**53 - 1
MAX_DELAY_MS = 3_600_000  # an hour
MAX_BYTES = 2**30

# RFC 9110 field names (tokens) and the field values fakellm will send: visible ASCII, spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")

# The roles a request's messages can have, whatever the provider calls them.
MESSAGE_ROLES = ("user", "assistant", "system", "developer", "tool", "function")


# Headers that say how the response is framed on the wire: a rule setting them would break it.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})

# `openai` or `openai.chat`: a family, or one of its endpoints.
_API_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")


class _Strict(BaseModel):
    # strict: `turn: "2"`, `turn: true` and `cycle: "yes"` are type errors, not quietly converted.
    model_config = ConfigDict(extra="forbid", strict=True)


class ToolCallSpec(_Strict):
    name: str
    # None (not given): generated from the tool's schema in the request (`{}` when it offers none).
    arguments: Union[dict[str, Any], str, None] = None
    id: str | None = None

    @field_validator("arguments")
    @classmethod
    def _json_object_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                value = json.loads(v)
            except ValueError as e:
                raise ValueError(f"arguments given as a string must be JSON text ({e})") from None
            if not isinstance(value, dict):
                raise ValueError(f"arguments must be a JSON object, got {_kind(value)}")
        else:
            _check_json(v)
        return v


class ErrorSpec(_Strict):
    message: str
    type: str | None = None
    code: Union[str, Annotated[int, Field(ge=-INT32 - 1, le=INT32)], None] = None
    param: str | None = None


class UsageSpec(_Strict):
    input_tokens: int | None = Field(default=None, ge=0, le=INT32)
    output_tokens: int | None = Field(default=None, ge=0, le=INT32)
    cached_tokens: int | None = Field(default=None, ge=0, le=INT32)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0, le=INT32)
    reasoning_tokens: int | None = Field(default=None, ge=0, le=INT32)


def _check_json(value: Any) -> None:
    """A value fakellm sends as JSON (and shows in GET /_fakellm/config) must be JSON: no dates, bytes
    or sets (YAML can write them), no NaN or infinity, integers within 64 bits."""
    try:
        json.dumps(value, allow_nan=False)
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError, orjson.JSONEncodeError) as e:
        raise ValueError(f"must be JSON ({e}); quote the value to send it as a string") from None


def _number(v: Any) -> Any:
    """YAML `true` and `"500"` are mistakes in a delay, not numbers."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {_kind(v)}")
    return v


class TimingSpec(_Strict):
    """Timing keys, shared by `respond` and `defaults` (see delivery.py). Unset means 0 / token-sized."""

    delay_ms: float | None = Field(default=None, ge=0, le=MAX_DELAY_MS)
    ttft_ms: float | None = Field(default=None, ge=0, le=MAX_DELAY_MS)
    chunk_delay_ms: float | None = Field(default=None, ge=0, le=MAX_DELAY_MS)
    tokens_per_second: float | None = Field(default=None, gt=0, le=1e9)
    jitter: float | None = Field(default=None, ge=0, le=1)
    chunk_size: int | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("delay_ms", "ttft_ms", "chunk_delay_ms", "tokens_per_second", "jitter", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        return v if v is None else _number(v)

    @model_validator(mode="after")
    def _one_pace(self) -> TimingSpec:
        if self.chunk_delay_ms is not None and self.tokens_per_second is not None:
            raise ValueError("give chunk_delay_ms or tokens_per_second, not both")
        return self


FAULT_TYPES = ("disconnect", "truncate", "malformed", "error_event", "hang", "empty")


class FaultSpec(_Strict):
    """`respond.fault`: what goes wrong on the wire (delivery.py documents each type)."""

    type: str
    after_chunks: int | None = Field(default=None, ge=0, le=INT32)
    # error_event only: the error sent mid-stream (or as the response, when not streaming).
    status: int | None = Field(default=None, ge=400, le=599)
    error: Union[str, ErrorSpec, None] = None

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in FAULT_TYPES:
            raise ValueError(f"unknown fault {v!r}{_did_you_mean(v, FAULT_TYPES)}; known: {', '.join(FAULT_TYPES)}")
        return v

    @model_validator(mode="after")
    def _applies(self) -> FaultSpec:
        if self.type != "error_event" and (self.status is not None or self.error is not None):
            raise ValueError(f"status and error apply only to the error_event fault, not {self.type}")
        if self.type == "empty" and self.after_chunks is not None:
            raise ValueError("after_chunks does not apply to the empty fault")
        return self


class RateLimitSpec(_Strict):
    """`rate_limit` under `defaults` or on a rule: token buckets (see ratelimit.py)."""

    requests_per_minute: int | None = Field(default=None, ge=1, le=INT32)
    tokens_per_minute: int | None = Field(default=None, ge=1, le=INT32)
    per: Literal["api_key", "global"] = "api_key"
    # The buckets hold this many seconds' worth of the limit (60: a whole minute's quota at once).
    burst_s: float = Field(default=60, gt=0, le=60)

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitSpec:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("rate_limit needs requests_per_minute, tokens_per_minute, or both")
        return self


class RespondSpec(TimingSpec):
    content: str | None = None
    # Jinja2 rendered with the request as data, instead of `content` (config/templates.py).
    template: str | None = None
    # A JSON value sent as the content (serialized); checked against the request's schema, if it has one.
    json_: Any = Field(default=None, alias="json")
    # `auto`: call the tool the request forces, or the first it offers, with arguments from its schema.
    tool_calls: Union[list[ToolCallSpec], Literal["auto"], None] = None
    thinking: str | None = None
    # 1xx is not a final response (an HTTP client fails on it): 200 to 599 only.
    status: int = Field(default=200, ge=200, le=599)
    error: Union[str, ErrorSpec, None] = None
    headers: dict[str, Union[str, int, float]] = Field(default_factory=dict)
    finish_reason: str | None = None
    usage: UsageSpec | None = None
    fault: FaultSpec | None = None
    # Embeddings: one vector for every input, or one vector per input.
    embedding: Union[list[float], list[list[float]], None] = None

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _calls_or_auto(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "auto":
            raise ValueError(f"tool_calls must be a list of tool calls ({{name, arguments}}) or `auto`, got {v!r}")
        return v

    @field_validator("json_")
    @classmethod
    def _json_value(cls, v: Any) -> Any:
        _check_json(v)
        return v

    @model_validator(mode="after")
    def _one_text(self) -> RespondSpec:
        if self.json_ is not None and (self.content is not None or self.template is not None):
            raise ValueError(f"give {'content' if self.content is not None else 'template'} or json, not both "
                             f"(json is sent as the content)")
        return self

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, v: dict[str, Any]) -> dict[str, Any]:
        # Checked here, not when a request is already being answered (a 500 there, or an injected header).
        for name, value in v.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in FRAMING_HEADERS:
                raise ValueError(f"header {name} cannot be set: fakellm frames the response itself "
                                 f"({', '.join(sorted(FRAMING_HEADERS))} would break it)")
            if isinstance(value, int) and not -(2**63) <= value < 2**64:
                raise ValueError(f"header {name}: the number {value} is too large")
            if isinstance(value, str) and not _HEADER_VALUE.fullmatch(value):
                raise ValueError(f"header {name}: the value must be printable ASCII on one line, got {value!r}")
        return v

    @field_validator("template")
    @classmethod
    def _valid_template(cls, v: str | None) -> str | None:
        if v is not None:
            from .templates import template_problem  # Jinja2 is imported only by configs that use it

            problem = template_problem(v)
            if problem is not None:
                raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _template_alone(self) -> RespondSpec:
        if self.template is not None:
            for other in ("content", "embedding"):
                if getattr(self, other) is not None:
                    raise ValueError(f"give template or {other}, not both: the template renders the content")
        return self

    @field_validator("fault", mode="before")
    @classmethod
    def _fault_name(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"type": v}
        if v is not None and not isinstance(v, dict):
            raise ValueError(f"fault must be a fault name ({', '.join(FAULT_TYPES)}) or a mapping "
                             f"{{type, after_chunks, ...}}, got {_kind(v)}")
        return v

    @field_validator("embedding", mode="before")
    @classmethod
    def _vectors(cls, v: Any) -> Any:
        if v is None:
            return v
        if _is_vector(v):
            return v
        if isinstance(v, list) and v and all(_is_vector(x) for x in v):
            if len({len(x) for x in v}) > 1:
                raise ValueError("every vector in embedding must have the same length")
            return v
        raise ValueError("embedding must be a non-empty list of (finite) numbers, or a list of such lists "
                         "(one per input)")


def _is_vector(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v
    )


class WhenSpec(_Strict):
    messages_contain: str | None = None
    messages_match: str | None = None
    model_matches: str | None = None
    tools_include: str | None = None
    turn: int | None = Field(default=None, ge=1, le=INT32)
    turn_in: list[Annotated[int, Field(ge=0, le=INT32)]] | None = None
    previous_message_role: str | None = None
    previous_message_contains: str | None = None
    tool_result_contains: str | None = None
    system_contains: str | None = None
    last_message_contains: str | None = None
    api: str | None = None
    # Filled from the `header.<name>: value` keys; not written directly.
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_headers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        headers: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.lower().startswith("header."):
                if not key[7:]:
                    raise ValueError("`header.` needs a header name, e.g. `header.x-test-scenario: rate_limit`")
                if isinstance(value, (list, dict)) or value is None:
                    raise ValueError(f"{key}: expected a string, got {_kind(value)}")
                # A YAML number is the header's text (0.3.5 did the same).
                headers[key[7:].lower()] = value if isinstance(value, str) else str(value)
            else:
                out[key] = value
        if headers:
            out["headers"] = headers
        return out

    @field_validator("turn_in", mode="before")
    @classmethod
    def _tuple_is_a_pair(cls, v: Any) -> Any:
        # Python configs naturally write (low, high).
        return list(v) if isinstance(v, tuple) else v

    @field_validator("previous_message_role")
    @classmethod
    def _known_role(cls, v: str | None) -> str | None:
        if v is not None and v not in MESSAGE_ROLES:
            raise ValueError(f"unknown role {v!r}{_did_you_mean(v, MESSAGE_ROLES)}; "
                             f"known: {', '.join(MESSAGE_ROLES)}")
        return v

    @field_validator("turn_in")
    @classmethod
    def _pair(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if len(v) != 2:
            raise ValueError("turn_in must be a [low, high] pair")
        if v[0] > v[1]:
            raise ValueError(f"turn_in low ({v[0]}) is greater than high ({v[1]})")
        return v

    @field_validator("api")
    @classmethod
    def _api_name(cls, v: str | None) -> str | None:
        # Which names exist is the providers' to say: `check_apis`, when the server takes the config.
        if v is not None and _API_NAME.fullmatch(v) is None:
            raise ValueError(f"api {v!r} is not an API name: a family (`openai`) or an endpoint (`openai.chat`)")
        return v

    @field_validator("messages_match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            import re

            try:
                re.compile(v)
            except (re.error, OverflowError, RecursionError) as e:  # a{4294967296}, 10,000 nested groups
                raise ValueError(f"messages_match is not a valid regular expression: {e}") from None
        return v


class RuleSpec(_Strict):
    name: str | None = None
    when: WhenSpec | None = None
    respond: list[RespondSpec] = Field(default_factory=lambda: [RespondSpec()])
    times: int | None = Field(default=None, ge=1, le=INT32)
    cycle: bool = False
    # The rule fires on a matching request with this chance (seeded by defaults.seed).
    probability: float | None = Field(default=None, ge=0, le=1)
    rate_limit: RateLimitSpec | None = None

    @field_validator("probability", mode="before")
    @classmethod
    def _chance(cls, v: Any) -> Any:
        return v if v is None else _number(v)

    @field_validator("respond", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if v is None:
            return [{}]
        if isinstance(v, dict):
            return [v]
        if isinstance(v, list) and not v:
            raise ValueError("respond list must not be empty")
        return v


class ModelSpec(_Strict):
    """One entry of the top-level `models:` list (model listings, embedding sizes, token limits)."""

    id: str = Field(min_length=1)
    owned_by: str | None = None
    created: int | None = Field(default=None, ge=0, le=JSON_INT)
    display_name: str | None = None
    # Embedding models: the vector length when the request gives no `dimensions`.
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    input_token_limit: int | None = Field(default=None, ge=1, le=INT32)
    output_token_limit: int | None = Field(default=None, ge=1, le=INT32)
    # Limits the text APIs enforce: a request over them gets the provider's 400 (engine/limits.py).
    context_window: int | None = Field(default=None, ge=1, le=INT32)
    max_output_tokens: int | None = Field(default=None, ge=1, le=INT32)

    @field_validator("max_output_tokens")
    @classmethod
    def _fits_window(cls, v: int | None, info: ValidationInfo) -> int | None:
        # A field validator (not a model one) so the problem points at `max_output_tokens` itself.
        window = info.data.get("context_window")
        if v is not None and window is not None and v > window:
            raise ValueError(f"must not exceed context_window ({window}), got {v}")
        return v


class DefaultsSpec(TimingSpec):
    fallback: Literal["deterministic_echo", "error"] = "deterministic_echo"
    turns: Literal["messages", "requests"] = "messages"
    max_conversations: int = Field(default=10_000, ge=1, le=10_000_000)
    max_tool_results: int = Field(default=256, ge=1, le=1_000_000)
    journal_size: int = Field(default=1_000, ge=1, le=1_000_000)
    # Request bodies larger than this are not kept in the journal (its memory stays bounded in bytes).
    journal_body_bytes: int = Field(default=1024 * 1024, ge=0, le=MAX_BYTES)
    # All the journal's entries together (bodies, headers, replies): the oldest go first beyond it.
    journal_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024, le=MAX_BYTES)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=MAX_BYTES)
    max_responses: int = Field(default=10_000, ge=1, le=10_000_000)
    # Makes jitter and rule probabilities reproducible.
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    hang_limit_s: float = Field(default=600, ge=0, le=86_400)
    rate_limit: RateLimitSpec | None = None


class ConfigSpec(_Strict):
    version: int = Field(default=1, ge=1, le=INT32)
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    rules: list[RuleSpec] = Field(default_factory=list)
    # None: the built-in catalogue (see catalog.py).
    models: list[ModelSpec] | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _ids_or_mappings(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        for i, item in enumerate(v):
            if not isinstance(item, (str, dict)):
                raise ValueError(f"item {i} must be a model id (a string) or a mapping with an `id`, got {_kind(item)}")
            if item == "":
                raise ValueError(f"item {i}: a model id must not be empty")
        return [{"id": item} if isinstance(item, str) else item for item in v]

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, v: list[ModelSpec] | None) -> list[ModelSpec] | None:
        seen: set[str] = set()
        for model in v or ():
            if model.id in seen:
                raise ValueError(f"model {model.id!r} is listed twice")
            seen.add(model.id)
        return v

    @field_validator("defaults", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("rules", mode="before")
    @classmethod
    def _none_is_no_rules(cls, v: Any) -> Any:
        return [] if v is None else v


# --------------------------------------------------------------------------- the config


@dataclass
class Config:
    """A validated config: the spec plus where it came from."""

    spec: ConfigSpec
    source: str = "<config>"
    text: str | None = None  # the YAML/JSON text it was loaded from, if any
    warnings: list[Problem] = field(default_factory=list)
    # Where each key stood in the text, and the data as loaded: for problems found after validation.
    marks: dict[tuple, tuple[int, int]] = field(default_factory=dict, repr=False)
    data: Any = field(default=None, repr=False)

    @property
    def rules(self) -> list[RuleSpec]:
        return self.spec.rules

    @property
    def defaults(self) -> DefaultsSpec:
        return self.spec.defaults


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError with every problem."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, None, "config file not found")]) from None
    except (OSError, ValueError) as e:  # ValueError: a path with a NUL in it
        raise ConfigError([Problem(str(path), None, None, f"cannot read config: {e}")]) from None
    return parse_config_bytes(raw, str(path))


def parse_config_bytes(raw: bytes, source: str = "<config>") -> Config:
    """Validate the bytes of a config file (UTF-8 YAML or JSON)."""
    return parse_config(decode(raw, source), source)


def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate YAML (or JSON, which is YAML) text. An empty document (nothing, only comments, or `null`)
    is an error, not a config without rules: it is what an editor leaves mid-save."""
    data, marks = load_yaml(text, source)
    if data is None:
        raise ConfigError([Problem(source, 1, 1, "the config is empty; write `rules: []` for a config without rules")])
    return _validate(data, source, marks, text)


def config_from_data(data: Any, source: str = "<config>") -> Config:
    """Validate an already-parsed config (a dict, as given to the Python API)."""
    return _validate(data, source, {}, None)


def _validate(data: Any, source: str, marks: dict[tuple, tuple[int, int]], text: str | None) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(source, 1, 1, f"the config must be a mapping, not {_kind(data)}")])
    try:
        spec = ConfigSpec.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_problems_from(e, data, source, marks)) from None
    return Config(spec=spec, source=source, text=text, marks=marks, data=data)


def check_apis(config: Config, known: frozenset[str]) -> None:
    """Every `when.api` names an API the server speaks (`known`: the provider registry's names).

    Checked when the server takes a config, not while validating it: the config sits below
    the providers and does not know them. Raises ConfigError, with positions, like validation.
    """
    problems = []
    for i, rule in enumerate(config.rules):
        api = rule.when.api if rule.when is not None else None
        if api is not None and api not in known:
            path = ("rules", i, "when", "api")
            line, col = config.marks.get(path, (None, None))
            where = _describe(path, config.data) if config.data is not None else f"rules[{i}].when.api"
            problems.append(Problem(config.source, line, col, f"{where}: unknown api {api!r}"
                                    f"{_did_you_mean(api, known)}; known: {', '.join(sorted(known))}"))
    if problems:
        raise ConfigError(problems)


# --------------------------------------------------------------------------- error messages

_FIELDS_BY_MODEL = {
    "top level": ConfigSpec,
    "defaults": DefaultsSpec,
    "rule": RuleSpec,
    "when": WhenSpec,
    "respond": RespondSpec,
    "tool call": ToolCallSpec,
    "error": ErrorSpec,
    "usage": UsageSpec,
    "fault": FaultSpec,
    "rate_limit": RateLimitSpec,
    "model": ModelSpec,
}


def _problems_from(e: ValidationError, data: Any, source: str, marks: dict) -> list[Problem]:
    found: list[tuple[tuple, Problem]] = []
    for err in e.errors():
        kind = err["type"]
        if kind == "literal_error" and err["loc"][-1] == "literal['auto']" and not isinstance(err.get("input"), str):
            continue  # `tool_calls` given as a list: its list's problems say what is wrong, not "must be 'auto'"
        path, section = _resolve(data, err["loc"], names_key=kind in ("missing", "extra_forbidden"))
        where = _describe(path, data)
        mark = marks.get(path)
        if kind == "extra_forbidden":
            key = path[-1]
            allowed = [info.alias or f for f, info in _FIELDS_BY_MODEL[section].model_fields.items() if f != "headers"]
            if section == "when":
                allowed.append("header.<name>")
            hint = _did_you_mean(str(key), allowed)
            if section == "when" and not hint:
                hint = " (to match a request header write `header.<name>: value`)"
            msg = f"{_describe(path[:-1], data)}: unknown key {key!r} in {section}{hint}"
            mark = marks.get(path[:-1] + (("key", key),)) or mark
        elif kind == "missing":
            msg = f"{_describe(path[:-1], data)}: required key {path[-1]!r} is missing"
            mark = marks.get(path[:-1])
        elif kind in _TYPE_NAMES:
            msg = f"{where}: expected {_TYPE_NAMES[kind]}, got {_kind(err.get('input'))}"
        elif kind == "literal_error":
            expected = err["msg"].removeprefix("Input should be ")
            msg = f"{where}: must be {expected}, got {_kind(err.get('input'))}"
        else:
            text = err["msg"].removeprefix("Value error, ")
            msg = f"{where}: {text}"
        line, col = mark if mark else (None, None)
        found.append((path, Problem(source, line, col, msg)))
    # A union (e.g. `error`: a string or a mapping) reports one error per member.
    # When a member got far enough to complain about something inside the value, or about
    # the value itself (an integer too large), that is the useful message; drop the
    # "expected a string" of the others.
    deeper = {p[: i] for p, _ in found for i in range(len(p))}
    deeper |= {p for p, problem in found if ": expected " not in problem.message}
    problems: dict[Problem, None] = {}  # in order, each once (a set in a dict: linear in the problems)
    for path, problem in found:
        if path in deeper and ": expected " in problem.message:
            continue
        problems[problem] = None
    problems = list(problems)
    problems.sort(key=lambda p: (p.line or 0, p.col or 0))
    return _merge_union_messages(problems)


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _merge_union_messages(problems: list[Problem]) -> list[Problem]:
    """Collapse 'expected A' and 'expected B' at one place into 'expected A or B'."""
    out: list[Problem] = []
    for p in problems:
        if out and ": expected " in p.message and ": expected " in out[-1].message:
            prev = out[-1]
            a_where, a_rest = prev.message.split(": expected ", 1)
            b_where, b_rest = p.message.split(": expected ", 1)
            if a_where == b_where and (prev.line, prev.col) == (p.line, p.col):
                a_exp, a_got = a_rest.rsplit(", got ", 1)
                b_exp = b_rest.rsplit(", got ", 1)[0]
                out[-1] = Problem(p.source, p.line, p.col, f"{a_where}: expected {a_exp} or {b_exp}, got {a_got}")
                continue
        out.append(p)
    return out


def _resolve(data: Any, loc: tuple, names_key: bool) -> tuple[tuple, str]:
    """Map a pydantic error location onto the user's data and name its section.

    Parts that are not in the data are pydantic's own: union member tags, and
    the index of the list that a single `respond` mapping was wrapped in.
    """
    path: list = []
    node: Any = data
    section = "top level"
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            node = node[part]
            section = _section_after(section, part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            section = _section_in_list(section)
        elif names_key and last and isinstance(node, dict):
            node = None  # the location names a missing (or unknown) key
        else:
            continue
        path.append(part)
    return tuple(path), section


def _section_after(section: str, key: Any) -> str:
    table = {
        ("top level", "defaults"): "defaults",
        ("top level", "rules"): "rules",
        ("top level", "models"): "models",
        ("rule", "when"): "when",
        ("rule", "respond"): "respond",
        ("respond", "tool_calls"): "tool_calls",
        ("respond", "error"): "error",
        ("respond", "usage"): "usage",
        ("respond", "fault"): "fault",
        ("fault", "error"): "error",
        ("rule", "rate_limit"): "rate_limit",
        ("defaults", "rate_limit"): "rate_limit",
    }
    return table.get((section, key), section)


def _section_in_list(section: str) -> str:
    return {"rules": "rule", "tool_calls": "tool call", "respond": "respond", "models": "model"}.get(section, section)


def _describe(path: tuple, data: Any) -> str:
    """`rules[1] (name).when.turn`: the rule's name helps find it in a long file."""
    out = ""
    for i, part in enumerate(path):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        if i == 1 and path[0] == "rules" and isinstance(data, dict):
            rules = data.get("rules")
            if isinstance(rules, list) and isinstance(part, int) and isinstance(rules[part], dict):
                name = rules[part].get("name")
                if isinstance(name, str):
                    out += f" ({name})"
    return out or "config"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
