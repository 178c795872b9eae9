"""Bedrock InvokeModel with an Anthropic Messages body: `POST /model/{modelId}/invoke` and
`/invoke-with-response-stream`, as boto3 and the anthropic SDK's AnthropicBedrock send them.

The body is Anthropic's, less `model` (it is in the path) and `stream` (the path says it), plus
`anthropic_version` (any value). The Anthropic adapter parses and renders it; the stream's
events travel base64-encoded in `chunk` events of the AWS event-stream framing.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from ...model import ErrorInfo, Reply, Request
from ..anthropic.messages import AnthropicMessages
from ..base import InvalidRequest, dumps
from . import errors, eventstream

_DATA = b"\ndata: "
# A chunk's payload starts with the base64 of its Anthropic event, which starts with its type: the
# base64 of the whole 3-byte groups of `{"type":"content_block_delta"` is found in no other chunk.
_DELTA_PREFIX = b'{"type":"content_block_delta"'
_DELTA_MARKER = b'{"bytes":"' + base64.b64encode(_DELTA_PREFIX[:len(_DELTA_PREFIX) // 3 * 3])


def malformed(message: str) -> InvalidRequest:
    return InvalidRequest(f"Malformed input request: {message}, please reformat your input and try again.")


def chunk(anthropic_event: bytes) -> bytes:
    """One `chunk` event carrying an Anthropic stream event's JSON."""
    return eventstream.event("chunk", b'{"bytes":"' + base64.b64encode(anthropic_event) + b'"}')


class BedrockInvoke(errors.BedrockErrors):
    """InvokeModel (`streaming=False`) or InvokeModelWithResponseStream (`streaming=True`)."""

    api = "bedrock.invoke"
    request_id_header = "x-amzn-requestid"
    stream_exceptions = errors.INVOKE_STREAM_EXCEPTIONS
    tool_call_id_prefix = "toolu_bdrk_"
    content_event_markers = (_DELTA_MARKER,)

    def __init__(self, streaming: bool = False):
        self.streaming = streaming
        self.stream_content_type = eventstream.CONTENT_TYPE
        self._messages = AnthropicMessages()

    def parse(self, body: dict[str, Any], headers: dict[str, str], path: str, params: dict[str, str]) -> Request:
        if not isinstance(body.get("anthropic_version"), str):
            raise malformed("#: required key [anthropic_version] not found")
        for key in ("model", "stream"):
            if key in body:
                raise malformed(f"#: extraneous key [{key}] is not permitted")
        request = self._messages.parse({**body, "model": params["model_id"]}, headers, path, params)
        request.api = self.api
        request.body = body
        request.stream = self.streaming
        return request

    def render(self, reply: Reply, request: Request, response_id: str) -> bytes:
        return self._messages.render(reply, request, response_id)

    def render_stream(self, reply: Reply, request: Request, response_id: str) -> list[bytes]:
        events = []
        for sse in self._messages.render_stream(reply, request, response_id):
            name, _, data = sse.partition(_DATA)
            if name == b"event: ping":
                continue  # Bedrock sends no pings
            data = data.rstrip(b"\n")
            if name == b"event: message_stop":
                data = dumps({**orjson.loads(data), "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": reply.usage.input_tokens, "outputTokenCount": reply.usage.output_tokens,
                    "invocationLatency": 0, "firstByteLatency": 0}})
            events.append(chunk(data))
        return events


    def token_limit_error(self, request: Request, overrun: Any) -> ErrorInfo:
        """Claude's own 400 over its declared limits, as Bedrock passes it on."""
        return self._messages.token_limit_error(request, overrun)
