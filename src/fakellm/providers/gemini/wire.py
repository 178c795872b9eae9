"""Gemini Developer API: POST /{v1,v1beta}/models/{model}:{method} (wire.md §7).

`generateContent` and `streamGenerateContent` go through the engine; this module
parses their bodies into a neutral `Request` and renders a `Reply` as a
`GenerateContentResponse`, or as SSE chunks of it. It also parses the bodies of
`countTokens`, `embedContent` and `batchEmbedContents`, and renders Google's
error shape. The HTTP side (which method, which handler) is in `gemini_routes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from ...engine.limits import OUTPUT, Overrun
from ...model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, ErrorInfo, Message, Reply, Request, ToolCall
from ..base import (
    InvalidRequest,
    MessageParts,
    arguments_object,
    arguments_text,
    dumps,
    reasoning_tokens,
    text_pieces,
)
from .shapes import declaration_schema, output_format, tool_choice

if TYPE_CHECKING:
    from ...traffic.delivery import Answered

# Google's canonical status names, by HTTP status (google.rpc.Code).
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    412: "FAILED_PRECONDITION",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_CANONICAL = frozenset(STATUS_NAMES.values()) | {"OUT_OF_RANGE", "ALREADY_EXISTS", "DATA_LOSS", "UNKNOWN"}

FINISH_REASONS = {
    STOP: "STOP",
    STOP_SEQUENCE: "STOP",  # Gemini has no separate reason for a stop sequence
    TOOL_CALLS: "STOP",  # nor for function calls
    LENGTH: "MAX_TOKENS",
    # Other providers' names in a rule written for all of them.
    "end_turn": "STOP",
    "tool_use": "STOP",
    "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
}

SSE_END = b"\r\n\r\n"


def status_name(status: int) -> str:
    if status in STATUS_NAMES:
        return STATUS_NAMES[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION" if status >= 400 else "UNKNOWN"


def error_object(status: int, error: ErrorInfo) -> dict[str, Any]:
    """`{"error": {code, message, status}}`; a rule's `error.type` may name the status (e.g. UNAVAILABLE)."""
    kind = error.type if error.type in _CANONICAL else status_name(status)
    inner: dict[str, Any] = {"code": status, "message": error.message, "status": kind}
    if error.code is not None:
        inner["details"] = [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": error.code,
            "domain": "generativelanguage.googleapis.com",
        }]
    return {"error": inner}


def error_body(status: int, error: ErrorInfo) -> bytes:
    return dumps(error_object(status, error))


def stream_error_event(status: int, error: ErrorInfo) -> bytes:
    """A mid-stream error chunk: the SDKs raise ClientError / ServerError when they read it."""
    return b"data: " + dumps(error_object(status, error)) + SSE_END


# --------------------------------------------------------------------------- parsing

def field(obj: dict[str, Any], camel: str, snake: str | None = None) -> Any:
    """A field by its camelCase or snake_case name (the REST API accepts both)."""
    value = obj.get(camel)
    if value is None and snake is not None:
        value = obj.get(snake)
    return value


def _snake(camel: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in camel)


