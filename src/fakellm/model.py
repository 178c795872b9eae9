"""Provider-neutral request and reply.

Provider adapters parse their wire format into a `Request` and render a `Reply`
back; the engine in between never looks at a provider's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ToolCall:
    """A function/tool call, in a request's history or in a reply."""

    name: str
    arguments: str  # JSON text, exactly as it goes on the wire
    id: str = ""


@dataclass(slots=True)
class Message:
    """One message of the conversation.

    `role` is what the provider said (system, developer, user, assistant, tool).
    `tool_results` holds the text of tool results the message carries: an OpenAI
    `tool` message has one, an Anthropic user message may have several.
    """

    role: str
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[str] = field(default_factory=list)

    @property
    def is_tool_result(self) -> bool:
        return self.role == "tool" or (bool(self.tool_results) and not self.text)


@dataclass(slots=True)
class OutputFormat:
    """The form the client asks the reply's text to take (structured outputs): JSON valid against
    `schema`, or (schema None) any JSON object."""

    schema: dict[str, Any] | bool | None = None
    name: str = ""  # the schema's name where the API gives one (OpenAI's json_schema.name)
    strict: bool = False  # the client asks the API to guarantee the schema


@dataclass(slots=True)
class ToolChoice:
    """A request's demand on tool use: `none` (no call), `any` (a call of some offered tool; `name`, when
    set, is the first of those allowed) or `tool` (a call of `name`). Absent means auto: the model decides."""

    mode: str
    name: str = ""

    @property
    def forces_call(self) -> bool:
        return self.mode != "none"


@dataclass(slots=True)
class Request:
    """What the engine needs to know about one LLM call.

    The hot-path adapters build it positionally: keep the field order.
    """

    api: str  # "openai.chat", "anthropic.messages", ...
    model: str
    messages: list[Message]
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    path: str = ""
    tools: list[str] = field(default_factory=list)
    stream: bool = False
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    n: int = 1
    thinking: bool = False
    # Set when the API itself names the conversation (the engine sets it for a Responses chain).
    conversation_id: str = ""
    # False for embeddings: no echo text, no token limits.
    generates_text: bool = True
    # What the request names from the store, for the engine to put into `messages`: the stored
    # response whose conversation it continues (Responses' previous_response_id), with its history
    # going at `history_at`; and items given by id alone: (position, item id, whether the item
    # brings its response's answer into the history).
    continues: str | None = None
    history_at: int = 0
    history_len: int = 0  # how many stored messages the engine put in at `history_at`
    item_refs: list[tuple[int, str, bool]] = field(default_factory=list)
    # Structured outputs and tools, as the request states them: the reply's form (None: free text),
    # each offered function's parameters schema by name (None: no tools), and tool_choice (None: auto).
    output: OutputFormat | None = None
    tool_schemas: dict[str, Any] | None = None
    tool_choice: ToolChoice | None = None


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ErrorInfo:
    """An error to send instead of a completion. Unset fields get the provider's defaults."""

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None


# Neutral finish reasons; each adapter maps them to its own vocabulary.
STOP = "stop"
LENGTH = "length"
TOOL_CALLS = "tool_calls"
STOP_SEQUENCE = "stop_sequence"


@dataclass(slots=True)
class Reply:
    """What the engine decided to answer.

    The engine builds it positionally: keep the field order.
    """

    status: int = 200
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    thinking: str | None = None
    finish_reason: str = STOP
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    error: ErrorInfo | None = None
    headers: dict[str, str] = field(default_factory=dict)
    conversation_id: str = ""
    turn: int = 1
    rule: str | None = None
    # Extra choices for OpenAI's `n > 1`: same answer, one per index.
    n: int = 1
    # Embeddings a rule fixed: one vector for every input, or one per input.
    embedding: list[float] | list[list[float]] | None = None
    # How the reply goes on the wire (a delivery.Plan): timing, chunk size, faults. None: all at once.
    delivery: Any = None
    # What the store keeps of this reply once it is rendered (a Responses API response), or None.
    stored: Any = None
    # What the journal should say about how this reply was made (a rule's text set aside for a forced tool).
    notes: tuple[str, ...] = ()
    # True when no rule answered (the fallback or the no-match 404): a hybrid server proxies it instead.
    missed: bool = False


class Refusal(Exception):
    """A request the API refuses before any rule is tried (e.g. it names a stored item that does not
    exist); the adapter renders `error` in its shape with `status`."""

    def __init__(self, status: int, error: ErrorInfo):
        super().__init__(error.message)
        self.status = status
        self.error = error
