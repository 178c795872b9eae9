"""OpenAI's 400s for a request over its model's context window or output limit (engine/limits.py),
worded as the real API words them for chat, legacy completions and Responses."""

from __future__ import annotations

from ...engine.limits import OUTPUT, Overrun
from ...model import ErrorInfo, Request

CONTEXT_CODE = "context_length_exceeded"


def output_too_large(key: str, overrun: Overrun, noun: str = "completion") -> ErrorInfo:
    """The requested output (`key`, as the request named it) is above what the model can write."""
    n = overrun.requested_output
    return ErrorInfo(f"{key} is too large: {n}. This model supports at most {overrun.limit} {noun} tokens, "
                     f"whereas you provided {n}.", type="invalid_request_error", code="invalid_value", param=key)


def chat_error(request: Request, overrun: Overrun) -> ErrorInfo:
    """Chat Completions: the completion is counted when the request gives max_(completion_)tokens."""
    key = "max_completion_tokens" if "max_completion_tokens" in request.body else "max_tokens"
    if overrun.kind == OUTPUT:
        return output_too_large(key, overrun)
    window = f"This model's maximum context length is {overrun.limit} tokens."
    if request.max_tokens is None:
        message = (f"{window} However, your messages resulted in {overrun.prompt_tokens} tokens. "
                   f"Please reduce the length of the messages.")
    else:
        message = (f"{window} However, you requested {overrun.total} tokens ({overrun.prompt_tokens} in the messages, "
                   f"{overrun.requested_output} in the completion). Please reduce the length of the messages or "
                   f"completion.")
    return ErrorInfo(message, type="invalid_request_error", code=CONTEXT_CODE, param="messages")


def completions_error(request: Request, overrun: Overrun) -> ErrorInfo:
    """Legacy completions: the older sentence, which always names the completion."""
    if overrun.kind == OUTPUT:
        return output_too_large("max_tokens", overrun)
    message = (f"This model's maximum context length is {overrun.limit} tokens, however you requested "
               f"{overrun.total} tokens ({overrun.prompt_tokens} in your prompt; {overrun.requested_output} for the "
               f"completion). Please reduce your prompt; or completion length.")
    return ErrorInfo(message, type="invalid_request_error", code=CONTEXT_CODE, param="prompt")


def responses_error(request: Request, overrun: Overrun) -> ErrorInfo:
    """Responses: a sentence without numbers, about `input`."""
    if overrun.kind == OUTPUT:
        return output_too_large("max_output_tokens", overrun, "output")
    return ErrorInfo("Your input exceeds the context window of this model. Please adjust your input and try again.",
                     type="invalid_request_error", code=CONTEXT_CODE, param="input")
