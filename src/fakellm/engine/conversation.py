"""Which conversation a request belongs to: the id that scopes turns and rule counters.

fakellm 0.3.5's rule: the `X-Fakellm-Conversation-Id` header, else a hash of the
first user message (so every turn of one conversation lands in the same place),
else a hash of the body.
"""

from __future__ import annotations

import hashlib
import json

from ..model import Request

CONVERSATION_HEADER = "x-fakellm-conversation-id"


def conversation_id_for(request: Request) -> str:
    explicit = request.headers.get(CONVERSATION_HEADER)
    if explicit:
        return explicit
    if request.conversation_id:  # the API names it (a Responses chain)
        return request.conversation_id
    for message in request.messages:
        # A user message, not one made only of tool results (Message.is_tool_result, inlined).
        if message.role == "user" and (message.text or not message.tool_results):
            return "conv-" + hashlib.sha256(message.text.encode()).hexdigest()[:12]
    serialized = json.dumps(request.body, sort_keys=True, default=str)
    return "anon-" + hashlib.sha256(serialized.encode()).hexdigest()[:12]
