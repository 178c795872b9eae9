"""Anthropic POST /v1/messages/count_tokens (wire.md §6).

The count is the `usage.input_tokens` a Messages call with the same body would
report: the body is parsed as for a call and counted by the engine's rule.
"""

from __future__ import annotations

from ...engine.engine import input_tokens
from ...model import Request
from ..base import Call, dumps
from .messages import AnthropicMessages, parse_body


def count_tokens(call: Call) -> tuple[int, bytes]:
    model, messages, tools, thinking = parse_body(call.body, need_max_tokens=False)
    request = Request(api=AnthropicMessages.api, model=model, messages=messages, headers=call.headers,
                      body=call.body, path=call.path, tools=tools, thinking=thinking)
    return 200, dumps({"input_tokens": input_tokens(request)})
