"""Ollama's native API: POST /api/chat, /api/generate, /api/embed (and the legacy /api/embeddings).

Ollama streams by default: newline-delimited JSON objects, each carrying the
new text, and a last one with `done: true`, `done_reason` and the counts.
`"stream": false` gives that last object alone, with the whole text. Errors
are `{"error": "message"}` with the HTTP status.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, ErrorInfo, Message, OutputFormat, Reply, Request, ToolCall
from ..base import InvalidRequest, arguments_object, arguments_text, dumps, text_pieces

if TYPE_CHECKING:
    from ...traffic.delivery import Answered

NDJSON = b"application/x-ndjson"

ROLES = frozenset({"system", "user", "assistant", "tool"})

DONE_REASONS = {
    STOP: "stop",
    STOP_SEQUENCE: "stop",
    TOOL_CALLS: "stop",  # Ollama finishes a tool-calling turn with "stop"
    LENGTH: "length",
    "end_turn": "stop",
    "tool_use": "stop",
    "max_tokens": "length",
}

# Fake but plausible timings (nanoseconds), derived from the token counts so they are deterministic.
LOAD_NS = 1_000_000
PROMPT_NS_PER_TOKEN = 100_000
EVAL_NS_PER_TOKEN = 1_000_000


def error_body(status: int, error: ErrorInfo) -> bytes:
    return dumps({"error": error.message})


def stream_error_line(status: int, error: ErrorInfo) -> bytes:
    """A mid-stream error: the official client raises ResponseError when it reads it."""
    return dumps({"error": error.message}) + b"\n"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _go_type(value: Any) -> str:
    """How Go's JSON decoder names a value of the wrong type, as Ollama's errors do."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _expect(body: dict[str, Any], key: str, kind: type | tuple[type, ...], go: str, where: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise InvalidRequest(f"json: cannot unmarshal {_go_type(value)} into Go struct field {where}.{key} of type {go}")
    return value


def _model(body: dict[str, Any], where: str) -> str:
    model = _expect(body, "model", str, "string", where)
    if not model:
        raise InvalidRequest("model is required")
    return model


def _options(body: dict[str, Any], where: str) -> tuple[int | None, list[str]]:
    """options.num_predict (negative: no limit) and options.stop."""
    options = _expect(body, "options", dict, "map[string]interface {}", where) or {}
    num_predict = options.get("num_predict")
    if num_predict is not None and (isinstance(num_predict, bool) or not isinstance(num_predict, int)):
        raise InvalidRequest(f"option \"num_predict\" must be of type integer, got {_go_type(num_predict)}")
    stop = options.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise InvalidRequest("option \"stop\" must be of type array of strings")
    return (num_predict if num_predict is not None and num_predict > 0 else None), stop or []


def output_format(body: dict[str, Any], where: str) -> OutputFormat | None:
    """`format`: "json" (any JSON) or a JSON schema; Ollama keeps to it, so it counts as strict."""
    value = body.get("format")
    if value is None or value == "":
        return None
    if value == "json":
        return OutputFormat(None)
    if isinstance(value, dict):
        return OutputFormat(value, "", True)
    raise InvalidRequest(f"invalid format: {value!r}: expected \"json\" or a JSON schema ({where}.format)")


def _thinking(body: dict[str, Any], where: str) -> bool:
    think = _expect(body, "think", (bool, str), "bool or string", where)
    if isinstance(think, str) and think not in ("high", "medium", "low"):
        raise InvalidRequest(f"invalid think value: {think!r} (must be \"high\", \"medium\", \"low\", true, or false)")
    return bool(think)


def _arguments(raw: Any, where: str) -> str:
    if isinstance(raw, dict):
        return arguments_text(raw)
    if isinstance(raw, str):  # tolerated: JSON text of an object, as some clients send
        try:
            if isinstance(json.loads(raw), dict):
                return raw
        except ValueError:
            pass
    raise InvalidRequest(f"json: cannot unmarshal {_go_type(raw)} into Go struct field {where}.arguments of type "
                         f"api.ToolCallFunctionArguments")