def get(obj: dict[str, Any], camel: str) -> Any:
    return field(obj, camel, _snake(camel))


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))):
        raise InvalidRequest(f"Invalid value at '{where}': expected {what}, got {_kind(value)}", param=where)
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def tool_result_text(response: Any) -> str:
    """The searchable text of a functionResponse: `{"result": "..."}` gives its string, anything else its JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (only,) = response.values()
        if isinstance(only, str):
            return only
    return json.dumps(response, ensure_ascii=False)


def parse_content(raw: Any, where: str, *, system: bool = False) -> Message:
    """One `Content` ({role, parts}) as a neutral message."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"Invalid value at '{where}': expected a Content object, got {_kind(raw)}", param=where)
    role = raw.get("role") or "user"
    if not isinstance(role, str) or (not system and role not in ("user", "model", "function")):
        raise InvalidRequest(f"Please use a valid role: user, model. Got {role!r} at '{where}.role'", param=f"{where}.role")
    parts = _expect(raw.get("parts"), list, f"{where}.parts", "an array of parts")
    if not parts:
        raise InvalidRequest(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.",
                             param=f"{where}.parts")
    gathered = MessageParts()
    for j, part in enumerate(parts):
        pwhere = f"{where}.parts[{j}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"Invalid value at '{pwhere}': expected a Part object, got {_kind(part)}", param=pwhere)
        text = _expect(part.get("text"), str, f"{pwhere}.text", "a string")
        call = _expect(field(part, "functionCall", "function_call"), dict, f"{pwhere}.functionCall", "an object")
        response = _expect(field(part, "functionResponse", "function_response"), dict,
                           f"{pwhere}.functionResponse", "an object")
        if text is not None:
            if not part.get("thought"):  # a model's own thoughts are not conversation text
                gathered.texts.append(text)
        elif call is not None:
            name = call.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidRequest(f"* GenerateContentRequest.{pwhere}.function_call.name: Name cannot be empty.",
                                     param=f"{pwhere}.functionCall.name")
            args = _expect(call.get("args"), dict, f"{pwhere}.functionCall.args", "an object") or {}
            gathered.calls.append(ToolCall(name=name, arguments=arguments_text(args), id=str(call.get("id") or "")))
        elif response is not None:
            name = response.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidRequest(f"* GenerateContentRequest.{pwhere}.function_response.name: Name cannot be empty.",
                                     param=f"{pwhere}.functionResponse.name")
            result = _expect(response.get("response"), dict, f"{pwhere}.functionResponse.response", "an object")
            gathered.results.append(tool_result_text(result if result is not None else {}))
    if system:
        return Message(role="system", text=gathered.text)
    if role == "model":
        return Message(role="assistant", text=gathered.text, tool_calls=gathered.calls)
    if gathered.results and not gathered.texts:
        # A turn made only of function responses is the "tool" message of other providers.
        return Message(role="tool", tool_results=gathered.results)
    return Message(role="user", text=gathered.text, tool_results=gathered.results)


def parse_contents(body: dict[str, Any], prefix: str = "") -> list[Message]:
    """systemInstruction + contents as neutral messages (contents required and non-empty)."""
    raw = _expect(body.get("contents"), list, f"{prefix}contents", "an array of Content objects")
    if not raw:
        raise InvalidRequest(f"* GenerateContentRequest.{prefix}contents: contents is not specified",
                             param=f"{prefix}contents")
    messages: list[Message] = []
    for i, content in enumerate(raw):
        message = parse_content(content, f"{prefix}contents[{i}]")
        if message.role == "assistant" and messages and messages[-1].role == "assistant":
            # A streamed answer comes back in a chat's history as one model content per
            # chunk; together they are one turn.
            messages[-1].text += message.text
            messages[-1].tool_calls.extend(message.tool_calls)
        else:
            messages.append(message)
    system = get(body, "systemInstruction")
    if system is not None:
        if isinstance(system, str):  # the SDKs accept a bare string; be as lenient
            system_msg = Message(role="system", text=system)
        else:
            system_msg = parse_content(system, f"{prefix}systemInstruction", system=True)
        messages.insert(0, system_msg)
    return messages


def parse_tools(body: dict[str, Any], prefix: str = "", schemas: dict[str, Any] | None = None) -> list[str]:
    """The declared functions' names; each one's parameters (as JSON Schema) go into `schemas` when given."""
    names: list[str] = []
    for i, tool in enumerate(_expect(body.get("tools"), list, f"{prefix}tools", "an array of Tool objects") or ()):
        where = f"{prefix}tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"Invalid value at '{where}': expected a Tool object, got {_kind(tool)}", param=where)
        decls = _expect(get(tool, "functionDeclarations"), list, f"{where}.functionDeclarations", "an array")
        for j, decl in enumerate(decls or ()):
            name = decl.get("name") if isinstance(decl, dict) else None
            if not isinstance(name, str) or not name:
                raise InvalidRequest(f"* GenerateContentRequest.{where}.function_declarations[{j}].name: "
                                     f"Name cannot be empty.", param=f"{where}.functionDeclarations[{j}].name")
            names.append(name)
            if schemas is not None:
                schemas[name] = declaration_schema(decl, f"{where}.functionDeclarations[{j}]")
    return names


