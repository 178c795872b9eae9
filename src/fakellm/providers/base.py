"""What every provider family shares: the family and adapter shapes, JSON endpoints, validation helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

import orjson

from ..engine import tokens
from ..model import ErrorInfo, Message, Reply, Request, ToolCall
from ..store.buckets import BucketReport

if TYPE_CHECKING:
    from ..engine.catalog import Catalog
    from ..store.base import Store


class InvalidRequest(Exception):
    """A request the real API would reject with a 4xx; the adapter renders it in its shape."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code

    def as_error(self) -> ErrorInfo:
        return ErrorInfo(message=self.message, param=self.param, code=self.code)


@dataclass(slots=True)
class Call:
    """One request to a provider's plain JSON endpoint (model listings, stored responses, token
    counts): what the endpoint may read, handed over by the server."""

    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    request_id: str
    catalog: Catalog
    store: Store
    body: dict[str, Any] = field(default_factory=dict)


# fn(call) -> (status, body), or a coroutine of it. It may raise InvalidRequest for a provider-shaped 4xx.
EndpointFn = Callable[[Call], "tuple[int, bytes] | Awaitable[tuple[int, bytes]]"]
# render_error(status, error, request_id) -> body, as the adapters' `render_error`.
ErrorRenderer = Callable[[int, ErrorInfo, str], bytes]


class Served(Protocol):
    """What a family's adapters may read from the server at request time (reloads replace them)."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def store(self) -> Store: ...


class Routes(Protocol):
    """What a provider family registers its HTTP surface with (the server implements it)."""

    def llm(self, method: str, path: str, adapter: Adapter, *, with_query: bool = False) -> None:
        """An LLM call through the engine; `with_query`: the adapter's params include the query string."""

    def json(self, method: str, path: str, fn: EndpointFn, render_error: ErrorRenderer, *,
             with_body: bool = False, request_id_headers: tuple[str, ...] = ("x-request-id",)) -> None:
        """A plain JSON endpoint; `with_body` reads a JSON object body first."""

    def model_listing(self, list_path: str, get_path: str) -> None:
        """The model listing shared by several families (`GET /v1/models`): the request's headers say
        whose SDK asks (`Family.models.claims`), and that family answers."""

    def socket(self, path: str, opener: SocketOpener) -> None:
        """A WebSocket endpoint (`GET path`, upgraded): each connection is a session `opener` opens."""


@dataclass(frozen=True, slots=True)
class ModelListing:
    """A family's answer to the shared `GET /v1/models[/{model_id}]`."""

    claims: Callable[[dict[str, str]], bool]  # the request's headers come from this family's SDK
    list: EndpointFn
    get: EndpointFn


@dataclass(frozen=True, slots=True)
class Family:
    """One API family: everything the rest of fakellm asks a provider for. The registry lists them."""

    name: str  # what `when.api` calls the family
    apis: tuple[str, ...]  # its endpoints' api names ("openai.chat", ...)
    install: Callable[[Routes, Served], None]  # registers its routes
    # Unknown paths and methods it owns get its error shape: render(status, message, request_id).
    owns_path: Callable[[str], bool]
    error: Callable[[int, str, str], bytes]
    auth_headers: tuple[str, ...] = ()  # request headers that carry the API key (redacted in the journal)
    models: ModelListing | None = None
    rate_limit_headers: Callable[[BucketReport], dict[str, str]] | None = None
    # For the CLI banner and the test harness: the base URL its SDKs want, from the server's root URL,
    # and the environment variables that point a client built without arguments at the server.
    base_path: str = ""
    base_url_label: str = ""  # e.g. "OpenAI base URL"
    sdk_environ: Callable[[str], dict[str, str]] = lambda root: {}
    # A 404 that explains a near miss better than "unknown path" (method, path) -> message or None.
    advice: Callable[[str, str], str | None] = lambda method, path: None


@dataclass(slots=True)
class SocketStep:
    """What one client message on a socket asks of the server: events to send at once, then maybe
    an LLM request for the engine (its reply goes to `SocketSession.respond`), or the cancel of the
    response under way."""

    send: list[bytes] = field(default_factory=list)
    request: Request | None = None
    cancel: bool = False


class SocketResponse(Protocol):
    """One reply rendered for a socket: `head` acknowledges the request at once, `events` are paced
    by the delivery layer (their chunks marked by the opener's `content_event_markers`)."""

    head: list[bytes]
    events: list[bytes]

    def end(self, sent: int, how: str, error: tuple[int, ErrorInfo] | None = None) -> list[bytes]:
        """The delivery stopped after `sent` of `events`: `how` is "done" (all sent), "cancelled",
        "truncate" or "error_event" (with the fault's status and error). Returns the events that end
        the response that way, and keeps its output (as far as it went) in the conversation."""