def parse_message(raw: Any, i: int) -> Message:
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"json: cannot unmarshal {_go_type(raw)} into Go struct field ChatRequest.messages of "
                             f"type api.Message")
    role = _expect(raw, "role", str, "string", "Message.messages")
    if role not in ROLES:
        raise InvalidRequest(f"invalid role {role!r} in {where}: use system, user, assistant or tool")
    content = _expect(raw, "content", str, "string", "Message") or ""
    if role == "tool":
        return Message(role="tool", tool_results=[content])
    calls = []
    for j, call in enumerate(_expect(raw, "tool_calls", list, "[]api.ToolCall", "Message") or ()):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequest(f"{where}.tool_calls[{j}].function.name is required")
        calls.append(ToolCall(name=fn["name"], arguments=_arguments(fn.get("arguments", {}), "ToolCallFunction"),
                              id=str(call.get("id") or "")))
    return Message(role=role, text=content, tool_calls=calls)


def _counts(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    prompt_ns = u.input_tokens * PROMPT_NS_PER_TOKEN
    eval_ns = max(1, u.output_tokens) * EVAL_NS_PER_TOKEN
    return {
        "total_duration": LOAD_NS + prompt_ns + eval_ns,
        "load_duration": LOAD_NS,
        "prompt_eval_count": u.input_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": u.output_tokens,
        "eval_duration": eval_ns,
    }


def done_reason(neutral: str) -> str:
    return DONE_REASONS.get(neutral, neutral)


class _Streaming:
    """What the chat and generate adapters share: NDJSON streams and Ollama's error shape."""

    request_id_header = "x-request-id"
    stream_content_type = NDJSON

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)

    def render_stream_error(self, status: int, error: ErrorInfo, answered: Answered) -> bytes:
        return stream_error_line(status, error)

    def _final(self, reply: Reply, request: Request, created: str, **fields: Any) -> dict[str, Any]:
        return {"model": request.model, "created_at": created, **fields, "done": True,
                "done_reason": done_reason(reply.finish_reason), **_counts(reply)}


class OllamaChat(_Streaming):
    api = "ollama.chat"

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = _model(body, "ChatRequest")
        raw_messages = _expect(body, "messages", list, "[]api.Message", "ChatRequest") or []
        messages = [parse_message(m, i) for i, m in enumerate(raw_messages)]
        tools = []
        schemas: dict[str, Any] = {}
        for i, tool in enumerate(_expect(body, "tools", list, "api.Tools", "ChatRequest") or ()):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise InvalidRequest(f"tools[{i}].function.name is required")
            tools.append(fn["name"])
            parameters = fn.get("parameters")
            schemas[fn["name"]] = parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}
        stream = _expect(body, "stream", bool, "bool", "ChatRequest")
        max_tokens, stop = _options(body, "ChatRequest")
        return Request(api=self.api, model=model, messages=messages, headers=headers, body=body, path=path,
                       tools=tools, stream=stream is not False, max_tokens=max_tokens, stop=stop,
                       thinking=_thinking(body, "ChatRequest"), output=output_format(body, "ChatRequest"),
                       tool_schemas=schemas or None)

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or ""}
        if reply.thinking:
            message["thinking"] = reply.thinking
        if reply.tool_calls:
            message["tool_calls"] = _tool_calls(reply)
        return dumps(self._final(reply, request, now(), message=message))

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        created = now()
        head = {"model": request.model, "created_at": created}
        lines = []
        for piece in text_pieces(reply, reply.thinking or ""):
            lines.append(dumps({**head, "message": {"role": "assistant", "content": "", "thinking": piece},
                                "done": False}) + b"\n")
        for piece in text_pieces(reply, reply.content or ""):
            lines.append(dumps({**head, "message": {"role": "assistant", "content": piece}, "done": False}) + b"\n")
        if reply.tool_calls:
            lines.append(dumps({**head, "message": {"role": "assistant", "content": "",
                                                    "tool_calls": _tool_calls(reply)}, "done": False}) + b"\n")
        lines.append(dumps(self._final(reply, request, created, message={"role": "assistant", "content": ""})) + b"\n")
        return lines


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    out = []
    for call in reply.tool_calls:
        out.append({"function": {"name": call.name, "arguments": arguments_object(call.arguments)}})
    return out