def parse_generation_config(body: dict[str, Any], prefix: str = "") -> tuple[int | None, list[str], int, bool]:
    """(max output tokens, stop sequences, candidate count, whether the model thinks)."""
    where = f"{prefix}generationConfig"
    config = _expect(get(body, "generationConfig"), dict, where, "a GenerationConfig object") or {}
    max_tokens = _expect(get(config, "maxOutputTokens"), int, f"{where}.maxOutputTokens", "an integer")
    if max_tokens is not None and max_tokens < 1:
        raise InvalidRequest(f"* GenerateContentRequest.generation_config.max_output_tokens: "
                             f"max_output_tokens must be positive, got {max_tokens}.", param=f"{where}.maxOutputTokens")
    stop = _expect(get(config, "stopSequences"), list, f"{where}.stopSequences", "an array of strings") or []
    if not all(isinstance(s, str) for s in stop):
        raise InvalidRequest(f"Invalid value at '{where}.stopSequences': expected an array of strings",
                             param=f"{where}.stopSequences")
    count = _expect(get(config, "candidateCount"), int, f"{where}.candidateCount", "an integer")
    if count is not None and not 1 <= count <= 8:
        raise InvalidRequest(f"* GenerateContentRequest.generation_config.candidate_count: "
                             f"candidate_count must be in the range [1, 8], got {count}.", param=f"{where}.candidateCount")
    return max_tokens, stop, count or 1, _thinks(config, f"{where}.thinkingConfig")


def _thinks(config: dict[str, Any], where: str) -> bool:
    """Check `thinkingConfig`; whether the model thinks. Thinking models think unless the budget is 0,
    and count their thoughts (`thoughtsTokenCount`) whether or not `includeThoughts` shows them."""
    thinking = _expect(get(config, "thinkingConfig"), dict, where, "an object") or {}
    _expect(get(thinking, "includeThoughts"), bool, f"{where}.includeThoughts", "a boolean")
    _expect(get(thinking, "thinkingLevel"), str, f"{where}.thinkingLevel", "a string")
    return _expect(get(thinking, "thinkingBudget"), int, f"{where}.thinkingBudget", "an integer") != 0


def include_thoughts(request: Request) -> bool:
    """Whether the request asks to see the thoughts as parts (`thinkingConfig.includeThoughts`)."""
    config = get(request.body, "generationConfig")
    thinking = get(config, "thinkingConfig") if isinstance(config, dict) else None
    return isinstance(thinking, dict) and get(thinking, "includeThoughts") is True


def model_from_path(params: dict[str, str]) -> str:
    """The model of a `/{version}/models/{model}:{method}` call (`models/` may prefix it again)."""
    return params["model"]


# --------------------------------------------------------------------------- generateContent