class SocketSession(Protocol):
    """One client's socket: the conversation it holds and its wire format, without any I/O."""

    def opening(self) -> list[bytes]:
        """The events sent when the socket opens."""

    def receive(self, message: str | bytes, responding: bool) -> SocketStep:
        """A client message; `responding`: a response is under way."""

    def respond(self, reply: Reply, request: Request, response_id: str) -> SocketResponse:
        """The engine's answer to the step's request (an error reply included)."""

    def failed(self, status: int, error: ErrorInfo, request: Request, response_id: str) -> list[bytes]:
        """The events for a request that failed before the engine answered (the store is down)."""


class SocketOpener(Protocol):
    """A WebSocket API: opens a session per connection. Raises InvalidRequest to refuse the
    handshake with an HTTP 4xx (`render_error` shapes its body)."""

    api: str
    content_event_markers: tuple[bytes, ...]

    def subprotocol(self, offered: list[str]) -> str | None:
        """Which of the client's offered subprotocols the server accepts (None: no header)."""

    def open(self, headers: dict[str, str], query: dict[str, str], subprotocols: list[str],
             session_id: str) -> SocketSession: ...

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes: ...


class Adapter(Protocol):
    """A provider's wire format. `api` names it for `when.api` and the journal."""

    api: str
    request_id_header: str
    # A tool call without an id gets `prefix + response_id + index`, like the provider's ids look;
    # the server assigns it before rendering, so the journal records the id the client saw.
    # None (or no such attribute): the provider's tool calls carry no ids.
    tool_call_id_prefix: str | None

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request: ...

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes: ...

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]: ...

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes: ...

    # Optional, for the delivery layer (delivery.py), which applies timing and faults:
    #
    # content_event_markers: tuple[bytes, ...]
    #     Byte strings found only in the stream events that carry generated content
    #     (text or tool-call deltas). They mark the chunks that `ttft_ms`,
    #     `chunk_delay_ms` and `after_chunks` count. Without them every event is a
    #     chunk except the last, which ends the stream.
    #
    # def render_stream_error(self, status: int, error: ErrorInfo, answered: delivery.Answered) -> bytes
    #     The provider's mid-stream error event (the `error_event` fault), sent after
    #     the stream has begun with a 200. Without it fakellm sends OpenAI's
    #     `data: {"error": {...}}`.
    #
    # def error_headers(self, status: int, error: ErrorInfo) -> list[tuple[bytes, bytes]]
    #     Headers an error response carries besides its body, where the provider's SDKs read the
    #     error from them (Bedrock's `x-amzn-errortype`).
    #
    # def token_limit_error(self, request: Request, overrun: engine.limits.Overrun) -> ErrorInfo | None
    #     The provider's 400 for a request over its model's declared `context_window` or
    #     `max_output_tokens` (or None: the provider lets it through). Without it, the
    #     adapter's API enforces no context windows (Ollama truncates instead).


def error_headers(adapter: Adapter, status: int, error: ErrorInfo) -> list[tuple[bytes, bytes]]:
    """The adapter's `error_headers` for an error response (none for most providers)."""
    extra = getattr(adapter, "error_headers", None)
    return extra(status, error) if extra is not None else []


def arguments_text(arguments: Any) -> str:
    """Tool-call arguments as the engine keeps them, JSON text: a string as sent, anything else
    (the object a provider sends) serialized."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def arguments_object(arguments: str) -> dict[str, Any]:
    """Tool-call arguments for a provider whose wire carries them as an object (Anthropic's `input`,
    Gemini's `args`, Ollama's `arguments`). The config guarantees JSON text; anything else is wrapped."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


@dataclass(slots=True)
class MessageParts:
    """What a message's content parts add up to, gathered part by part."""

    texts: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    results: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def message(self, role: str) -> Message:
        return Message(role=role, text=self.text, tool_calls=self.calls, tool_results=self.results)


def bucket_headers(report: BucketReport, requests: tuple[str, str, str], tokens: tuple[str, str, str],
                   reset: Callable[[float], str]) -> dict[str, str]:
    """A provider's rate-limit headers: (limit, remaining, reset) names for the request bucket and
    for the token bucket, each sent when the limit has that bucket; `reset` formats the wait."""
    out: dict[str, str] = {}
    for names, limit, left, wait in ((requests, report.requests_limit, report.requests_left, report.requests_reset_s),
                                     (tokens, report.tokens_limit, report.tokens_left, report.tokens_reset_s)):
        if limit is not None:
            out[names[0]], out[names[1]], out[names[2]] = str(limit), str(left), reset(wait)
    return out


