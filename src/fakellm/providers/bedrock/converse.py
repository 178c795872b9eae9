"""Bedrock Converse: `POST /model/{modelId}/converse` and `/converse-stream` (botocore's
bedrock-runtime service model is the reference for fields, types and events)."""

from __future__ import annotations

import json
from typing import Any

from ...model import LENGTH, STOP, STOP_SEQUENCE, TOOL_CALLS, Message, Reply, Request, ToolCall, ToolChoice
from ..anthropic.messages import signature, thinking_config
from ..base import InvalidRequest, MessageParts, arguments_object, arguments_text, dumps, split_json, text_pieces
from . import errors, eventstream

STOP_REASONS = {
    STOP: "end_turn",
    LENGTH: "max_tokens",
    TOOL_CALLS: "tool_use",
    STOP_SEQUENCE: "stop_sequence",
    "content_filter": "content_filtered",
}

# Content block members that carry no text for the rules (media, caches, guardrails, citations).
_OTHER_BLOCKS = frozenset({"image", "document", "video", "audio", "guardContent", "cachePoint", "citationsContent",
                           "searchResult", "toolAddition", "toolRemoval"})
_TOOL_RESULT_BLOCKS = frozenset({"json", "text", "image", "document", "video", "searchResult"})


def invalid(where: str, constraint: str, value: Any = None) -> InvalidRequest:
    """A 400 worded as Bedrock's request validation words it."""
    shown = "" if value is None else f" '{value}'"
    return InvalidRequest(f"1 validation error detected: Value{shown} at '{where}' failed to satisfy constraint: "
                          f"{constraint}", param=where)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, "Member must be a structure")
    return value


def _optional_object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return {} if value is None else _object(value, key)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(where, "Member must be a list")
    return value


def _string(value: Any, where: str) -> str:
    if value is None:
        raise invalid(where, "Member must not be null")
    if not isinstance(value, str):
        raise invalid(where, "Member must be a string")
    return value


def _union(block: Any, where: str) -> tuple[str, Any]:
    """The one member a union (a content block, a tool, a tool choice) sets."""
    members = [key for key, value in _object(block, where).items() if value is not None]
    if len(members) != 1:
        raise invalid(where, "Member must have exactly one member set")
    return members[0], block[members[0]]


def _number(config: dict[str, Any], key: str, low: float, high: float | None, kind: type) -> Any:
    value = config.get(key)
    where = f"inferenceConfig.{key}"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise invalid(where, f"Member must be {'a number' if kind is float else 'an integer'}")
    if value < low:
        raise invalid(where, f"Member must have value greater than or equal to {low}", value)
    if high is not None and value > high:
        raise invalid(where, f"Member must have value less than or equal to {high}", value)
    return value


def _tool_result_text(block: dict[str, Any], where: str) -> str:
    texts = []
    for k, part in enumerate(_list(block.get("content"), f"{where}.content")):
        kind, value = _union(part, f"{where}.content.{k}.member")
        if kind not in _TOOL_RESULT_BLOCKS:
            raise invalid(f"{where}.content.{k}.member", f"Member must be one of {sorted(_TOOL_RESULT_BLOCKS)}")
        if kind == "text":
            texts.append(_string(value, f"{where}.content.{k}.member.text"))
        elif kind == "json":
            texts.append(json.dumps(value, ensure_ascii=False))
    return " ".join(texts)


