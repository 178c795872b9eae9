"""One recorded exchange: the request as fakellm's adapter parsed it, and what the upstream answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Request
from .assembly import Assembled


@dataclass
class Exchange:
    request: Request
    answer: Assembled
    streamed: bool
    # Recorded timing, in rule keys: ttft_ms and chunk_delay_ms for a stream, delay_ms for a body.
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def turn(self) -> int:
        """The turn the engine will give the request: 1 + the assistant messages that are not tool results."""
        return 1 + sum(1 for m in self.request.messages if m.role == "assistant" and not m.tool_results)

    @property
    def newest(self) -> tuple[str, str]:
        """("tool_result" or "message", its text): the newest tool result or user message, what the
        request adds to the conversation."""
        for message in reversed(self.request.messages):
            if message.tool_results:
                return "tool_result", message.tool_results[-1]
            if message.role == "user":
                return "message", message.text
        return "message", ""

    @property
    def all_text(self) -> str:
        """What `messages_contain` searches, lower-cased."""
        return " ".join(" ".join([m.text, *m.tool_results]) for m in self.request.messages).lower()

    @property
    def tool_results_text(self) -> list[str]:
        """What `tool_result_contains` searches, lower-cased."""
        return [t.lower() for m in self.request.messages for t in m.tool_results]