def text_pieces(reply: Reply, text: str) -> list[str]:
    """A stream's text pieces: token-sized, or `chunk_size` characters when the reply's plan sets it."""
    plan = reply.delivery
    return tokens.pieces(text, plan.chunk_size if plan is not None else None)


def reasoning_tokens(reply: Reply, api: str) -> int:
    """The reply's reasoning (thinking) tokens, which its output tokens include: a rule's
    `usage.reasoning_tokens`, else the thinking text counted as the engine counted it, once per choice."""
    if reply.usage.reasoning_tokens:
        return reply.usage.reasoning_tokens
    return tokens.counter(api)(reply.thinking) * reply.n if reply.thinking else 0


def parts_text(content: Any, where: str, *, text_types: frozenset[str] = frozenset({"text"}), null: bool = True,
               index: str = "[{}]", noun: str = "content part", missing: str = "Input should be a valid string",
               shape: str = "Input should be a string or an array of content parts") -> str:
    """The text of a content value as the providers send it: a string, or a list of typed parts whose
    text parts are joined with spaces (other parts carry no text). `null` allows None (no text).

    The rest says how the provider words its 400s: `index` formats a part's place after `where`
    ("[{}]" or ".{}"), `noun` names a part, `missing` says a text part has no string `text`,
    `shape` says the value is neither a string nor a list. A `refusal` part's text is its `refusal`.
    """
    if content is None and null:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: {shape}", param=where)
    texts = []
    for i, part in enumerate(content):
        here = where + index.format(i)
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequest(f"{here}: each {noun} must be an object with a 'type'", param=here)
        kind = part["type"]
        if kind in text_types:
            text = part.get("refusal" if kind == "refusal" else "text")
            if not isinstance(text, str):
                raise InvalidRequest(f"{here}.text: {missing}", param=f"{here}.text")
            texts.append(text)
    return " ".join(texts)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


class TextMemo:
    """What `build(text)` gives, kept for texts seen before: a rule's fixed text is rendered once, not per reply.

    Texts longer than MAX_TEXT are built every time, and the memo is bounded: past
    `max_entries` the oldest text goes. What `build` returns is shared, so callers
    must not change it.
    """

    MAX_TEXT = 2048

    def __init__(self, build: Callable[[str], Any], max_entries: int = 256):
        self._build = build
        self._items: dict[str, Any] = {}
        self.max_entries = max_entries

    def __call__(self, text: str) -> Any:
        if len(text) > self.MAX_TEXT:  # checked first: looking a long new text up would hash all of it
            return self._build(text)
        built = self._items.get(text)
        if built is None:
            built = self._build(text)
            if len(self._items) >= self.max_entries:
                del self._items[next(iter(self._items))]
            self._items[text] = built
        return built


def fragments(build: Callable[[str], Any]) -> TextMemo:
    """A TextMemo of `build(text)` serialized: an `orjson.Fragment` that `dumps` embeds as is."""
    return TextMemo(lambda text: orjson.Fragment(orjson.dumps(build(text))))


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `event:` lines only where the provider uses them."""
    payload = orjson.dumps(data)
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


# -- field checks: each raises InvalidRequest naming the field, as the real APIs do


def require(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, prefix: str = "") -> Any:
    if key not in body or body[key] is None:
        raise InvalidRequest(f"{prefix}{key}: Field required", param=f"{prefix}{key}")
    return check(body, key, kind, what, prefix)


def check(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, prefix: str = "") -> Any:
    value = body.get(key)
    if value is None:
        return None
    # bool is an int in Python; JSON true is never a valid integer.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise InvalidRequest(f"{prefix}{key}: Input should be {what}", param=f"{prefix}{key}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def positive_int(body: dict[str, Any], key: str, prefix: str = "") -> int | None:
    value = check(body, key, int, "a valid integer", prefix)
    if value is not None and value < 1:
        raise InvalidRequest(f"{prefix}{key}: Input should be greater than or equal to 1", param=f"{prefix}{key}")
    return value


def stop_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise InvalidRequest(f"{key}: Input should be a string or a list of strings", param=key)


def split_json(text: str, parts: int = 3) -> list[str]:
    """Cut JSON text into a few fragments, as the real APIs stream tool arguments."""
    if len(text) < 2 * parts:
        return [text]
    size = -(-len(text) // parts)
    return [text[i:i + size] for i in range(0, len(text), size)]
