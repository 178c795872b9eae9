"""Context windows: whether a request fits the token limits its model declares in `models:`.

The real APIs refuse an oversized request before generating anything, each with its own 400.
The engine finds the overrun (provider-neutral); the adapter words it in its provider's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..model import ErrorInfo, Request

# What an overrun is about.
OUTPUT = "output"  # the requested output is above the model's max_output_tokens
CONTEXT = "context"  # the prompt plus the requested output is above its context_window


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """A model's declared limits (either may be None: not enforced)."""

    context_window: int | None
    max_output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Overrun:
    """Why a request does not fit its model, with the numbers a provider's message names."""

    kind: str  # OUTPUT or CONTEXT
    model: str
    prompt_tokens: int
    requested_output: int  # the request's max_tokens (or its provider's name for it); 0 when it gives none
    limit: int  # the max_output_tokens or context_window exceeded

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.requested_output

    def __str__(self) -> str:
        """The journal's note: what fakellm counted, in the same words for every provider."""
        if self.kind == OUTPUT:
            return (f"refused before any rule was tried: the request asks for up to {self.requested_output} output "
                    f"tokens, above {self.model}'s max_output_tokens ({self.limit})")
        return (f"refused before any rule was tried: {self.prompt_tokens} prompt tokens + {self.requested_output} "
                f"requested output = {self.total} tokens, above {self.model}'s context_window ({self.limit})")


class LimitWording(Protocol):
    """An adapter whose API enforces context windows (an optional adapter hook)."""

    def token_limit_error(self, request: Request, overrun: Overrun) -> ErrorInfo | None:
        """The provider's 400 for this overrun, or None when the provider lets the request through."""


def find_overrun(model: str, prompt_tokens: int, requested_output: int | None, limits: ModelLimits) -> Overrun | None:
    """The first limit the request breaks, as the real APIs check them: the requested output first
    (it is a check of one parameter), then the whole window."""
    requested = requested_output or 0
    if limits.max_output_tokens is not None and requested > limits.max_output_tokens:
        return Overrun(OUTPUT, model, prompt_tokens, requested, limits.max_output_tokens)
    if limits.context_window is not None and prompt_tokens + requested > limits.context_window:
        return Overrun(CONTEXT, model, prompt_tokens, requested, limits.context_window)
    return None