class OllamaGenerate(_Streaming):
    api = "ollama.generate"

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = _model(body, "GenerateRequest")
        prompt = _expect(body, "prompt", str, "string", "GenerateRequest") or ""
        system = _expect(body, "system", str, "string", "GenerateRequest")
        _expect(body, "suffix", str, "string", "GenerateRequest")
        _expect(body, "context", list, "[]int", "GenerateRequest")
        _expect(body, "images", list, "[]api.ImageData", "GenerateRequest")
        stream = _expect(body, "stream", bool, "bool", "GenerateRequest")
        max_tokens, stop = _options(body, "GenerateRequest")
        messages = [Message(role="system", text=system)] if system else []
        messages.append(Message(role="user", text=prompt))
        return Request(api=self.api, model=model, messages=messages, headers=headers, body=body, path=path,
                       output=output_format(body, "GenerateRequest"),
                       stream=stream is not False, max_tokens=max_tokens, stop=stop,
                       thinking=_thinking(body, "GenerateRequest"))

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        fields: dict[str, Any] = {"response": reply.content or ""}
        if reply.thinking:
            fields["thinking"] = reply.thinking
        return dumps(self._final(reply, request, now(), **fields))

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        created = now()
        head = {"model": request.model, "created_at": created}
        lines = [dumps({**head, "response": "", "thinking": piece, "done": False}) + b"\n"
                 for piece in text_pieces(reply, reply.thinking or "")]
        lines += [dumps({**head, "response": piece, "done": False}) + b"\n"
                  for piece in text_pieces(reply, reply.content or "")]
        lines.append(dumps(self._final(reply, request, created, response="")) + b"\n")
        return lines


# Bounds on one embed request, like OpenAI's (2,048 inputs) and the largest embedding models' sizes:
# past them a request would build hundreds of megabytes.
MAX_EMBED_INPUTS = 2048
MAX_EMBED_DIMENSIONS = 8192


class OllamaEmbed:
    """POST /api/embed (`input`: a string or a list) and the legacy /api/embeddings (`prompt`)."""

    request_id_header = "x-request-id"
    api = "ollama.embed"

    def __init__(self, catalog: Any, legacy: bool = False):
        self.catalog = catalog
        self.legacy = legacy

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = _model(body, "EmbedRequest")
        if self.legacy:
            texts = [_expect(body, "prompt", str, "string", "EmbeddingRequest") or ""]
        else:
            raw = body.get("input")
            if isinstance(raw, str):
                texts = [raw]
            elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
                texts = raw
            elif raw is None:
                texts = []
            else:
                raise InvalidRequest(f"invalid input type: {_go_type(raw)} (use a string or an array of strings)")
            if len(texts) > MAX_EMBED_INPUTS:
                raise InvalidRequest(f"too many inputs: at most {MAX_EMBED_INPUTS} per request, got {len(texts)}")
            dims = _expect(body, "dimensions", int, "int", "EmbedRequest")
            if dims is not None and not 1 <= dims <= MAX_EMBED_DIMENSIONS:
                raise InvalidRequest(f"dimensions must be between 1 and {MAX_EMBED_DIMENSIONS}, got {dims}")
        return Request(api=self.api, model=model, messages=[Message(role="user", text=t) for t in texts],
                       headers=headers, body=body, path=path, generates_text=False)

    def _vectors(self, reply: Reply, request: Request) -> list[list[float]]:
        from ...engine.vectors import embed, rule_vectors

        fixed = reply.embedding
        if fixed:
            return rule_vectors(fixed, len(request.messages))
        dims = request.body.get("dimensions") or self.catalog().embedding_dimensions(request.model)
        return [embed(m.text, dims) for m in request.messages]

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        vectors = self._vectors(reply, request)
        if self.legacy:
            return dumps({"embedding": vectors[0] if vectors else []})
        return dumps({"model": request.model, "embeddings": vectors, "total_duration": LOAD_NS,
                      "load_duration": LOAD_NS // 2, "prompt_eval_count": reply.usage.input_tokens})

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        return [self.render(reply, request, response_id)]

    def render_error(self, status: int, error: ErrorInfo, request_id: str) -> bytes:
        return error_body(status, error)


def model_entry(model_id: str, created: str) -> dict[str, Any]:
    """A model as `GET /api/tags` lists it."""
    name = model_id if ":" in model_id else model_id + ":latest"
    family = model_id.split(":")[0].split("-")[0].split(".")[0] or model_id
    return {
        "name": name,
        "model": name,
        "modified_at": created,
        "size": 1_000_000_000 + len(model_id),
        "digest": hashlib.sha256(model_id.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "7B",
            "quantization_level": "Q4_K_M",
        },
    }