class GeminiGenerate:
    """generateContent, or (`streaming`) streamGenerateContent: SSE with `alt=sse` in the query,
    else the chunks as one JSON array."""

    api = "gemini.generate"
    request_id_header = "x-request-id"

    def __init__(self, streaming: bool = False):
        self.streaming = streaming

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        messages = parse_contents(body)
        schemas: dict[str, Any] = {}
        tools = parse_tools(body, schemas=schemas)
        max_tokens, stop, n, thinking = parse_generation_config(body)
        config = get(body, "generationConfig")
        return Request(
            api=self.api,
            model=model_from_path(params),
            messages=messages,
            headers=headers,
            body=body,
            path=path,
            tools=tools,
            stream=self.streaming and params.get("alt") == "sse",
            max_tokens=max_tokens,
            stop=stop,
            n=n,
            thinking=thinking,
            output=output_format(config, "generationConfig") if config else None,
            tool_schemas=schemas or None,
            tool_choice=tool_choice(body, schemas) if schemas else None,
        )

    # -- rendering

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        if self.streaming:
            # streamGenerateContent without alt=sse: the chunks as one JSON array.
            return b"[" + b",\r\n".join(dumps(c) for c in self._chunks(reply, request, response_id)) + b"]"
        parts = _thought_parts(reply, request) + _text_parts(reply, reply.content) + _call_parts(reply)
        return dumps(_response(reply, request, response_id, parts, finish=True))

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        return [b"data: " + dumps(c) + SSE_END for c in self._chunks(reply, request, response_id)]

    def _chunks(self, reply: Reply, request: Request, response_id: str) -> list[dict[str, Any]]:
        """Each chunk is a whole GenerateContentResponse carrying only the new parts.

        The last chunk adds no content (an empty text part): it carries the finish
        reason and the usage, so it is the stream's end for the delivery layer,
        which counts every earlier chunk as content (see delivery.py).
        """
        groups: list[list[dict[str, Any]]] = []
        if reply.thinking and include_thoughts(request):  # thoughts come first, in chunks of their own
            groups.extend([{"text": t, "thought": True}] for t in text_pieces(reply, reply.thinking))
        groups.extend([{"text": t}] for t in text_pieces(reply, reply.content or ""))
        calls = _call_parts(reply)
        if calls:
            groups.append(calls)  # Gemini sends each call whole, never in fragments
        chunks = [_response(reply, request, response_id, parts, finish=False) for parts in groups]
        chunks.append(_response(reply, request, response_id, [{"text": ""}], finish=True))
        return chunks

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        return stream_error_event(status, error)

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo | None:
        """The 400 for a request over its model's declared limits (engine/limits.py). Gemini's input and
        output limits are separate (inputTokenLimit, outputTokenLimit): only a prompt that alone is over
        the window is refused, whatever maxOutputTokens asks."""
        if overrun.kind == OUTPUT:
            return ErrorInfo(f"Unable to submit request because it has a maxOutputTokens value of "
                             f"{overrun.requested_output} but the supported range is from 1 (inclusive) to "
                             f"{overrun.limit + 1} (exclusive). Update the value and try again.")
        if overrun.prompt_tokens > overrun.limit:
            return ErrorInfo(f"The input token count ({overrun.prompt_tokens}) exceeds the maximum number of "
                             f"tokens allowed ({overrun.limit}).")
        return None


def _thought_parts(reply: Reply, request: Request) -> list[dict[str, Any]]:
    return [{"text": reply.thinking, "thought": True}] if reply.thinking and include_thoughts(request) else []


def _text_parts(reply: Reply, text: str | None) -> list[dict[str, Any]]:
    # A rule that gives only function calls gets no (empty) text part.
    if text is None or (text == "" and reply.tool_calls):
        return []
    return [{"text": text}]


def _call_parts(reply: Reply) -> list[dict[str, Any]]:
    parts = []
    for call in reply.tool_calls:
        fc: dict[str, Any] = {"name": call.name, "args": arguments_object(call.arguments)}
        if call.id:
            fc["id"] = call.id
        parts.append({"functionCall": fc})
    return parts


def _response(reply: Reply, request: Request, response_id: str, parts: list[dict[str, Any]], *, finish: bool
              ) -> dict[str, Any]:
    candidates = []
    for index in range(reply.n):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = finish_reason(reply.finish_reason)
        candidate["index"] = index
        candidates.append(candidate)
    return {
        "candidates": candidates,
        "usageMetadata": usage(reply) if finish else {"promptTokenCount": reply.usage.input_tokens,
                                                      "totalTokenCount": reply.usage.input_tokens},
        "modelVersion": request.model,
        "responseId": response_id,
    }