def parse_messages(raw_messages: Any) -> tuple[list[Message], bool]:
    """The conversation, and whether it holds toolUse or toolResult blocks (those need a toolConfig)."""
    if raw_messages is None:
        raise invalid("messages", "Member must not be null")
    out: list[Message] = []
    uses_tools = False
    for i, raw in enumerate(_list(raw_messages, "messages")):
        where = f"messages.{i}.member"
        role = _object(raw, where).get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"{where}.role", "Member must satisfy enum value set: [user, assistant]", role)
        if (role == "user") != (i % 2 == 0):
            raise InvalidRequest("A conversation must start with a user message. Try again with a conversation that "
                                 "starts with a user message." if i == 0 else
                                 "A conversation must alternate between user and assistant roles. Make sure the "
                                 "conversation alternates between user and assistant roles and try again.",
                                 param="messages")
        content = raw.get("content")
        if content is None:
            raise invalid(f"{where}.content", "Member must not be null")
        parts = MessageParts()
        for j, block in enumerate(_list(content, f"{where}.content")):
            here = f"{where}.content.{j}.member"
            kind, value = _union(block, here)
            if kind == "text":
                parts.texts.append(_string(value, f"{here}.text"))
            elif kind == "toolUse":
                use = _object(value, f"{here}.toolUse")
                name = _string(use.get("name"), f"{here}.toolUse.name")
                _string(use.get("toolUseId"), f"{here}.toolUse.toolUseId")
                if "input" not in use:
                    raise invalid(f"{here}.toolUse.input", "Member must not be null")
                parts.calls.append(ToolCall(name, arguments_text(use["input"]), use["toolUseId"]))
                uses_tools = True
            elif kind == "toolResult":
                result = _object(value, f"{here}.toolResult")
                _string(result.get("toolUseId"), f"{here}.toolResult.toolUseId")
                parts.results.append(_tool_result_text(result, f"{here}.toolResult"))
                uses_tools = True
            elif kind == "reasoningContent":
                _object(value, f"{here}.reasoningContent")
            elif kind not in _OTHER_BLOCKS:
                raise invalid(here, f"Member must not set the unknown member '{kind}'")
            else:
                _object(value, f"{here}.{kind}")
        out.append(parts.message(role))
    if not out:
        raise InvalidRequest("A conversation must start with a user message. Try again with a conversation that "
                             "starts with a user message.", param="messages")
    return out, uses_tools


def system_text(system: Any) -> str:
    texts = []
    for i, block in enumerate(_list(system, "system")):
        kind, value = _union(block, f"system.{i}.member")
        if kind == "text":
            if not _string(value, f"system.{i}.member.text"):
                raise invalid(f"system.{i}.member.text", "Member must have length greater than or equal to 1")
            texts.append(value)
        elif kind not in ("guardContent", "cachePoint"):
            raise invalid(f"system.{i}.member", f"Member must not set the unknown member '{kind}'")
    return " ".join(texts)


def tool_config(config: Any) -> tuple[dict[str, Any], ToolChoice | None]:
    """Each toolSpec's JSON schema by name, and the tool choice (None: auto)."""
    config = _object(config, "toolConfig")
    tools = config.get("tools")
    if tools is None:
        raise invalid("toolConfig.tools", "Member must not be null")
    if not _list(tools, "toolConfig.tools"):
        raise invalid("toolConfig.tools", "Member must have length greater than or equal to 1")
    schemas: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        where = f"toolConfig.tools.{i}.member"
        kind, value = _union(tool, where)
        if kind != "toolSpec":
            continue  # cachePoint, systemTool
        spec = _object(value, f"{where}.toolSpec")
        name = _string(spec.get("name"), f"{where}.toolSpec.name")
        if not 1 <= len(name) <= 64 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
            raise invalid(f"{where}.toolSpec.name", "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ "
                          "and have length between 1 and 64", name)
        if spec.get("inputSchema") is None:
            raise invalid(f"{where}.toolSpec.inputSchema", "Member must not be null")
        schema_kind, schema = _union(spec["inputSchema"], f"{where}.toolSpec.inputSchema")
        if schema_kind != "json" or not isinstance(schema, dict):
            raise invalid(f"{where}.toolSpec.inputSchema.json", "Member must be a JSON object")
        schemas[name] = schema
    choice = config.get("toolChoice")
    if choice is None:
        return schemas, None
    kind, value = _union(choice, "toolConfig.toolChoice")
    if kind == "auto":
        return schemas, None
    if kind == "any":
        return schemas, ToolChoice("any")
    if kind != "tool":
        raise invalid("toolConfig.toolChoice", "Member must be one of auto, any, tool")
    name = _string(_object(value, "toolConfig.toolChoice.tool").get("name"), "toolConfig.toolChoice.tool.name")
    if name not in schemas:
        raise InvalidRequest(f"The tool {name} in toolChoice is not among the tools in toolConfig.",
                             param="toolConfig.toolChoice.tool.name")
    return schemas, ToolChoice("tool", name)


def usage(reply: Reply) -> dict[str, Any]:
    u = reply.usage
    out = {"inputTokens": u.input_tokens, "outputTokens": u.output_tokens, "totalTokens": u.total_tokens}
    if u.cached_tokens:
        out["cacheReadInputTokens"] = u.cached_tokens
    if u.cache_creation_input_tokens:
        out["cacheWriteInputTokens"] = u.cache_creation_input_tokens
    return out