def finish_reason(neutral: str) -> str:
    return FINISH_REASONS.get(neutral) or neutral.upper()


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    # The engine's output tokens include the thoughts; Gemini counts them apart from the candidates.
    thoughts = reasoning_tokens(reply, "gemini.generate")
    candidates = max(0, u.output_tokens - thoughts)
    out: dict[str, Any] = {
        "promptTokenCount": u.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": u.input_tokens + candidates + thoughts,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if u.cached_tokens:
        out["cachedContentTokenCount"] = u.cached_tokens
    return out


# --------------------------------------------------------------------------- embedContent, batchEmbedContents

MAX_BATCH = 100


@dataclass(slots=True)
class EmbedRequest(Request):
    """An embedding call: one message per input, with each input's outputDimensionality (None: the model's)."""

    dimensions: list[int | None] = dc_field(default_factory=list)


class GeminiEmbed:
    """embedContent (`batch=False`) and batchEmbedContents: deterministic unit vectors, or a rule's `embedding`.

    `catalog` returns the active model catalogue, which sizes vectors when the
    request gives no `outputDimensionality`.
    """

    api = "gemini.embed"
    request_id_header = "x-request-id"

    def __init__(self, batch: bool, catalog: Any):
        self.batch = batch
        self.catalog = catalog

    def _requests(self, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(where, EmbedContentRequest) pairs: the body itself, or each of its `requests`."""
        if not self.batch:
            return [("", body)]
        raw = _expect(body.get("requests"), list, "requests", "an array of EmbedContentRequest objects")
        if not raw:
            raise InvalidRequest("* BatchEmbedContentsRequest.requests: requests must not be empty.", param="requests")
        if len(raw) > MAX_BATCH:
            raise InvalidRequest(f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can be in one "
                                 f"batch, got {len(raw)}.", param="requests")
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise InvalidRequest(f"Invalid value at 'requests[{i}]': expected an EmbedContentRequest object, "
                                     f"got {_kind(item)}", param=f"requests[{i}]")
            out.append((f"requests[{i}].", item))
        return out

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = model_from_path(params)
        messages, dimensions = [], []
        for where, item in self._requests(body):
            named = item.get("model")
            if self.batch and named is not None and named not in (model, "models/" + model):
                raise InvalidRequest(f"* BatchEmbedContentsRequest.{where}model: the model of every request must be "
                                     f"the model in the URL (models/{model}), got {named!r}.", param=f"{where}model")
            if item.get("content") is None:
                raise InvalidRequest(f"* EmbedContentRequest.{where}content: content is required.",
                                     param=f"{where}content")
            message = parse_content(item["content"], f"{where}content")
            dims = _expect(get(item, "outputDimensionality"), int, f"{where}outputDimensionality", "an integer")
            if dims is not None and not 1 <= dims <= 65_536:
                raise InvalidRequest(f"* EmbedContentRequest.{where}output_dimensionality: must be positive, got {dims}.",
                                     param=f"{where}outputDimensionality")
            messages.append(Message(role="user", text=message.text))
            dimensions.append(dims)
        return EmbedRequest(api=self.api, model=model, messages=messages, headers=headers, body=body, path=path,
                            generates_text=False, dimensions=dimensions)

    def _vectors(self, reply: Reply, request: Request) -> list[list[float]]:
        from ...engine.vectors import embed, rule_vectors

        assert isinstance(request, EmbedRequest)
        fixed = reply.embedding
        if fixed:
            return rule_vectors(fixed, len(request.messages))
        default = self.catalog().embedding_dimensions(request.model)
        return [embed(m.text, dims or default) for m, dims in zip(request.messages, request.dimensions, strict=True)]

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        vectors = self._vectors(reply, request)
        if self.batch:
            return dumps({"embeddings": [{"values": v} for v in vectors]})
        return dumps({"embedding": {"values": vectors[0]}})

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        return [self.render(reply, request, response_id)]  # never streamed

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)