class BedrockConverse(errors.BedrockErrors):
    """Converse (`streaming=False`) or ConverseStream (`streaming=True`): the stream comes from the path."""

    api = "bedrock.converse"
    request_id_header = "x-amzn-requestid"
    stream_exceptions = errors.CONVERSE_STREAM_EXCEPTIONS
    tool_call_id_prefix = "tooluse_"
    stream_content_type = eventstream.CONTENT_TYPE
    # Each contentBlockDelta event carries generated content: the delivery layer's chunks.
    content_event_markers = (eventstream.event_type_header("contentBlockDelta"),)

    def __init__(self, streaming: bool = False):
        self.streaming = streaming

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        model = params["model_id"]
        messages, uses_tools = parse_messages(body.get("messages"))
        if body.get("system") is not None:
            system = system_text(body["system"])
            if system:
                messages.insert(0, Message(role="system", text=system))
        config = _optional_object(body, "inferenceConfig")
        max_tokens = _number(config, "maxTokens", 1, None, int)
        _number(config, "temperature", 0, 1, float)
        _number(config, "topP", 0, 1, float)
        stop = config.get("stopSequences")
        stop = [] if stop is None else _list(stop, "inferenceConfig.stopSequences")
        for k, sequence in enumerate(stop):
            if not _string(sequence, f"inferenceConfig.stopSequences.{k}.member"):
                raise invalid(f"inferenceConfig.stopSequences.{k}.member",
                              "Member must have length greater than or equal to 1")
        extra = _optional_object(body, "additionalModelRequestFields")
        thinking = thinking_config(extra["thinking"]) if "thinking" in extra else False
        schemas, choice = tool_config(body["toolConfig"]) if body.get("toolConfig") is not None else (None, None)
        if uses_tools and schemas is None:
            raise InvalidRequest("The toolConfig field must be defined when using toolUse and toolResult content "
                                 "blocks.", param="toolConfig")
        request = Request(self.api, model, messages, headers, body, path, list(schemas or ()), self.streaming,
                          max_tokens, stop, 1, thinking)
        request.tool_schemas = schemas
        request.tool_choice = choice
        return request

    # -- rendering

    def _blocks(self, reply: Reply, response_id: str) -> list[tuple[str, ToolCall]]:
        return [(c.id or f"tooluse_{response_id}{k}", c) for k, c in enumerate(reply.tool_calls)]

    @staticmethod
    def _has_text(reply: Reply) -> bool:
        # A rule that gives only tool calls gets no (echo or empty) text block.
        return reply.content is not None and (reply.content != "" or not reply.tool_calls)

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append({"reasoningContent": {"reasoningText": {"text": reply.thinking,
                                                                   "signature": signature(reply.thinking)}}})
        if self._has_text(reply):
            content.append({"text": reply.content})
        for tool_id, call in self._blocks(reply, response_id):
            content.append({"toolUse": {"toolUseId": tool_id, "name": call.name,
                                        "input": arguments_object(call.arguments)}})
        return dumps({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
            "usage": usage(reply),
            "metrics": {"latencyMs": 0},
        })

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        event = eventstream.event
        events = [event("messageStart", b'{"role":"assistant"}')]
        index = 0

        def block(deltas: list[dict[str, Any]], start: dict[str, Any] | None = None) -> None:
            nonlocal index
            if start is not None:  # tool use only: botocore refuses a text block's empty start
                events.append(event("contentBlockStart", dumps({"start": start, "contentBlockIndex": index})))
            for delta in deltas:
                events.append(event("contentBlockDelta", dumps({"delta": delta, "contentBlockIndex": index})))
            events.append(event("contentBlockStop", dumps({"contentBlockIndex": index})))
            index += 1

        if reply.thinking is not None:
            block([{"reasoningContent": {"text": p}} for p in text_pieces(reply, reply.thinking)]
                  + [{"reasoningContent": {"signature": signature(reply.thinking)}}])
        if self._has_text(reply):
            block([{"text": p} for p in text_pieces(reply, reply.content or "") or [""]])
        for tool_id, call in self._blocks(reply, response_id):
            text = json.dumps(arguments_object(call.arguments))
            block([{"toolUse": {"input": p}} for p in split_json(text)],
                  {"toolUse": {"toolUseId": tool_id, "name": call.name}})
        events.append(event("messageStop", dumps({"stopReason": STOP_REASONS.get(reply.finish_reason,
                                                                                   reply.finish_reason)})))
        events.append(event("metadata", dumps({"usage": usage(reply), "metrics": {"latencyMs": 0}})))
        return events

